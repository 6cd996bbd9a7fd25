"""The Spark job (examples/spark/build_snapshot.py) against `edgeseg build` on the same Parquet.

Spark in local mode writes 10^6 members as hive-partitioned Parquet (>= 8 part files, list,
string, numeric, boolean and timestamp columns). The job and the CLI build a sharded snapshot from
them with one fingerprint key, version and creation time. Then:
  - the heads and every shard are byte-for-byte identical;
  - 10^4 sample requests decide identically natively (the edge compiled for this machine) and in
    wasmtime (`edgeseg diff`: no request changes tier or segments);
  - a member file with a null id fails the job, and no head is written.
Throughput (members per second per core) of both is printed and written to
target/spark-test/throughput.json.

Needs: EDGESEG_CLI (the edgeseg binary), EDGESEG_DECIDE_NATIVE (host example decide_native),
EDGESEG_WASM (the module), the `edgeseg` wheel, pyspark and pyarrow in this Python, and Java 17.
Run: python -m unittest discover -s python/tests -v
"""

import json
import os
import shutil
import subprocess
import sys
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("EDGESEG_SPARK_WORK", ROOT / "target" / "spark-test"))
MEMBERS = int(os.environ.get("EDGESEG_SPARK_MEMBERS", "1000000"))
REQUESTS = 10_000
SHARDS = 16
VERSION = 9
CREATED_MS = 1_763_700_000_000
JOB = ROOT / "examples" / "spark" / "build_snapshot.py"


def env_path(name):
    value = os.environ.get(name)
    if not value or not Path(value).exists():
        raise RuntimeError(f"{name} must name an existing file (set by `cargo xtask test`)")
    return value


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


def definitions():
    defs = json.loads((ROOT / "snapshots" / "data" / "demo.json").read_text())
    defs["segments"] += [
        {"name": "winback", "purpose": "marketing", "members": {"precomputed": True}},
        {
            "name": "early-adopters",
            "purpose": "personalisation",
            "members": {"where": {"<": [{"var": "signup"}, 1_600_000_000_000]}},
        },
        {"name": "beta", "purpose": "contract", "members": {"where": {"==": [{"var": "beta"}, True]}}},
    ]
    return json.dumps(defs)


def write_members(spark, out, n, null_id_at=None):
    """n members as Spark writes Parquet: hive partitions by country, >= 8 part files."""
    from pyspark.sql import functions as F

    h = F.abs(F.xxhash64(F.col("n"), F.lit(7)))
    df = (
        spark.range(1, n + 1)
        .withColumnRenamed("id", "n")
        .withColumn("id", F.format_string("u%07d", F.col("n")))  # as `edgeseg sample` names members
        .withColumn(
            "plan",
            F.when(h % 100 < 5, "premium").when(h % 100 < 30, "standard").otherwise("free"),
        )
        .withColumn("ltv", (h % 100000) / 100.0)
        .withColumn("engagement", (h % 97).cast("int"))
        .withColumn("beta", (h % 13) == 0)
        .withColumn("signup", F.timestamp_millis(F.lit(1_500_000_000_000) + (h % 200_000_000_000)))
        .withColumn(
            "consents",
            F.filter(
                F.array(
                    F.when(h % 3 != 0, F.lit("personalisation")),
                    F.when(h % 5 < 2, F.lit("marketing")),
                    F.when(h % 7 != 0, F.lit("analytics")),
                ),
                lambda c: c.isNotNull(),
            ),
        )
        .withColumn(
            "segments",
            F.when(h % 11 == 0, F.array(F.lit("winback"))).otherwise(F.array().cast("array<string>")),
        )
        .withColumn(
            "country",
            F.element_at(F.array(*[F.lit(c) for c in ["US", "DE", "FR", "GB", "JP"]]), (h % 5 + 1).cast("int")),
        )
    )
    if null_id_at is not None:
        df = df.withColumn("id", F.when(F.col("n") == null_id_at, F.lit(None)).otherwise(F.col("id")))
    df.drop("n").repartition(8).write.mode("overwrite").partitionBy("country").parquet(str(out))


