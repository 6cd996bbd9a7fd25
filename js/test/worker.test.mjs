// The Worker adapter (js/worker.js) inside workerd, the Cloudflare Workers runtime, via miniflare:
// real fetches against the built npm package, the wasm module imported precompiled.
// Run by `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT[_V2/_SIGNED/_IMPOSTOR], EDGESEG_JS_PUBLIC_KEY,
// EDGESEG_JS_DELTA set).
import { describe, test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";

const pkg = process.env.EDGESEG_JS_PKG;
const snapshotPath = process.env.EDGESEG_JS_SNAPSHOT;
let mf;
let kv;

/** JSON of the adapter's stats (u64 counters may be BigInts). */
const statsJson = `JSON.stringify(stats(), (k, v) => (typeof v === "bigint" ? Number(v) : v))`;

/**
 * Entry code: once a snapshot serves, the adapter re-reads it after the response (`ctx.waitUntil`).
 * `settling(ctx)` is a ctx whose waitUntil work `settled()` awaits, so that an entry reports the
 * state that work leaves (the request itself was decided without it).
 */
const settling = `
function settling(ctx) {
  const background = [];
  const waitUntil = (promise) => (background.push(promise), ctx.waitUntil(promise));
  return [{ waitUntil, passThroughOnException: () => ctx.passThroughOnException() }, () => Promise.all(background)];
}`;

const entry = `
import { withEdgeseg, loadedEngine, stats } from "./pkg/worker.js";
${settling}
const handler = withEdgeseg({
  binding: "SNAPSHOTS",
  refreshMs: 0, // re-read KV on every request, so the test sees each put by the next request
  routeTo: (route) => (route.pool === "premium-pool" ? "https://premium.origin.example" : null),
  // Answers with what it was sent; x-test-origin-headers (JSON pairs) adds headers to its answer.
  origin: (req, env, ctx, decision) => {
    const headers = new Headers({ "content-type": "application/json" });
    for (const [name, value] of JSON.parse(req.headers.get("x-test-origin-headers") ?? "[]")) headers.append(name, value);
    return new Response(JSON.stringify({ url: req.url, headers: Object.fromEntries(req.headers) }), { headers });
  },
});
export default {
  async fetch(request, env, ctx) {
    const [testCtx, settled] = settling(ctx);
    const response = await handler.fetch(request, env, testCtx);
    await settled();
    const out = new Response(response.body, response);
    out.headers.set("x-test-loaded-version", String(loadedEngine()?.version ?? "none"));
    out.headers.set("x-test-stats", ${statsJson});
    return out;
  },
};
`;

/** A workerd instance running the entry at `scriptPath` (next to the package) with a KV binding. */
function workerd(scriptPath, extra = {}) {
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
    ...extra,
  });
}

before(async () => {
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-test-entry.mjs");
  await writeFile(scriptPath, entry);
  mf = workerd(scriptPath);
  await mf.ready;
  kv = await mf.getKVNamespace("SNAPSHOTS");
});

after(async () => {
  await mf?.dispose();
});

// Anonymous and non-member requests are throttled per client address (Cloudflare's
// cf-connecting-ip): each request comes from its own IPv6 /64 unless a test names an address, so
// only the tests about throttling share a bucket.
let client = 0;
const get = (path, headers = {}) => {
  const ip = ["cf-connecting-ip", `2001:db8:${(++client).toString(16)}::1`];
  const named = (Array.isArray(headers) ? headers.map(([n]) => n) : Object.keys(headers)).some(
    (n) => n.toLowerCase() === "cf-connecting-ip",
  );
  const all = named ? headers : Array.isArray(headers) ? [ip, ...headers] : { [ip[0]]: ip[1], ...headers };
  return mf.dispatchFetch(`https://shop.example${path}`, { headers: all });
};
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
  assert.equal(h["x-edgeseg-segments"], "premium,high-value,high-value-checkout,checkout-visitors,private-pages");
  assert.equal(h["x-edgeseg-snapshot"], "1");
  assert.equal(
    h["baggage"],
    "edgeseg.tier=premium,edgeseg.segments=premium%2Chigh-value%2Chigh-value-checkout%2Ccheckout-visitors%2Cprivate-pages,edgeseg.snapshot=1",
  );
  // The premium tier's dedicated route and lane; checkout pages are never stored.
  assert.equal(h["x-edgeseg-route"], "premium-pool");
  assert.equal(h["x-edgeseg-lane"], "fast");
  const body = await get("/checkout", { cookie: "edgeseg_uid=alice" });
  const seen = await body.json();
  assert.ok(seen.url.startsWith("https://premium.origin.example/checkout"), seen.url);
  assert.equal(body.headers.get("cache-control"), "no-store");
  assert.equal(body.headers.get("ratelimit"), null, "premium has no throttle");
});

