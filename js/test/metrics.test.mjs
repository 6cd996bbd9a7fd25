// The Worker adapter's Prometheus metrics (js/metrics.js) inside workerd via miniflare: traffic,
// then a scrape of the metrics endpoint behind its bearer token, and a push to an endpoint (the
// test's outbound service). `promtool check metrics` (Debian `prometheus`, installed by
// `cargo xtask test`) must accept both texts.
// Run by `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";

const pkg = process.env.EDGESEG_JS_PKG;
const snapshotPath = process.env.EDGESEG_JS_SNAPSHOT;
const TOKEN = "scrape-s3cret";
const PUSH_TOKEN = "push-t0ken";
const PATH = "/_edgeseg/metrics";

// The origin waits `x-test-delay` ms (a timer: the Workers clock moves across it) and answers
// `x-test-status`.
const entry = `
import { withEdgeseg } from "./pkg/worker.js";
export default withEdgeseg({
  binding: "SNAPSHOTS",
  refreshMs: 3_600_000,
  origin: async (req) => {
    const delay = Number(req.headers.get("x-test-delay") ?? 0);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    return new Response("from the origin", { status: Number(req.headers.get("x-test-status") ?? 200) });
  },
  metrics: { push: { url: "https://push.example/metrics/job/edgeseg/instance/{isolate}", intervalMs: 0 } },
});
`;

const pushes = [];
let withToken;
let withoutToken;

function workerd(scriptPath, bindings) {
  return new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: dirname(pkg),
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
    ],
    kvNamespaces: ["SNAPSHOTS"],
    compatibilityDate: "2025-01-01",
    bindings,
    // Every fetch the Worker makes itself: here only the metrics push.
    outboundService: async (request) => {
      pushes.push({ url: request.url, method: request.method, auth: request.headers.get("authorization"), type: request.headers.get("content-type"), body: await request.text() });
      return new Response(null, { status: 202 });
    },
  });
}

before(async () => {
  const scriptPath = join(dirname(pkg), "metrics-test-entry.mjs");
  await writeFile(scriptPath, entry);
  const snapshot = await readFile(snapshotPath);
  withToken = workerd(scriptPath, { EDGESEG_METRICS_TOKEN: TOKEN, EDGESEG_METRICS_PUSH_TOKEN: PUSH_TOKEN });
  withoutToken = workerd(scriptPath, {});
  for (const mf of [withToken, withoutToken]) {
    await mf.ready;
    await (await mf.getKVNamespace("SNAPSHOTS")).put("edgeseg.snapshot", snapshot);
  }
});

after(async () => {
  await withToken?.dispose();
  await withoutToken?.dispose();
});

let client = 0;
async function send(mf, path, headers = {}) {
  const res = await mf.dispatchFetch(`https://shop.example${path}`, {
    headers: { "cf-connecting-ip": `2001:db8:${(++client).toString(16)}::1`, ...headers },
  });
  return [res.status, await res.text(), res];
}

function promtoolCheck(text) {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  if (run.error) throw new Error(`promtool not runnable (${run.error.message}); cargo xtask test installs it (apt-get install prometheus)`);
  assert.equal(run.status, 0, `promtool check metrics:\n${run.stdout}\n${run.stderr}\n${text}`);
}