class SparkJob(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cli = env_path("EDGESEG_CLI")
        cls.decide_native = env_path("EDGESEG_DECIDE_NATIVE")
        cls.wasm = env_path("EDGESEG_WASM")
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[2]")
            .appName("edgeseg test data")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        cls.members = WORK / "members"
        write_members(spark, cls.members, MEMBERS)
        cls.hostile = WORK / "hostile"
        write_members(spark, cls.hostile, 2000, null_id_at=1234)
        spark.stop()
        cls.defs = WORK / "definitions.json"
        cls.defs.write_text(definitions())
        run([cls.cli, "keygen", "--fingerprint", "--out", WORK / "members"])
        cls.key = WORK / "members.fpkey"
        run([cls.cli, "sample", "--out-dir", WORK / "traffic", "--members", MEMBERS, "--requests", REQUESTS])
        cls.traffic = WORK / "traffic" / "traffic.jsonl"

        common = ["--snapshot-version", VERSION, "--created-ms", CREATED_MS, "--shards", SHARDS]
        t = time.monotonic()
        job = run(
            [sys.executable, JOB, "--master", "local[2]", "--definitions", cls.defs, "--members", cls.members,
             "--fingerprint-key", cls.key, "--out", WORK / "spark", "--name", "snapshot"] + common
        )
        cls.spark_seconds = time.monotonic() - t
        cls.spark_summary = json.loads(job.stdout.strip().splitlines()[-1])

        (WORK / "cli").mkdir()
        t = time.monotonic()
        run([cls.cli, "build", "--no-progress", "--definitions", cls.defs, "--members", cls.members,
             "--fingerprint-key", cls.key, "--out", WORK / "cli" / "snapshot.head"] + common)
        cls.cli_seconds = time.monotonic() - t

        throughput = {
            "members": MEMBERS,
            "cli": {"seconds": round(cls.cli_seconds, 2), "cores": 1,
                    "members_per_second_per_core": round(MEMBERS / cls.cli_seconds)},
            "spark_local": {"seconds": round(cls.spark_seconds, 2), "cores": cls.spark_summary["cores"],
                            "job_seconds": cls.spark_summary["seconds"],
                            "members_per_second_per_core": round(
                                MEMBERS / cls.spark_seconds / cls.spark_summary["cores"])},
            "output_bytes": cls.spark_summary["shard_bytes"]["total"] + cls.spark_summary["head_bytes"],
        }
        (WORK / "throughput.json").write_text(json.dumps(throughput, indent=2))
        print("\nthroughput:", json.dumps(throughput), file=sys.stderr)

    def test_input_is_spark_style(self):
        parts = list(self.members.rglob("part-*.parquet"))
        self.assertGreaterEqual(len(parts), 8)
        self.assertTrue((self.members / "_SUCCESS").exists())
        self.assertTrue(any(p.parent.name.startswith("country=") for p in parts))

    def test_job_and_cli_write_the_same_bytes(self):
        spark_dir, cli_dir = WORK / "spark", WORK / "cli"
        self.assertEqual((spark_dir / "snapshot.head").read_bytes(), (cli_dir / "snapshot.head").read_bytes())
        for i in range(SHARDS):
            name = f"snapshot.shard-{i:04x}"
            self.assertEqual((spark_dir / name).read_bytes(), (cli_dir / name).read_bytes(), name)
        self.assertEqual(self.spark_summary["members"], MEMBERS)
        self.assertEqual(self.spark_summary["shards"], SHARDS)

    def test_same_decisions_natively(self):
        a = run([self.decide_native, WORK / "spark" / "snapshot.head", self.traffic]).stdout.splitlines()
        b = run([self.decide_native, WORK / "cli" / "snapshot.head", self.traffic]).stdout.splitlines()
        self.assertEqual(len(a), REQUESTS)
        self.assertEqual(a, b)
        decisions = [json.loads(line) for line in a]
        identified = sum(d["identified"] for d in decisions)
        self.assertGreater(identified, REQUESTS // 2)
        # The precomputed and timestamp-rule segments are really matched.
        matched = {s for d in decisions for s in d["segments"]}
        self.assertTrue({"winback", "early-adopters", "premium"} <= matched, matched)

    def test_same_decisions_in_wasmtime(self):
        out = run([self.cli, "diff", "--module", self.wasm, "--no-progress", "--old", WORK / "cli" / "snapshot.head",
                   "--new", WORK / "spark" / "snapshot.head", "--traffic", self.traffic, "--json"]).stdout
        report = json.loads(out)
        self.assertEqual(report["requests"], REQUESTS)
        self.assertEqual(report["undecided"], 0)
        self.assertEqual(report["moved_requests"], 0, out[:2000])
        self.assertEqual([s for s in report["segments"] if s["gained"] or s["lost"]], [])
        self.assertEqual(report["throttle_changes"], {})
        self.assertEqual(report["cache_changes"], {})

    def test_a_null_id_fails_the_job_and_writes_no_head(self):
        out = WORK / "hostile-out"
        job = subprocess.run(
            [sys.executable, str(JOB), "--master", "local[2]", "--definitions", str(self.defs), "--members",
             str(self.hostile), "--fingerprint-key", str(self.key), "--out", str(out), "--shards", "4"],
            capture_output=True, text=True,
        )
        self.assertNotEqual(job.returncode, 0)
        self.assertIn("null", job.stderr.lower())
        self.assertFalse((out / "snapshot.head").exists())


if __name__ == "__main__":
    unittest.main(verbosity=2)
