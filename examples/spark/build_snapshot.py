"""Build a sharded edgeseg snapshot on Apache Spark.

Reads members from Parquet (a file, a part-file directory, hive partitions), and writes
`OUT/NAME.head` and `OUT/NAME.shard-XXXX` exactly as `edgeseg build --shards` would with the same
fingerprint key, version and creation time:

  1. count:     every partition validates and counts its members (mapInArrow); the driver merges
                the counts and fixes the layout (shard count, encodings, version, creation time);
  2. assign:    an Arrow UDF gives every member its shard (a keyed fingerprint of its id);
  3. build:     repartition by shard; each task builds the shards it holds and writes them
                (pyarrow.fs: a local path, HDFS or an object store URI), returning manifests;
  4. head:      the driver builds any shard that has no members, assembles the head from every
                manifest (which refuses a lost or doubled partition) and writes it;
  5. check:     every shard is checked against the head by a Spark task, with the edge's own
                validation.

Local:   python examples/spark/build_snapshot.py --master 'local[2]' --definitions D --members DIR \
             --fingerprint-key K.fpkey --out OUT
Cluster: spark-submit --master yarn examples/spark/build_snapshot.py --definitions D ...
         (the `edgeseg` wheel and pyarrow must be installed on every executor's Python, e.g.
         `pip install edgeseg-*.whl` in the image, or a packed venv with --archives).
"""

import argparse
import json
import os
import sys
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

import edgeseg

