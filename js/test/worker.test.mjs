// The Worker adapter (js/worker.js) inside workerd, the Cloudflare Workers runtime, via miniflare:
// real fetches against the built npm package, the wasm module imported precompiled.
// Run by `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";

const pkg = process.env.EDGESEG_JS_PKG;
const snapshotPath = process.env.EDGESEG_JS_SNAPSHOT;
let mf;
let kv;

const entry = `
import { withEdgeseg, loadedEngine } from "./pkg/worker.js";
const handler = withEdgeseg({
  binding: "SNAPSHOTS",
  refreshMs: 0, // re-read KV on every request, so the test sees each put at once
  origin: (req, env, ctx, decision) =>
    new Response(JSON.stringify({ url: req.url, headers: Object.fromEntries(req.headers) }), {
      headers: { "content-type": "application/json" },
    }),
});
export default {
  async fetch(request, env, ctx) {
    const response = await handler.fetch(request, env, ctx);
    const out = new Response(response.body, response);
    out.headers.set("x-test-loaded-version", String(loadedEngine()?.version ?? "none"));
    return out;
  },
};
`;

before(async () => {
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-test-entry.mjs");
  await writeFile(scriptPath, entry);
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
  });
  await mf.ready;
  kv = await mf.getKVNamespace("SNAPSHOTS");
});

after(async () => {
  await mf?.dispose();
});

const get = (path, headers = {}) => mf.dispatchFetch(`https://shop.example${path}`, { headers });
const originSaw = async (res) => (await res.json()).headers;

test("no snapshot yet: fail open, untagged", async () => {
  const res = await get("/", { cookie: "edgeseg_uid=alice" });
  assert.equal(res.status, 200);
  assert.equal((await originSaw(res))["x-edgeseg-tier"], undefined);
});

test("premium member: tagged as premium to the origin", async () => {
  await kv.put("edgeseg.snapshot", await readFile(snapshotPath));
  const res = await get("/checkout", { cookie: "theme=dark; edgeseg_uid=alice" });
  assert.equal(res.status, 200);
  const h = await originSaw(res);
  assert.equal(h["x-edgeseg-tier"], "premium");
  assert.equal(h["x-edgeseg-segments"], "premium,high-value,high-value-checkout,checkout-visitors");
  assert.equal(h["x-edgeseg-snapshot"], "1");
  assert.equal(h["baggage"], "edgeseg.tier=premium");
});

test("free member: tagged free, no consent-gated segments", async () => {
  const res = await get("/checkout", { cookie: "edgeseg_uid=bob" });
  assert.equal(res.status, 200);
  const h = await originSaw(res);
  assert.equal(h["x-edgeseg-tier"], "free");
  assert.equal(h["x-edgeseg-segments"], undefined);
});

test("GET /user/segments: JSON with ETag = snapshot version, then 304 on If-None-Match", async () => {
  const res = await get("/user/segments", { cookie: "edgeseg_uid=alice" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("etag"), '"1"');
  assert.match(res.headers.get("cache-control"), /private/);
  assert.deepEqual(await res.json(), { tier: "premium", segments: ["premium", "high-value"], version: 1 });
  const again = await get("/user/segments", { cookie: "edgeseg_uid=alice", "if-none-match": '"1"' });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get("etag"), '"1"');
  assert.equal(await again.text(), "");
  const stale = await get("/user/segments", { cookie: "edgeseg_uid=alice", "if-none-match": '"0"' });
  assert.equal(stale.status, 200);
  await stale.arrayBuffer();
});

test("a bad snapshot never replaces the last good one", async () => {
  await kv.put("edgeseg.snapshot", new Uint8Array([1, 2, 3, 4]));
  const res = await get("/", { cookie: "edgeseg_uid=alice" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-test-loaded-version"), "1");
  assert.equal((await originSaw(res))["x-edgeseg-tier"], "premium");
});

test("429 on a throttle verdict that rejects", { skip: "Decision has no `throttle` field on this base (the core's throttle lands on main separately); the adapter handles it when present" }, () => {});