/** The value of the one sample `name{labels}` (labels given as an object, `isolate` ignored). */
function sample(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const lines = text.split("\n").filter((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  assert.equal(lines.length, 1, `${name} ${JSON.stringify(labels)}: ${lines.join(" | ")}`);
  return Number(lines[0].split(" ").pop());
}

test("traffic, then a scrape: per-tier counters by status, latency buckets, refresh and shard counters; promtool accepts it", async () => {
  const mf = withToken;
  // Decided with the snapshot the first request waits for (KV read and load).
  assert.equal((await send(mf, "/", { cookie: "edgeseg_uid=alice" }))[0], 200);
  assert.equal((await send(mf, "/p/1", { cookie: "edgeseg_uid=alice" }))[0], 200);
  assert.equal((await send(mf, "/p/2", { cookie: "edgeseg_uid=alice", "x-test-delay": "300" }))[0], 200);
  assert.equal((await send(mf, "/p/3", { cookie: "edgeseg_uid=bob" }))[0], 200);
  assert.equal((await send(mf, "/p/4", { cookie: "edgeseg_uid=bob", "x-test-status": "503" }))[0], 503);
  assert.equal((await send(mf, "/p/5", { cookie: "edgeseg_uid=carol" }))[0], 200);
  // One anonymous address over the free tier's burst (10): some 429s, answered at the edge.
  let throttled = 0;
  for (let i = 0; i < 20; i++) {
    const [status] = await send(mf, "/search", { "cf-connecting-ip": "203.0.113.7" });
    if (status === 429) throttled++;
  }
  assert.ok(throttled > 0, "the burst ran out");

  for (const auth of [undefined, "Bearer wrong", `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
    const [status, , res] = await send(mf, PATH, auth ? { authorization: auth } : {});
    assert.equal(status, 401, String(auth));
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="edgeseg-metrics"');
  }
  const [status, text, res] = await send(mf, PATH, { authorization: `Bearer ${TOKEN}` });
  assert.equal(status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  promtoolCheck(text);

  const requests = (tier, code) => sample(text, "edgeseg_worker_requests_total", { tier, code });
  assert.equal(requests("premium", "200"), 3);
  assert.equal(requests("free", "200"), 1 + (20 - throttled));
  assert.equal(requests("free", "503"), 1);
  assert.equal(requests("free", "429"), throttled);
  assert.equal(requests("standard", "200"), 1);
  const served = text
    .split("\n")
    .filter((l) => l.startsWith("edgeseg_worker_requests_total{"))
    .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
  assert.equal(served, 6 + 20, "scrapes and their 401s are not traffic");
  // Premium: two quick requests, one that waited 300 ms for its origin (over the 0.2 s bound).
  const bucket = (tier, le) => sample(text, "edgeseg_worker_request_duration_seconds_bucket", { tier, le });
  assert.equal(bucket("premium", "0.2"), 2);
  assert.equal(bucket("premium", "0.25"), 2);
  assert.equal(bucket("premium", "0.5"), 3);
  assert.equal(bucket("premium", "+Inf"), 3);
  assert.equal(sample(text, "edgeseg_worker_request_duration_seconds_count", { tier: "premium" }), 3);
  const sum = sample(text, "edgeseg_worker_request_duration_seconds_sum", { tier: "premium" });
  assert.ok(sum >= 0.3 && sum < 0.6, `premium latency sum ${sum}`);
  // Refreshes and shards (an unsharded snapshot: no shard traffic).
  assert.equal(sample(text, "edgeseg_worker_snapshot_refreshes_total", {}), 1);
  assert.equal(sample(text, "edgeseg_worker_snapshot_loads_total", {}), 1);
  assert.equal(sample(text, "edgeseg_worker_snapshot_version", {}), 1);
  assert.equal(sample(text, "edgeseg_worker_shard_requests_total", { result: "miss" }), 0);
  assert.equal(sample(text, "edgeseg_worker_shard_budget_bytes", {}), 32 * 1024 * 1024);
  assert.equal(sample(text, "edgeseg_worker_fallbacks_total", {}), 0);
  // One isolate: every sample carries its id.
  const isolates = new Set([...text.matchAll(/isolate="([^"]+)"/g)].map((m) => m[1]));
  assert.equal(isolates.size, 1);

  // Pushes went out after responses (ctx.waitUntil), to the isolate's URL, with the push token.
  assert.ok(pushes.length > 0, "no push");
  const [isolate] = isolates;
  const last = pushes.at(-1);
  assert.equal(last.url, `https://push.example/metrics/job/edgeseg/instance/${isolate}`);
  assert.equal(last.method, "POST");
  assert.equal(last.auth, `Bearer ${PUSH_TOKEN}`);
  assert.equal(last.type, "text/plain; version=0.0.4; charset=utf-8");
  promtoolCheck(last.body);
  assert.ok(sample(last.body, "edgeseg_worker_requests_total", { tier: "premium", code: "200" }) >= 1);
  assert.ok(sample(last.body, "edgeseg_worker_metrics_pushes_total", { result: "ok" }) >= 1 || pushes.length === 1);
});

test("no token in the environment: the endpoint is off and the path is an ordinary request", async () => {
  const [status, body] = await send(withoutToken, PATH, { authorization: `Bearer ${TOKEN}` });
  assert.equal(status, 200);
  assert.equal(body, "from the origin");
});
