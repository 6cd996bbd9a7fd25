// Sharded snapshots (issue 18) through the npm package: the Node build decides byte for byte as
// the whole snapshot of the same 10^5 members, and the Worker adapter (js/worker.js) in workerd
// (miniflare) serves 5,000 distinct customers of a 10^6-member snapshot from a KV namespace holding
// its head and 64 shards — one KV read per request at most after warm-up, an LRU within its budget,
// missing and corrupt shards decided fail-closed and counted, the next good read recovering.
// Run by `cargo xtask test` (EDGESEG_JS_PKG and EDGESEG_JS_SHARDS, which `shard_snapshots` in
// xtask/src/js.rs fills).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFile, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";

const pkg = process.env.EDGESEG_JS_PKG;
const dir = process.env.EDGESEG_JS_SHARDS;
const { Engine } = createRequire(import.meta.url)(join(pkg, "nodejs", "edgeseg.js"));

const shardFile = (name, i) => join(dir, `${name}.shard-${i.toString(16).padStart(4, "0")}`);
/** `edgeseg_snapshots::sample::member_id`. */
const memberId = (i) => `u${String(i).padStart(7, "0")}`;
const json = (v) => JSON.stringify(v, (k, x) => (typeof x === "bigint" ? `${x}n` : x));
const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