SHARD_COLUMN = "_edgeseg_shard"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--definitions", required=True, help="segment definitions (JSON)")
    p.add_argument("--members", required=True, help="Parquet file or directory (any URI Spark reads)")
    p.add_argument("--fingerprint-key", required=True, help="key file from `edgeseg keygen --fingerprint`")
    p.add_argument("--out", required=True, help="output directory (a path or a pyarrow.fs URI)")
    p.add_argument("--name", default="snapshot", help="head NAME.head, shards NAME.shard-XXXX")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--shards", type=int, help="exactly N shards (a power of two)")
    group.add_argument("--shard-bytes", type=int, help="largest shard about BYTES [4 MiB]")
    p.add_argument("--snapshot-version", type=int, help="[the definitions' version, else created-ms]")
    p.add_argument("--created-ms", type=int, help="creation time, ms since the epoch [now]")
    p.add_argument("--exact-form", default="compact", choices=["compact", "plain"])
    p.add_argument("--id-column", default="id")
    p.add_argument("--consents-column", default="consents")
    p.add_argument("--segments-column", default="segments")
    p.add_argument("--tcf-column", default="tcf")
    p.add_argument("--list-delimiter", default=";")
    p.add_argument("--overwrite", action="store_true", help="replace a build already in --out")
    p.add_argument("--master", help="Spark master when not run by spark-submit, e.g. local[2]")
    p.add_argument("--partitions", type=int, help="build tasks [min(shards, default parallelism x 2)]")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.functions import arrow_udf

    started = time.monotonic()
    # A build goes to its own directory: a job that fails half-way leaves shards but no head (no
    # host loads it), and must not leave new shards beside an older head.
    fs, base = pafs.FileSystem.from_uri(args.out if "://" in args.out else os.path.abspath(args.out))
    if fs.get_file_info(f"{base}/{args.name}.head").type != pafs.FileType.NotFound and not args.overwrite:
        raise SystemExit(f"{args.out}/{args.name}.head exists: write each build to a new directory, or --overwrite")
    with open(args.definitions, encoding="utf-8") as f:
        definitions = f.read()
    with open(args.fingerprint_key, encoding="utf-8") as f:
        key = f.read()
    columns = dict(
        id=args.id_column,
        consents=args.consents_column,
        segments=args.segments_column,
        tcf=args.tcf_column,
        delimiter=args.list_delimiter,
    )

    builder = SparkSession.builder.appName("edgeseg build_snapshot")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    sc = spark.sparkContext

    members = spark.read.parquet(args.members)

    # 1. count: each batch is validated and counted where it lies; the counts come to the driver.
    def count_partition(batches):
        total = None
        for batch in batches:
            counts = edgeseg.count(definitions, key, [batch], source="partition batch", **columns)
            total = counts if total is None else edgeseg.merge_counts([total, counts])
        if total is not None:
            yield pa.RecordBatch.from_pydict({"counts": [total]})

    partial = [r["counts"] for r in members.mapInArrow(count_partition, "counts string").collect()]
    counts = edgeseg.merge_counts(partial)
    layout = edgeseg.layout(
        definitions,
        key,
        counts,
        shards=args.shards,
        shard_bytes=args.shard_bytes,
        version=args.snapshot_version,
        created_ms=args.created_ms,
        exact_form=args.exact_form,
    )
    bits = json.loads(layout)["bits"]
    n_shards = 1 << bits
    counted = time.monotonic()

    # 2. assign: an Arrow UDF, a batch of ids at a time.
    @arrow_udf("int")
    def shard_udf(ids: pa.Array) -> pa.Array:
        _, shards = edgeseg.shard_of(key, ids.cast(pa.string()), bits)
        return shards.cast(pa.int32())

    partitions = args.partitions or max(1, min(n_shards, sc.defaultParallelism * 2))
    assigned = members.withColumn(SHARD_COLUMN, shard_udf(F.col(args.id_column))).repartition(
        partitions, SHARD_COLUMN
    )

    out = args.out
    name = args.name

    # 3. build: a task holds whole shards (repartitioned by shard), builds and writes each.
    def build_partition(batches):
        fs, base = pafs.FileSystem.from_uri(out if "://" in out else os.path.abspath(out))
        fs.create_dir(base, recursive=True)
        by_shard = {}
        for batch in batches:
            shard_col = batch.column(SHARD_COLUMN)
            rest = batch.drop_columns([SHARD_COLUMN])
            for index in pc.unique(shard_col).to_pylist():
                by_shard.setdefault(index, []).append(rest.filter(pc.equal(shard_col, index)))
        for index in sorted(by_shard):
            shard, manifest = edgeseg.build_shard(
                definitions, key, layout, index, by_shard.pop(index), source=f"shard {index}", **columns
            )
            write(fs, base, edgeseg.shard_file_name(name + ".head", index), shard)
            yield pa.RecordBatch.from_pydict({"manifest": [manifest]})

    manifests = [r["manifest"] for r in assigned.mapInArrow(build_partition, "manifest string").collect()]
    built = time.monotonic()

    # 4. head: empty shards are built here (they still exist as files), then the head.
    fs, base = pafs.FileSystem.from_uri(out if "://" in out else os.path.abspath(out))
    fs.create_dir(base, recursive=True)
    present = {json.loads(m)["index"] for m in manifests}
    for index in range(n_shards):
        if index not in present:
            shard, manifest = edgeseg.build_shard(definitions, key, layout, index, [], **columns)
            write(fs, base, edgeseg.shard_file_name(name + ".head", index), shard)
            manifests.append(manifest)
    head = edgeseg.assemble_head(definitions, key, layout, manifests)
    write(fs, base, name + ".head", head)

    # 5. check: each shard against the head, in Spark tasks.
    def check(indices):
        fs_, base_ = pafs.FileSystem.from_uri(out if "://" in out else os.path.abspath(out))
        for index in indices:
            path = f"{base_}/{edgeseg.shard_file_name(name + '.head', index)}"
            with fs_.open_input_stream(path) as f:
                edgeseg.check_shard(head, f.read())
            yield index

    checked = sc.parallelize(range(n_shards), max(1, min(n_shards, sc.defaultParallelism))).mapPartitions(check)
    if checked.count() != n_shards:
        raise SystemExit("not every shard was checked")
    done = time.monotonic()

    shard_bytes = [json.loads(m)["len"] for m in manifests]
    total_members = json.loads(counts)["members"]
    summary = {
        "head": f"{out}/{name}.head",
        "head_bytes": len(head),
        "shards": n_shards,
        "shard_bytes": {"min": min(shard_bytes), "max": max(shard_bytes), "total": sum(shard_bytes)},
        "members": total_members,
        "key_id": edgeseg.key_id(key),
        "seconds": {
            "count": round(counted - started, 2),
            "assign_and_build": round(built - counted, 2),
            "head_and_check": round(done - built, 2),
            "total": round(done - started, 2),
        },
        "cores": sc.defaultParallelism,
        "members_per_second_per_core": round(total_members / max(done - started, 1e-9) / sc.defaultParallelism),
    }
    print(json.dumps(summary))
    spark.stop()
    return summary


def write(fs, base, file_name, data):
    """Writes under a temporary name, then moves into place: a reader never sees half a file."""
    tmp = f"{base}/.{file_name}.tmp"
    with fs.open_output_stream(tmp) as f:
        f.write(data)
    fs.move(tmp, f"{base}/{file_name}")


if __name__ == "__main__":
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    main(sys.argv[1:])