test("free member on a product page: public cache keyed by tier, surrogate keys, RateLimit fields", async () => {
  const res = await get("/p/1", { cookie: "edgeseg_uid=carol-free-cache" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "public, max-age=60, s-maxage=300, stale-while-revalidate=30, stale-if-error=86400");
  assert.equal(res.headers.get("vary"), "x-edgeseg-cache-key");
  assert.equal(res.headers.get("surrogate-key"), "edgeseg-tier-free catalog");
  assert.equal(res.headers.get("ratelimit-policy"), '"free";q=10;w=5');
  assert.match(res.headers.get("ratelimit"), /^"free";r=9;t=1$/);
  const h = await originSaw(res);
  assert.equal(h["x-edgeseg-cache-key"], "tier=free");
  assert.equal(h["x-edgeseg-route"], "shared-pool");
});

test("free over its limit: 429 with Retry-After and RateLimit fields, the origin never called", async () => {
  // Burst 10 at 2 per second: a quick run of requests from one anonymous address runs out.
  let res;
  for (let i = 0; i < 40; i++) {
    res = await get("/search?q=sale", { "cf-connecting-ip": "203.0.113.99" });
    if (res.status === 429) break;
    await res.arrayBuffer();
  }
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1, res.headers.get("retry-after"));
  assert.match(res.headers.get("ratelimit"), /^"free";r=0;t=\d+$/);
  assert.equal(res.headers.get("ratelimit-policy"), '"free";q=10;w=5');
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.headers.get("x-edgeseg-tier"), "free");
  assert.equal(await res.text(), "Too Many Requests\n");
});

test("/user/segments goes through the throttle like any request (issue 19)", async () => {
  // An id-guessing client polling the segments endpoint from one address: its free-tier burst
  // runs out as on any other path.
  let res;
  for (let i = 0; i < 40; i++) {
    res = await get("/user/segments", { "cf-connecting-ip": "203.0.113.98", cookie: `edgeseg_uid=guess-${i}` });
    if (res.status === 429) break;
    await res.arrayBuffer();
  }
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1, res.headers.get("retry-after"));
  await res.arrayBuffer();
});

test("free member: tagged free, no consent-gated segments", async () => {
  const res = await get("/checkout", { cookie: "edgeseg_uid=bob" });
  assert.equal(res.status, 200);
  const h = await originSaw(res);
  assert.equal(h["x-edgeseg-tier"], "free");
  // bob consented to nothing: only the contract-purpose checkout segment (no-store) is tagged.
  assert.equal(h["x-edgeseg-segments"], "private-pages");
});

test("client-sent x-edgeseg-* headers never reach the origin", async () => {
  const res = await get("/checkout", { cookie: "edgeseg_uid=bob", "x-edgeseg-segments": "vip", "x-edgeseg-route": "premium-pool" });
  const h = await originSaw(res);
  assert.equal(h["x-edgeseg-tier"], "free");
  assert.equal(h["x-edgeseg-segments"], "private-pages", "the client's own value is gone");
  assert.equal(h["x-edgeseg-route"], "shared-pool");
});

test("the origin sees the client's W3C trace continued by a span of the edge's own", async () => {
  const client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const h = await originSaw(await get("/", { cookie: "edgeseg_uid=bob", traceparent: client }));
  const [version, trace, parent, flags] = h["traceparent"].split("-");
  assert.deepEqual([version, trace, flags], ["00", "4bf92f3577b34da6a3ce929d0e0e4736", "01"]);
  assert.match(parent, /^[0-9a-f]{16}$/);
  assert.notEqual(parent, "00f067aa0ba902b7");
  // The demo's definitions don't start traces: none is made up for a request without one.
  assert.equal((await originSaw(await get("/", { cookie: "edgeseg_uid=bob" })))["traceparent"], undefined);
});