test("Node build: 64 shards under an evicting budget decide byte for byte as the whole snapshot", async () => {
  const whole = Engine.load(readFileSync(join(dir, "whole.snapshot")));
  const sharded = Engine.load(readFileSync(join(dir, "small.head")));
  assert.equal(whole.shardCount, 0);
  assert.equal(whole.shardDigest(0), undefined);
  assert.equal(sharded.shardCount, 64);
  const files = Array.from({ length: 64 }, (_, i) => readFileSync(shardFile("small", i)));
  const budget = 3 * Math.max(...files.map((f) => f.length));
  sharded.setShardBudget(budget);
  const traffic = readFileSync(join(dir, "sample", "traffic.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(traffic.length, 5000);
  let identified = 0;
  for (const r of traffic) {
    const request = {
      method: r.method,
      host: r.host,
      path: r.path,
      headers: r.headers,
      country: r.country,
      clientIp: r.client_ip,
      nowMs: r.now_ms,
      attributes: r.attributes,
    };
    assert.equal(whole.shardFor(request), undefined);
    const i = sharded.shardFor(request);
    if (i !== undefined && !sharded.hasShard(i)) {
      assert.deepEqual(await sha256(files[i]), sharded.shardDigest(i), `shard ${i}'s digest`);
      assert.equal(sharded.loadShard(files[i]), i);
    }
    const a = whole.decide(request);
    const b = sharded.decide(request);
    assert.equal(json(b), json(a), json(r));
    assert.equal(b.shard_missing, false);
    identified += a.identified ? 1 : 0;
  }
  const s = sharded.stats().shards;
  assert.ok(identified > 3000, `${identified} identified`);
  assert.equal(s.hits, identified, json(s));
  assert.equal(s.misses, 0, json(s));
  assert.ok(s.evictions > 0 && s.held <= 3, json(s));
  assert.ok(s.held_bytes <= s.budget_bytes && s.budget_bytes === budget, json(s));
  assert.equal(whole.stats().shards.loads, 0);
  // Held or not, what the engine holds changes nothing but `shard_missing` and its header.
  const alone = Engine.load(readFileSync(join(dir, "small.head")));
  const request = { url: "https://shop.example/", headers: { cookie: `edgeseg_uid=${memberId(1)}` }, nowMs: 1_763_719_200_000 };
  const missing = alone.decide(request);
  assert.equal(missing.shard_missing, true);
  assert.equal(missing.tier, "free");
  assert.ok(missing.headers.some((h) => h.name === "x-edgeseg-shard-missing" && h.value === "1"));
  assert.equal(alone.stats().shards.misses, 1);
  assert.equal(alone.dropShard(0), false);
});

test("Node build: a shard of another snapshot, a corrupt or a truncated one is refused with a kind", () => {
  const head = Engine.load(readFileSync(join(dir, "small.head")));
  const kindOf = (bytes) => {
    try {
      head.loadShard(bytes);
    } catch (e) {
      assert.equal(e.name, "EdgesegError");
      assert.equal(typeof e.code, "number");
      return e.kind;
    }
    return null;
  };
  const good = readFileSync(shardFile("small", 5));
  const corrupt = Uint8Array.from(good);
  corrupt[corrupt.length >> 1] ^= 0x40;
  assert.equal(kindOf(corrupt), "ChecksumMismatch");
  assert.equal(kindOf(good.subarray(0, 100)), "Truncated");
  assert.ok(kindOf(readFileSync(shardFile("big", 5))), "another build's shard");
  assert.equal(head.stats().shards.refused, 3);
  assert.equal(head.loadShard(good), 5);
  assert.ok(head.hasShard(5));
  assert.equal(head.dropShard(5), true);
  assert.equal(head.hasShard(5), false);
});

// ---- the Worker adapter in workerd -------------------------------------------------------------

const SHARDS = 64;
let mf;
let kv;
let big; // the head in Node, to find customers' shards
let budget;
let shardBytes;
const METRICS_TOKEN = "shards-metrics-token";

const entry = (budgetBytes) => `
import { withEdgeseg, loadedEngine, stats } from "./pkg/worker.js";
import { initSync } from "./pkg/web/edgeseg.js";
import wasmModule from "./pkg/web/edgeseg_bg.wasm";
const handler = withEdgeseg({
  binding: "SNAPSHOTS",
  key: "demo",
  sharded: true,
  refreshMs: 3_600_000, // the head is read once: every later KV read is a shard's
  shardBudgetBytes: ${budgetBytes},
  origin: (req) => new Response(JSON.stringify({ headers: Object.fromEntries(req.headers) })),
});
let kvReads = 0;
const statsJson = () => JSON.stringify({ ...stats(), kvReads }, (k, v) => (typeof v === "bigint" ? Number(v) : v));
export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/__stats") return new Response(statsJson());
    if (url.pathname === "/__drop") {
      return new Response(String(loadedEngine().dropShard(Number(url.searchParams.get("shard")))));
    }
    if (request.headers.has("x-test-corrupt-memory")) {
      // A real trap (as in worker.test.mjs): the live instance's memory all 0xff.
      new Uint8Array(initSync({ module: wasmModule }).memory.buffer).fill(0xff);
    }
    // Every KV read the adapter makes, counted; shard reads slowed on request so that concurrent
    // requests surely overlap one read.
    const delay = Number(request.headers.get("x-test-read-delay-ms") ?? 0);
    const counted = {
      async get(key, type) {
        kvReads++;
        if (delay) await new Promise((r) => setTimeout(r, delay));
        return env.SNAPSHOTS.get(key, type);
      },
    };
    const before = kvReads;
    const response = await handler.fetch(request, { ...env, SNAPSHOTS: counted }, ctx);
    const out = new Response(response.body, response);
    out.headers.set("x-test-kv-reads", String(kvReads - before));
    return out;
  },
};
`;

before(async () => {
  big = Engine.load(readFileSync(join(dir, "big.head")));
  assert.equal(big.shardCount, SHARDS);
  shardBytes = Array.from({ length: SHARDS }, (_, i) => readFileSync(shardFile("big", i)));
  // Room for a quarter of the shards: most requests read theirs, and the LRU evicts.
  budget = 16 * Math.max(...shardBytes.map((b) => b.length));
  const total = shardBytes.reduce((n, b) => n + b.length, 0);
  assert.ok(budget < total);
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-shards-entry.mjs");
  await writeFile(scriptPath, entry(budget));
  mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
    ],
    kvNamespaces: ["SNAPSHOTS"],
    compatibilityDate: "2025-01-01",
    bindings: { EDGESEG_METRICS_TOKEN: METRICS_TOKEN },
  });
  await mf.ready;
  kv = await mf.getKVNamespace("SNAPSHOTS");
  await kv.put("demo/head", await readFile(join(dir, "big.head")));
  for (let i = 0; i < SHARDS; i++) await kv.put(`demo/shard/${i}`, shardBytes[i]);
});

after(async () => {
  await mf?.dispose();
});

const cookieOf = (i) => ({ cookie: `edgeseg_uid=${memberId(i)}` });
const shardOf = (i) => big.shardFor({ url: "https://shop.example/", headers: cookieOf(i) });
/** Members (from `from` on) whose shard is `shard`. */
function membersIn(shard, count, from = 1) {
  const out = [];
  for (let i = from; out.length < count; i++) if (shardOf(i) === shard) out.push(i);
  return out;
}
// Each customer from its own address: a customer in no set of the snapshot (or whose shard is
// not held) is throttled per client address, and these tests are not about throttling.
const addressOf = (i) => ({ "cf-connecting-ip": `2001:db8:${i.toString(16)}::1` });
async function visit(i, extra = {}) {
  const res = await mf.dispatchFetch("https://shop.example/", { headers: { ...addressOf(i), ...cookieOf(i), ...extra } });
  return { seen: (await res.json()).headers, reads: Number(res.headers.get("x-test-kv-reads")) };
}
const workerStats = async () => JSON.parse(await (await mf.dispatchFetch("https://shop.example/__stats")).text());
const drop = async (shard) => (await mf.dispatchFetch(`https://shop.example/__drop?shard=${shard}`)).text();

test("workerd: 5,000 distinct customers of 10^6 in 64 KV shards, at most one KV read each after warm-up", async () => {
  // The whole snapshot in Node (all 64 shards fit its default budget): what each customer must get.
  const all = Engine.load(readFileSync(join(dir, "big.head")));
  for (const b of shardBytes) all.loadShard(b);
  const customers = Array.from({ length: 5000 }, (_, k) => 1 + k * 199);
  let reads = 0;
  for (const [k, i] of customers.entries()) {
    const { seen, reads: n } = await visit(i);
    if (k > 0) assert.ok(n <= 1, `request ${k} (${memberId(i)}) made ${n} KV reads`);
    else assert.ok(n >= 2, `the first request reads the head, and its shard (${n} reads)`);
    reads += n;
    assert.equal(seen["x-edgeseg-shard-missing"], undefined, memberId(i));
    const want = all.decide({ url: "https://shop.example/", headers: cookieOf(i) });
    assert.equal(seen["x-edgeseg-tier"], want.tier, memberId(i));
    assert.equal(seen["x-edgeseg-segments"] ?? "", want.segments.join(","), memberId(i));
  }
  const s = await workerStats();
  assert.equal(s.kvReads, reads);
  assert.equal(s.shards.hits, 5000, JSON.stringify(s.shards));
  assert.equal(s.shards.misses, 0);
  assert.equal(s.shards.readFailures, 0);
  assert.deepEqual(s.shards.refused, {});
  // Each read loaded a shard; with room for 16 of 64, most requests read theirs.
  assert.equal(s.shards.reads, s.engine.shards.loads);
  assert.ok(s.shards.reads > 2500 && s.shards.reads < 5000, JSON.stringify(s.shards));
  assert.ok(s.shards.evictions > 2000, JSON.stringify(s.shards));
  assert.equal(s.shards.budgetBytes, budget);
  assert.ok(s.shards.heldBytes <= s.shards.budgetBytes, JSON.stringify(s.shards));
  assert.ok(s.shards.held <= 16, JSON.stringify(s.shards));
  assert.equal(s.engine.shards.hits, 5000);
  assert.equal(s.fallbacks, 0);
});