// The baggage members the engine adds, from the tags the origin saw (segments percent-encoded).
const ours = (h) =>
  [
    `edgeseg.tier=${h["x-edgeseg-tier"]}`,
    h["x-edgeseg-segments"] && `edgeseg.segments=${h["x-edgeseg-segments"].replaceAll(",", "%2C")}`,
    `edgeseg.snapshot=${h["x-edgeseg-snapshot"]}`,
  ]
    .filter(Boolean)
    .join(",");

test("client-sent edgeseg.* baggage members never reach the origin; other members do", async () => {
  const h = await originSaw(await get("/checkout", { cookie: "edgeseg_uid=bob", baggage: "edgeseg.tier=premium, a=1, edgeseg.segments=vip" }));
  assert.equal(h["x-edgeseg-tier"], "free");
  assert.equal(h["baggage"], `a=1,${ours(h)}`);
});

test("issue 19: an origin's private, no-store, Set-Cookie answer is never made public; Vary is appended to", async () => {
  const origin = [
    ["cache-control", "private, no-store"],
    ["vary", "Accept-Encoding, Cookie"],
    ["set-cookie", "session=s3cr3t; HttpOnly"],
  ];
  const res = await get("/p/1", { cookie: "edgeseg_uid=bob-origin-private", "x-test-origin-headers": JSON.stringify(origin) });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("cache-control"), "private, no-store");
  assert.equal(res.headers.get("vary"), "Accept-Encoding, Cookie, x-edgeseg-cache-key");
  assert.equal(res.headers.get("set-cookie"), "session=s3cr3t; HttpOnly");
  assert.equal(res.headers.get("surrogate-key"), null, "not a shared object");
  assert.equal(res.headers.get("cache-tag"), null);
  assert.match(res.headers.get("ratelimit"), /^"free";/, "the other decision headers still apply");
  // A cookie-setting answer without Cache-Control of its own: private, not the tier's public policy.
  const cookie = await get("/p/1", { cookie: "edgeseg_uid=bob-origin-cookie", "x-test-origin-headers": JSON.stringify([["set-cookie", "a=1"]]) });
  assert.equal(cookie.headers.get("cache-control"), "private");
  // A shareable origin answer still gets the segment's policy.
  const open = await get("/p/1", { cookie: "edgeseg_uid=bob-origin-open", "x-test-origin-headers": JSON.stringify([["cache-control", "public, max-age=600"]]) });
  assert.match(open.headers.get("cache-control"), /^public, max-age=60, s-maxage=300/);
  assert.equal(open.headers.get("surrogate-key"), "edgeseg-tier-free catalog");
});

test("issue 19: other spellings of a no-store path get its policy (case, slashes, escapes, dot segments)", async () => {
  for (const path of ["/Account", "//account", "/%61ccount", "/ACCOUNT/orders", "/p/%2e%2e/account", "/p/.%2E/account"]) {
    const res = await get(path, { cookie: "edgeseg_uid=bob" });
    assert.equal(res.headers.get("cache-control"), "no-store", path);
    assert.equal(res.headers.get("surrogate-key"), null, path);
    assert.equal((await originSaw(res))["x-edgeseg-segments"], "private-pages", path);
  }
});