test("workerd: the metrics endpoint shows the shard counters stats() keeps, and promtool accepts it", async () => {
  const s = await workerStats();
  const res = await mf.dispatchFetch("https://shop.example/_edgeseg/metrics", { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(check.status, 0, `promtool check metrics (apt-get install prometheus):\n${check.error ?? ""}${check.stdout}${check.stderr}`);
  const samples = (name) => text.split("\n").filter((l) => l.startsWith(`${name}{`));
  const value = (name, label = "") => {
    const [line, ...more] = samples(name).filter((l) => l.includes(label));
    assert.ok(line != null && more.length === 0, `${name} ${label}`);
    return Number(line.split(" ").pop());
  };
  assert.equal(value("edgeseg_worker_shard_requests_total", 'result="hit"'), s.shards.hits);
  assert.equal(value("edgeseg_worker_shard_requests_total", 'result="miss"'), s.shards.misses);
  assert.equal(value("edgeseg_worker_shard_reads_total"), s.shards.reads);
  assert.equal(value("edgeseg_worker_shard_evictions_total"), s.shards.evictions);
  assert.equal(value("edgeseg_worker_shards_held"), s.shards.held);
  assert.equal(value("edgeseg_worker_shard_held_bytes"), s.shards.heldBytes);
  assert.equal(value("edgeseg_worker_shard_budget_bytes"), budget);
  assert.ok(s.shards.evictions > 0 && s.shards.reads > 0);
  // The 5,000 customers of the test before are the only traffic the adapter served so far.
  const served = samples("edgeseg_worker_requests_total").reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  assert.equal(served, 5000);
});

test("workerd: concurrent requests for a shard not held share one KV read", async () => {
  const shard = 9;
  await drop(shard);
  const before = await workerStats();
  const members = membersIn(shard, 8, 2);
  const seen = await Promise.all(members.map((i) => visit(i, { "x-test-read-delay-ms": "300" })));
  const s = await workerStats();
  assert.equal(s.shards.reads - before.shards.reads, 1, "one read for eight requests");
  assert.equal(s.kvReads - before.kvReads, 1);
  assert.equal(s.shards.hits - before.shards.hits, 8);
  for (const { seen: h } of seen) assert.equal(h["x-edgeseg-shard-missing"], undefined);
});

test("workerd: a missing shard key decides fail-closed and counted, each request retries, the next good read recovers", async () => {
  const shard = 17;
  const [a, b] = membersIn(shard, 2, 3);
  await drop(shard);
  await kv.delete(`demo/shard/${shard}`);
  const before = await workerStats();
  const first = await visit(a);
  assert.equal(first.seen["x-edgeseg-shard-missing"], "1", "the flag reaches the origin");
  assert.equal(first.seen["x-edgeseg-tier"], "free", "the default tier: no membership without the shard");
  assert.equal(first.reads, 1);
  const again = await visit(b);
  assert.equal(again.seen["x-edgeseg-shard-missing"], "1");
  assert.equal(again.reads, 1, "no negative caching: the next request reads again");
  let s = await workerStats();
  assert.equal(s.shards.misses - before.shards.misses, 2);
  assert.equal(s.shards.readFailures - before.shards.readFailures, 2);
  assert.equal(s.engine.shards.misses - before.engine.shards.misses, 2);

  await kv.put(`demo/shard/${shard}`, shardBytes[shard]);
  const good = await visit(a);
  assert.equal(good.seen["x-edgeseg-shard-missing"], undefined);
  assert.equal(good.reads, 1);
  assert.equal((await visit(b)).reads, 0, "held now");
  s = await workerStats();
  assert.equal(s.shards.misses - before.shards.misses, 2);
  assert.equal(s.shards.hits - before.shards.hits, 2);
});

test("workerd: a corrupt shard is refused by its SHA-256, decided fail-closed and counted; the good one recovers", async () => {
  const shard = 33;
  const [a] = membersIn(shard, 1, 4);
  await drop(shard);
  const corrupt = Uint8Array.from(shardBytes[shard]);
  corrupt[corrupt.length >> 1] ^= 0x01;
  await kv.put(`demo/shard/${shard}`, corrupt);
  const before = await workerStats();
  const bad = await visit(a);
  assert.equal(bad.seen["x-edgeseg-shard-missing"], "1");
  assert.equal(bad.reads, 1);
  let s = await workerStats();
  assert.equal((s.shards.refused.Digest ?? 0) - (before.shards.refused.Digest ?? 0), 1, JSON.stringify(s.shards));
  assert.equal(s.shards.misses - before.shards.misses, 1);
  assert.equal(s.engine.shards.refused, before.engine.shards.refused, "never handed to the engine");

  // Another shard's (valid) bytes under this key: the digest refuses them too.
  await kv.put(`demo/shard/${shard}`, shardBytes[shard + 1]);
  assert.equal((await visit(a)).seen["x-edgeseg-shard-missing"], "1");

  await kv.put(`demo/shard/${shard}`, shardBytes[shard]);
  const good = await visit(a);
  assert.equal(good.seen["x-edgeseg-shard-missing"], undefined);
  s = await workerStats();
  assert.equal((s.shards.refused.Digest ?? 0) - (before.shards.refused.Digest ?? 0), 2);
  assert.equal(s.shards.misses - before.shards.misses, 2);
});

test("workerd: after a trap the shards are gone, and are read again on demand", async () => {
  const [a] = membersIn(41, 1, 5);
  assert.equal((await visit(a)).seen["x-edgeseg-shard-missing"], undefined);
  const trapped = await visit(a, { "x-test-corrupt-memory": "1" });
  assert.equal(trapped.seen["x-edgeseg-fallback"], "guest-trap");
  const before = await workerStats();
  assert.equal(before.reinstantiations, 1);
  assert.equal(before.shards.held, 0, "a fresh instance holds no shard");
  const after = await visit(a);
  assert.equal(after.seen["x-edgeseg-shard-missing"], undefined);
  assert.equal(after.reads, 1, "its shard read again; the head is kept");
  const s = await workerStats();
  assert.equal(s.shards.held, 1);
  assert.equal(s.shards.budgetBytes, budget, "the budget applies to the new instance too");
});

test("workerd: an R2 bucket serves the head and shards too", async () => {
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-shards-r2-entry.mjs");
  await writeFile(
    scriptPath,
    `import { withEdgeseg, stats } from "./pkg/worker.js";
const handler = withEdgeseg({
  binding: "BUCKET",
  key: "snapshots/demo",
  sharded: true,
  origin: (req) => new Response(JSON.stringify({ headers: Object.fromEntries(req.headers) })),
});
export default {
  async fetch(request, env, ctx) {
    const out = new Response((await handler.fetch(request, env, ctx)).body);
    out.headers.set("x-test-stats", JSON.stringify(stats().shards));
    return out;
  },
};`,
  );
  const r2 = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
    ],
    r2Buckets: ["BUCKET"],
    compatibilityDate: "2025-01-01",
  });
  try {
    await r2.ready;
    const bucket = await r2.getR2Bucket("BUCKET");
    await bucket.put("snapshots/demo/head", await readFile(join(dir, "big.head")));
    const [a] = membersIn(3, 1, 6);
    const [b] = membersIn(4, 1, 6);
    await bucket.put("snapshots/demo/shard/3", shardBytes[3]); // shard 4 is not there
    const visitR2 = async (i) => {
      const res = await r2.dispatchFetch("https://shop.example/", { headers: { ...addressOf(i), ...cookieOf(i) } });
      return { seen: (await res.json()).headers, stats: JSON.parse(res.headers.get("x-test-stats")) };
    };
    const held = await visitR2(a);
    assert.equal(held.seen["x-edgeseg-shard-missing"], undefined);
    assert.ok(held.seen["x-edgeseg-tier"]);
    const missing = await visitR2(b);
    assert.equal(missing.seen["x-edgeseg-shard-missing"], "1");
    assert.deepEqual(
      [missing.stats.reads, missing.stats.readFailures, missing.stats.hits, missing.stats.misses],
      [2, 1, 1, 1],
    );
  } finally {
    await r2.dispose();
  }
});