test("issue 19: duplicate consent signals narrow (Sec-GPC merged to `1, 1`, two consent cookies)", async () => {
  const carol = await originSaw(await get("/", { cookie: "edgeseg_uid=carol" }));
  assert.equal(carol["x-edgeseg-segments"], "standard,high-value,churn-risk");
  const gpc = await originSaw(await get("/", [["cookie", "edgeseg_uid=carol"], ["sec-gpc", "1"], ["sec-gpc", "1"]]));
  assert.equal(gpc["sec-gpc"], "1, 1", "workerd merges the duplicates");
  assert.equal(gpc["x-edgeseg-segments"], "standard,high-value", "marketing (GPC) removed");
  const cookies = await originSaw(await get("/", { cookie: "edgeseg_uid=carol; site_consent=personalisation|marketing|analytics; site_consent=" }));
  assert.equal(cookies["x-edgeseg-segments"], "standard", "the empty copy grants nothing");
  const twoHeaders = await originSaw(
    await get("/", [["cookie", "edgeseg_uid=carol; site_consent=personalisation|marketing"], ["cookie", "site_consent=marketing"]]),
  );
  // Two cookie headers arrive joined (by `; ` or `, `): either way the first copy does not win.
  assert.ok(!twoHeaders["x-edgeseg-segments"].includes("high-value"), twoHeaders["x-edgeseg-segments"]);
});

test("issue 19: identity cookies that disagree are anonymous", async () => {
  const h = await originSaw(await get("/", { cookie: "edgeseg_uid=bob; edgeseg_uid=alice" }));
  assert.equal(h["x-edgeseg-tier"], "free");
  assert.equal(h["x-edgeseg-segments"], undefined);
  const same = await originSaw(await get("/", { cookie: "edgeseg_uid=alice; edgeseg_uid=alice" }));
  assert.equal(same["x-edgeseg-tier"], "premium");
});

test("issue 19: client edgeseg.* baggage in any case and in a second baggage header never reaches the origin", async () => {
  const h = await originSaw(
    await get("/", [["cookie", "edgeseg_uid=bob"], ["baggage", "a=1, EDGESEG.tier=premium"], ["baggage", "Edgeseg.Segments=vip, b=2"]]),
  );
  assert.equal(h["baggage"], `a=1,b=2,${ours(h)}`);
});

test("a real wasm trap: fail-safe answer, then a fresh instance with the last good snapshot and its delta re-applied", async () => {
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-test-trap-entry.mjs");
  await writeFile(
    scriptPath,
    `import { withEdgeseg, loadedEngine, stats } from "./pkg/worker.js";
import { initSync } from "./pkg/web/edgeseg.js";
import wasmModule from "./pkg/web/edgeseg_bg.wasm";
const handler = withEdgeseg({
  binding: "SNAPSHOTS",
  refreshMs: 3_600_000, // read once: the trap must hit decide, not a reload
  origin: (req) => new Response(JSON.stringify({ headers: Object.fromEntries(req.headers) })),
});
export default {
  async fetch(request, env, ctx) {
    if (request.headers.has("x-test-corrupt-memory")) {
      // A real trap, not a thrown error: every byte of the live instance's linear memory becomes
      // 0xff, so the next call follows garbage pointers out of bounds and wasm traps.
      const exports = initSync({ module: wasmModule }); // initialised already: the live instance's exports
      new Uint8Array(exports.memory.buffer).fill(0xff);
    }
    const out = new Response((await handler.fetch(request, env, ctx)).body);
    out.headers.set("x-test-stats", ${statsJson});
    return out;
  },
};`,
  );
  const trapMf = workerd(scriptPath);
  try {
    await trapMf.ready;
    const store = await trapMf.getKVNamespace("SNAPSHOTS");
    await store.put("edgeseg.snapshot", await readFile(snapshotPath));
    // The delta revokes alice's personalisation (js/test/revocations.txt).
    await store.put("edgeseg.delta", await readFile(process.env.EDGESEG_JS_DELTA));
    const fetchOnce = async (headers) => {
      const res = await trapMf.dispatchFetch("https://shop.example/checkout", { headers });
      return { seen: (await res.json()).headers, stats: JSON.parse(res.headers.get("x-test-stats")) };
    };
    const alice = { cookie: "edgeseg_uid=alice" };
    const before = await fetchOnce(alice);
    assert.equal(before.seen["x-edgeseg-tier"], "premium");
    assert.equal(before.stats.engine.delta_sequence, 1, "the delta applied");
    assert.ok(!before.seen["x-edgeseg-segments"].includes("high-value"), "personalisation revoked for alice");

    const trapped = await fetchOnce({ ...alice, "x-test-corrupt-memory": "1", "x-edgeseg-tier": "premium", baggage: "edgeseg.tier=premium,a=1,EDGESEG.Tier=gold" });
    assert.equal(trapped.seen["x-edgeseg-fallback"], "guest-trap", "a RuntimeError, not another error");
    for (const name of ["x-edgeseg-tier", "x-edgeseg-segments", "x-edgeseg-route"]) assert.equal(trapped.seen[name], undefined, name);
    assert.equal(trapped.seen["baggage"], "a=1", "the client's edgeseg.* baggage is stripped on fallback");
    assert.deepEqual(
      [trapped.stats.fallbacks, trapped.stats.traps, trapped.stats.reinstantiations],
      [1, 1, 1],
    );

    // The fresh instance decides exactly as before the trap, delta included.
    const after = await fetchOnce(alice);
    assert.equal(after.seen["x-edgeseg-fallback"], undefined);
    assert.deepEqual(after.seen, before.seen);
    assert.equal(after.stats.engine.delta_sequence, 1, "the delta re-applied");
    assert.equal(after.stats.reinstantiations, 1);
  } finally {
    await trapMf.dispose();
  }
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

test("a bad snapshot never replaces the last good one, and is counted by kind", async () => {
  await kv.put("edgeseg.snapshot", new Uint8Array([1, 2, 3, 4]));
  const res = await get("/", { cookie: "edgeseg_uid=alice" });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-test-loaded-version"), "1");
  assert.deepEqual(JSON.parse(res.headers.get("x-test-stats")).refusedLoads, { Truncated: 1 });
  assert.equal((await originSaw(res))["x-edgeseg-tier"], "premium");
});

test("a newer snapshot replaces the serving one; the older one arriving again is a rollback, refused", async () => {
  await kv.put("edgeseg.snapshot", await readFile(process.env.EDGESEG_JS_SNAPSHOT_V2));
  const res = await get("/", { cookie: "edgeseg_uid=alice" });
  assert.equal(res.headers.get("x-test-loaded-version"), "2");
  assert.equal((await originSaw(res))["x-edgeseg-snapshot"], "1", "decided before the background read");
  assert.equal((await originSaw(await get("/", { cookie: "edgeseg_uid=alice" })))["x-edgeseg-snapshot"], "2");
  await kv.put("edgeseg.snapshot", await readFile(snapshotPath));
  const after = await get("/", { cookie: "edgeseg_uid=alice" });
  assert.equal(after.status, 200);
  assert.equal(after.headers.get("x-test-loaded-version"), "2", "v1 must not replace v2");
  assert.deepEqual(JSON.parse(after.headers.get("x-test-stats")).refusedLoads, { Truncated: 1, Rollback: 1 });
  const h = await originSaw(after);
  assert.equal(h["x-edgeseg-snapshot"], "2");
  assert.equal(h["x-edgeseg-tier"], "premium");
});


test("with publicKey: only snapshots signed by the publisher's key load (WebCrypto Ed25519 in workerd)", async () => {
  const root = dirname(pkg);
  const scriptPath = join(root, "worker-test-signed-entry.mjs");
  await writeFile(
    scriptPath,
    `import { withEdgeseg, loadedEngine, lastSnapshotError } from "./pkg/worker.js";
const handler = withEdgeseg({ binding: "SNAPSHOTS", refreshMs: 0, publicKey: ${JSON.stringify(process.env.EDGESEG_JS_PUBLIC_KEY)} });
${settling}
export default {
  async fetch(request, env, ctx) {
    const [testCtx, settled] = settling(ctx);
    await handler.fetch(request, env, testCtx).then((r) => r.arrayBuffer()).catch(() => null);
    await settled();
    const out = new Response("ok");
    out.headers.set("x-test-loaded-version", String(loadedEngine()?.version ?? "none"));
    out.headers.set("x-test-error-kind", String(lastSnapshotError()?.kind ?? "none"));
    return out;
  },
};`,
  );
  // The default origin is fetch(): keep it off the network.
  const signedMf = workerd(scriptPath, { outboundService: () => new Response("origin") });
  try {
    await signedMf.ready;
    const store = await signedMf.getKVNamespace("SNAPSHOTS");
    const load = async (bytes) => {
      await store.put("edgeseg.snapshot", bytes);
      const res = await signedMf.dispatchFetch("https://shop.example/");
      await res.arrayBuffer();
      return [res.headers.get("x-test-loaded-version"), res.headers.get("x-test-error-kind")];
    };
    assert.deepEqual(await load(await readFile(snapshotPath)), ["none", "Signature"], "unsigned refused");
    assert.deepEqual(await load(await readFile(process.env.EDGESEG_JS_SNAPSHOT_IMPOSTOR)), ["none", "Signature"], "another key refused");
    const signed = await readFile(process.env.EDGESEG_JS_SNAPSHOT_SIGNED);
    const tampered = Uint8Array.from(signed);
    tampered[tampered.length - 1] ^= 1;
    assert.deepEqual(await load(tampered), ["none", "Signature"], "a bad signature refused");
    assert.deepEqual(await load(signed), ["3", "none"]);
    assert.deepEqual(await load(await readFile(snapshotPath)), ["3", "Signature"], "unsigned never replaces the signed one");
  } finally {
    await signedMf.dispose();
  }
});

// Refreshes in the background: the snapshot comes from the test itself (a Node function behind a
// service binding, read by an `options.snapshot` hook), which holds a read as long as it likes.
describe("a due refresh once a snapshot serves: read after the response (ctx.waitUntil)", () => {
  let sourceMf;
  let v1;
  let v2;
  /** What the source answers: snapshot bytes, or an HTTP status (404: no snapshot, 503: a failed read). */
  let answer = 404;
  let reads = 0;
  let unanswered = 0;
  let hold = null;
  /** Held reads' `open`s: a failed test opens the ones it left held, so the next ones run. */
  const opens = new Set();

  /** Holds the next read until `open(answer)`; `reached` resolves when the read arrives. */
  function holdNextRead() {
    let arrived;
    let open;
    const reached = new Promise((r) => (arrived = r));
    const opened = new Promise((r) => (open = r));
    hold = { arrived, opened };
    opens.add(open);
    return {
      reached: within(reached, 5000, "the snapshot read"),
      open: (body) => (opens.delete(open), open(body)),
    };
  }

  async function serveRead() {
    reads++;
    unanswered++;
    let body = answer;
    const held = hold;
    hold = null;
    if (held) {
      held.arrived();
      body = await held.opened;
    }
    unanswered--;
    return body instanceof Uint8Array ? new Response(body) : new Response(null, { status: body });
  }

  /** A request (`noCtx`: the entry calls fetch(request, env), as a runtime without ctx would). */
  const visit = (id, noCtx = false) =>
    sourceMf.dispatchFetch("https://shop.example/", {
      headers: { cookie: `edgeseg_uid=${id}`, ...(noCtx ? { "x-test-no-ctx": "1" } : {}) },
    });
  const snapshotSeen = async (res) => (await res.json()).headers["x-edgeseg-snapshot"];
  /** The adapter's state, read without a request through it (no refresh started). */
  const adapterState = async () => (await sourceMf.dispatchFetch("https://shop.example/__state")).json();
  /** `promise`, or a failure after `ms`. */
  function within(promise, ms, what) {
    let timer;
    const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }
  /** Whether `promise` settles within `ms`. */
  const settledWithin = (promise, ms) => Promise.race([promise.then(() => true), new Promise((r) => setTimeout(() => r(false), ms))]);
  async function until(check, what) {
    for (let i = 0; i < 200; i++) {
      if (await check(await adapterState())) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`${what}: not within 5 s (${JSON.stringify(await adapterState())})`);
  }

  before(async () => {
    v1 = new Uint8Array(await readFile(snapshotPath));
    v2 = new Uint8Array(await readFile(process.env.EDGESEG_JS_SNAPSHOT_V2));
    const scriptPath = join(dirname(pkg), "worker-test-background-entry.mjs");
    await writeFile(
      scriptPath,
      `import { withEdgeseg, loadedEngine, lastSnapshotError, stats } from "./pkg/worker.js";
const handler = withEdgeseg({
  refreshMs: 0, // every request finds a refresh due
  snapshot: async (env) => {
    const res = await env.SOURCE.fetch("https://source.invalid/edgeseg.snapshot");
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(\`the snapshot source answered \${res.status}\`);
    return res.arrayBuffer();
  },
  origin: (req) => new Response(JSON.stringify({ headers: Object.fromEntries(req.headers) })),
});
export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__state") {
      const err = lastSnapshotError();
      const s = { version: loadedEngine()?.version ?? null, error: err ? (err.kind ?? err.message) : null, stats: stats() };
      return new Response(JSON.stringify(s, (k, v) => (typeof v === "bigint" ? Number(v) : v)));
    }
    return handler.fetch(request, env, request.headers.has("x-test-no-ctx") ? undefined : ctx);
  },
};`,
    );
    sourceMf = workerd(scriptPath, { serviceBindings: { SOURCE: serveRead } });
    await sourceMf.ready;
  });

  afterEach(() => {
    hold = null;
    for (const open of opens) open(404);
    opens.clear();
  });

  after(async () => {
    await sourceMf?.dispose();
  });

  test("no snapshot has loaded yet: the request waits for the read and is decided with what it read", async () => {
    const read = holdNextRead();
    const pending = visit("alice");
    await read.reached;
    assert.equal(await settledWithin(pending, 300), false, "answered before its snapshot was read");
    answer = v1;
    read.open(v1);
    const res = await within(pending, 5000, "the first request");
    assert.equal(await snapshotSeen(res), "1");
    assert.equal(reads, 1);
  });

  test("a due refresh is read in the background: requests are decided with the serving engine meanwhile, the new snapshot serves after", async () => {
    const read = holdNextRead();
    const res = await within(visit("alice"), 5000, "a request while the snapshot read is held");
    assert.equal(await snapshotSeen(res), "1", "decided with the engine serving");
    await read.reached;
    assert.equal(unanswered, 1, "answered while the read is still pending");
    // One refresh at a time: a request meanwhile is decided too, and starts no second read.
    assert.equal(await snapshotSeen(await within(visit("bob"), 5000, "a second request")), "1");
    assert.equal(reads, 2);
    assert.equal(unanswered, 1);

    answer = v2;
    read.open(v2);
    await until((s) => s.version === 2, "v2 loaded in the background");
    assert.equal(await snapshotSeen(await visit("alice")), "2", "a later request sees the new snapshot");
    const s = await adapterState();
    assert.deepEqual([s.error, s.stats.refusedLoads], [null, {}]);
  });

  test("a background refresh that fails is counted as before and keeps the serving engine", async () => {
    // A snapshot that does not load (4 bytes: Truncated), then a read that fails (the hook throws).
    let read = holdNextRead();
    assert.equal(await snapshotSeen(await within(visit("alice"), 5000, "a request while the read is held")), "2");
    await read.reached;
    answer = 404; // later reads find nothing, which changes nothing: the counts stay exact
    read.open(new Uint8Array([1, 2, 3, 4]));
    await until((s) => s.stats.refusedLoads.Truncated === 1, "the refused snapshot counted");
    assert.equal((await adapterState()).error, "Truncated");

    read = holdNextRead();
    assert.equal(await snapshotSeen(await within(visit("alice"), 5000, "a request while the read is held")), "2");
    await read.reached;
    read.open(503);
    await until((s) => s.stats.refusedLoads.Error === 1, "the failed read counted");

    const res = await visit("alice");
    assert.equal(await snapshotSeen(res), "2", "the last good engine still serves");
    const s = await adapterState();
    assert.deepEqual([s.version, s.error, s.stats.refusedLoads], [2, "the snapshot source answered 503", { Truncated: 1, Error: 1 }]);
  });

  test("without ctx.waitUntil (fetch(request, env)) a due refresh is awaited, as before", async () => {
    const read = holdNextRead();
    const pending = visit("alice", true);
    await read.reached;
    assert.equal(await settledWithin(pending, 300), false, "answered before the due read");
    answer = v2;
    read.open(v2);
    assert.equal(await snapshotSeen(await within(pending, 5000, "the request")), "2");
  });
});
