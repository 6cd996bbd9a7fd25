// edgeseg Worker adapter: a fetch handler for Workers-style runtimes (Cloudflare Workers / workerd).
//
// The wasm module is a precompiled import (`CompiledWasm`): Workers forbid compiling wasm from bytes
// at run time, so it is instantiated with `initSync({ module })`. The snapshot is read from a
// binding (a KV namespace, a static-assets fetcher, or bytes), re-read at most every `refreshMs` —
// once an engine serves, after the response (`ctx.waitUntil`), so no request waits for the read —
// and a snapshot that fails to load, has expired, is an older version of the serving one (a
// rollback), or — with `publicKey` set — is unsigned or wrongly signed (checked with WebCrypto's
// Ed25519) never replaces the last good one.
//
// Per request (client-sent x-edgeseg-* headers are always dropped): check a verified identity
// source's token (below) → decide → 429 with the decision's response headers (RateLimit fields, Retry-After)
// when its throttle rejects → tag the request (decision headers) and pick its origin (`route`) →
// fetch the origin → add the decision's response headers (Cache-Control, Vary, surrogate keys,
// RateLimit fields) to the response, merged with the origin's so that caching never loosens what
// the origin said (the core's `mergeResponseHeaders`: `private`, `no-store`, `no-cache` and
// `Set-Cookie` answers are never made public; `Vary` is appended to, never replaced). `GET /user/segments` answers from the edge with the caller's
// tier and segments, `ETag` = snapshot version, 304 on `If-None-Match`.
//
// If `decide` throws (a trap, a refused request) the request is still served: untagged but for
// `x-edgeseg-fallback`, no throttle, no cache policy, the client's `baggage` without `edgeseg.*`
// members — fail-open for throttle and cache, fail-closed for anything consent-gated. After a
// real trap (`WebAssembly.RuntimeError`) the instance may be corrupt (its shadow stack and
// allocator are left mid-call), so it is thrown away: a fresh instance of the same module, the
// last good snapshot loaded into it again and its revocation delta re-applied.
//
// A revocation delta (`edgeseg revoke`) is read beside the snapshot (`deltaKey` in the same KV
// namespace or fetcher, or `options.delta`) and applied when it changes; a refused one (another
// snapshot's, not newer, over the snapshot's `delta_bytes`) leaves the applied one in force.
// `stats()` counts fallbacks, traps, re-instantiations, refreshes and refused snapshots and deltas
// by kind; metrics.js serves them, per-tier counters and latency to Prometheus (`options.metrics`).
//
// A sharded snapshot (`edgeseg build --shards N`; `sharded: true`) is a head at `<key>/head` and
// shards at `<key>/shard/<i>`: per request the adapter asks the engine which shard the identity
// needs, reads it once if not held (concurrent requests share the read), checks its SHA-256 against
// the head with WebCrypto and hands it to the engine, which keeps shards in an LRU under a byte
// budget. Any failure (no key, a failed read, a wrong digest, a refused shard) still decides: the
// engine fails closed (`shard_missing`, `x-edgeseg-shard-missing: 1`), and the next request retries.
//
// Verified identity (issue 19): when the snapshot's identity sources require a token (a JWT, or an
// HMAC-signed cookie whose secret is `env[secretEnv]`), the token the engine names is checked with
// WebCrypto (identity.js) before the shard is chosen and the request decided, and only the id it
// proves reaches the engine (`verifiedId`). A forged header, a bad, expired or foreign token is
// decided anonymous — throttled per client address like any anonymous request — and counted by
// reason in `stats().identity`.
//
// `throttle`, `cache` and `route` are null when no segment or tier configures them: nothing happens.
// `__edgesegReset` is appended to wasm-bindgen's web glue by `cargo xtask build-js`: it forgets
// the instance so that the next `initSync` makes a new one.
import { initSync, Engine, stripBaggage, mergeResponseHeaders, __edgesegReset } from "./web/edgeseg.js";
import wasmModule from "./web/edgeseg_bg.wasm";
import { verifyIdentity, verifiesIdentity, withVerifiedId } from "./identity.js";
import { createMetrics } from "./metrics.js";

let initialised = false;

function init() {
  if (!initialised) {
    initSync({ module: wasmModule });
    initialised = true;
  }
}

/**
 * Per isolate: the last good engine and its bytes, the delta applied to it (and the last delta
 * tried, so a refused one is not retried every refresh), when the binding was last read, the
 * last load error, and the refresh under way (`background`: the same, never rejecting).
 */
const state = { engine: null, bytes: null, delta: null, deltaTried: null, checkedAt: -Infinity, lastError: null, loading: null, background: null };
const counters = { fallbacks: 0, traps: 0, reinstantiations: 0, refreshes: { started: 0, loaded: 0 }, refusedLoads: {}, refusedDeltas: {}, identity: { verified: 0, refused: {} } };

function countKind(map, err) {
  const kind = err instanceof WebAssembly.RuntimeError ? "Trap" : (err?.kind ?? "Error");
  map[kind] = (map[kind] ?? 0) + 1;
}

/**
 * After a trap: a new instance, the last good snapshot and its delta loaded into it again. The old
 * engine is released first (its finalizer must never free into the new instance).
 */
function reinstantiate() {
  const old = state.engine;
  state.engine = null;
  try {
    old?.free();
  } catch {
    // Freeing into the broken instance may trap again; the handle is unregistered either way.
  }
  __edgesegReset();
  initSync({ module: wasmModule });
  counters.reinstantiations++;
  if (state.bytes == null) return;
  try {
    state.engine = withBudget(Engine.load(state.bytes));
    if (state.delta != null) state.engine.applyDelta(state.delta);
  } catch (err) {
    // Cannot happen with bytes that loaded before; serve untagged until the next good refresh.
    state.lastError = err;
    console.error(`edgeseg: reloading the last good snapshot after a trap failed: ${err?.message ?? err}`);
  }
}

function sameBytes(a, b) {
  return a != null && b != null && a.length === b.length && a.every((x, i) => x === b[i]);
}

async function readBinding(binding, key) {
  if (binding == null) return null;
  if (binding instanceof ArrayBuffer) return new Uint8Array(binding);
  if (ArrayBuffer.isView(binding)) return new Uint8Array(binding.buffer, binding.byteOffset, binding.byteLength);
  if (typeof binding.head === "function" && typeof binding.list === "function") {
    const object = await binding.get(key); // R2 bucket: an object body, or null
    return object == null ? null : new Uint8Array(await object.arrayBuffer());
  }
  if (typeof binding.get === "function" && typeof binding.fetch !== "function") {
    const bytes = await binding.get(key, "arrayBuffer"); // KV namespace
    return bytes == null ? null : new Uint8Array(bytes);
  }
  if (typeof binding.fetch === "function") {
    const res = await binding.fetch(new Request(`https://assets.invalid/${key}`)); // static assets / service
    return res.ok ? new Uint8Array(await res.arrayBuffer()) : null;
  }
  throw new TypeError("edgeseg: the snapshot binding is neither KV, a fetcher, nor bytes");
}

function signatureError(message) {
  return Object.assign(new Error(`edgeseg: snapshot signature missing or invalid: ${message}`), { kind: "Signature", code: 15 });
}

function hexBytes(hex) {
  if (typeof hex !== "string" || !/^[0-9a-fA-F]{64}$/.test(hex.trim())) return null;
  return Uint8Array.from(hex.trim().match(/../g), (h) => parseInt(h, 16));
}

let verifyKey = null; // [configured key, imported CryptoKey]

/**
 * Checks a signed container (edge/src/format.rs: flag bit 0, then a 64-byte Ed25519 signature over
 * header and payload) with WebCrypto before the module sees it. The module never verifies.
 */
async function verifySignature(bytes, publicKey) {
  const raw = publicKey instanceof Uint8Array ? publicKey : hexBytes(publicKey);
  if (raw == null || raw.length !== 32) throw signatureError("publicKey must be 32 bytes or 64 hex digits");
  if (bytes.length < 20) throw signatureError(`${bytes.length} bytes, no header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if ((view.getUint16(10, true) & 1) === 0) throw signatureError("the snapshot is not signed");
  const end = 20 + view.getUint32(12, true);
  if (bytes.length !== end + 64) throw signatureError(`${bytes.length} bytes, expected ${end} and a 64-byte signature`);
  if (verifyKey?.[0] !== publicKey) {
    const key = await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    verifyKey = [publicKey, key];
  }
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, verifyKey[1], bytes.subarray(end), bytes.subarray(0, end));
  if (!ok) throw signatureError("it does not verify under the configured public key");
}

function isStore(binding) {
  return binding != null && (typeof binding.get === "function" || typeof binding.fetch === "function");
}

async function refresh(env, options, now) {
  const binding = env[options.binding ?? "EDGESEG_SNAPSHOT"];
  counters.refreshes.started++;
  try {
    const key = options.key ?? "edgeseg.snapshot";
    const bytes = options.snapshot ? await options.snapshot(env) : await readBinding(binding, options.sharded ? `${key}/head` : key);
    if (bytes == null) return;
    const raw = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (options.publicKey != null) await verifySignature(raw, options.publicKey);
    const engine = Engine.load(raw);
    try {
      // Last-known-good: an expired snapshot, or an older version of the serving one, never serves.
      engine.checkReplaces(state.engine?.snapshotId, state.engine?.version, now, state.engine?.checksum);
    } catch (err) {
      engine.free();
      throw err;
    }
    if (state.engine && state.engine.snapshotId === engine.snapshotId && state.engine.version === engine.version) {
      engine.free();
    } else {
      const old = state.engine;
      state.engine = withBudget(engine);
      state.bytes = raw;
      state.delta = state.deltaTried = null; // a delta belongs to one snapshot
      counters.refreshes.loaded++;
      old?.free();
    }
    state.lastError = null;
  } catch (err) {
    // Keep serving the last good snapshot; the error is visible in logs, `lastError` and `stats()`.
    state.lastError = err;
    countKind(counters.refusedLoads, err);
    console.error(`edgeseg: snapshot not loaded (${err?.kind ?? "error"}): ${err?.message ?? err}`);
    if (err instanceof WebAssembly.RuntimeError) reinstantiate();
  } finally {
    state.checkedAt = now;
  }
  try {
    const bytes = options.delta
      ? await options.delta(env)
      : !options.snapshot && isStore(binding)
        ? await readBinding(binding, options.deltaKey ?? "edgeseg.delta")
        : null;
    if (bytes == null || state.engine == null) return;
    const raw = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (sameBytes(raw, state.deltaTried)) return;
    state.deltaTried = raw;
    state.engine.applyDelta(raw);
    state.delta = raw;
  } catch (err) {
    countKind(counters.refusedDeltas, err);
    console.error(`edgeseg: delta not applied (${err?.kind ?? "error"}): ${err?.message ?? err}`);
    if (err instanceof WebAssembly.RuntimeError) reinstantiate();
  }
}

/**
 * Starts a refresh when `refreshMs` has passed (concurrent requests share one: `state.loading`)
 * and returns what this request must wait for: null, or that refresh before the first good
 * snapshot, or without `ctx.waitUntil`. Once an engine serves, the read (the head may be MBs),
 * its signature check, load and delta run after the response, kept alive by `ctx.waitUntil`:
 * the request is decided with the engine already serving, and the next ones see the new snapshot.
 * Synchronous, so that no refresh can swap (and free) the engine between here and the caller's
 * `state.engine`. A refresh counts and logs its own refusals; should it throw nonetheless (a
 * failed re-instantiation), a waiting request gets the error as before, and the background
 * copy logs it once instead of leaving an unhandled rejection.
 */
function refreshIfDue(env, options, ctx) {
  init();
  const now = Date.now();
  if (now - state.checkedAt < (options.refreshMs ?? 60_000)) return null;
  if (state.loading == null) {
    const loading = refresh(env, options, now).finally(() => {
      state.loading = state.background = null;
    });
    state.loading = loading;
    state.background = loading.catch((err) => console.error(`edgeseg: background refresh failed: ${err?.message ?? err}`));
  }
  if (state.engine == null || typeof ctx?.waitUntil !== "function") return state.loading;
  ctx.waitUntil(state.background);
  return null;
}

// Sharded snapshots: the shard reads in flight (one per index, shared by concurrent requests;
// dropped when done, so a failed read is retried by the next request) for the engine `owner`,
// and the adapter's shard counters (since the isolate started).
const shards = { owner: null, inFlight: new Map(), budget: null, counts: new WeakMap() };
const shardCounters = { hits: 0, misses: 0, reads: 0, readFailures: 0, refused: {} };

/** Applies the configured shard budget to an engine the adapter is about to serve with. */
function withBudget(engine) {
  if (shards.budget != null) engine.setShardBudget(shards.budget);
  return engine;
}

function shardError(message) {
  return Object.assign(new Error(`edgeseg: ${message}`), { kind: "Digest" });
}

/** Shard `index` of the serving snapshot: `options.shard(env, index)`, else `<key>/shard/<index>`. */
async function readShard(env, options, index) {
  if (options.shard) return options.shard(env, index);
  const binding = env[options.binding ?? "EDGESEG_SNAPSHOT"];
  return readBinding(binding, `${options.key ?? "edgeseg.snapshot"}/shard/${index}`);
}

/** Reads shard `index`, checks its SHA-256 against the head's, and loads it into `engine`. Never throws. */
async function fetchShard(env, options, engine, index) {
  shardCounters.reads++;
  let raw;
  try {
    const bytes = await readShard(env, options, index);
    if (bytes == null) throw new Error(`no shard ${index} in the binding`);
    raw = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  } catch (err) {
    shardCounters.readFailures++;
    console.error(`edgeseg: shard ${index} not read: ${err?.message ?? err}`);
    return;
  }
  try {
    if (state.engine !== engine) return; // replaced (a new snapshot, a trap) while reading
    const want = engine.shardDigest(index);
    const got = new Uint8Array(await crypto.subtle.digest("SHA-256", raw));
    if (want == null || !sameBytes(want, got)) throw shardError(`shard ${index}: its SHA-256 is not the head's`);
    if (state.engine !== engine) return;
    engine.loadShard(raw);
  } catch (err) {
    countKind(shardCounters.refused, err);
    console.error(`edgeseg: shard ${index} refused (${err?.kind ?? "error"}): ${err?.message ?? err}`);
    if (err instanceof WebAssembly.RuntimeError) reinstantiate();
  }
}

/** The engine's shard count (0: not sharded), asked once per engine. */
function shardCount(engine) {
  let count = shards.counts.get(engine);
  if (count === undefined) shards.counts.set(engine, (count = engine.shardCount));
  return count;
}

/**
 * The read of the shard `request` needs when `engine` does not hold it (a promise that never
 * rejects, shared by concurrent requests), else null — synchronously, so that a request needing
 * no read decides with the engine it was handed, without yielding. Throws only a trap: a request
 * the engine refuses is left to `decide`, which answers for it as for an unsharded snapshot.
 */
function shardRead(env, options, engine, request) {
  if (shardCount(engine) === 0) return null;
  let index;
  try {
    index = engine.shardFor(request);
    if (index === undefined || engine.hasShard(index)) return null;
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) throw err;
    return null;
  }
  if (shards.owner !== engine) {
    shards.owner = engine;
    shards.inFlight = new Map();
  }
  let read = shards.inFlight.get(index);
  if (read == null) {
    const inFlight = shards.inFlight;
    read = fetchShard(env, options, engine, index).finally(() => inFlight.delete(index));
    inFlight.set(index, read);
  }
  return read;
}

/**
 * Verified identity (issue 19): checks the token the request's first present identity source
 * carries (identity.js, WebCrypto) and returns the engine and the request to decide — with
 * `verifiedId` when the token proves an id, else the request as it came (a token without a
 * verified id is anonymous; the engine counts it too). A refresh or a trap may replace the engine
 * while WebCrypto works: the check is then made again against the new one, whose snapshot may
 * name other sources or keys (twice at most). Counted in `stats().identity`. Throws only what
 * `identityClaim` throws, as `decide` would (a trap, a request the engine refuses).
 */
async function identify(env, engine, request) {
  for (let tries = 0; ; tries++) {
    const result = await verifyIdentity(engine, request, env);
    const current = state.engine;
    if (current != null && current !== engine && tries < 2) {
      engine = current;
      continue;
    }
    if (result?.id !== undefined) {
      counters.identity.verified++;
      return [current ?? engine, withVerifiedId(request, result.id)];
    }
    if (result?.refused !== undefined) {
      const refused = counters.identity.refused;
      refused[result.refused] = (refused[result.refused] ?? 0) + 1;
    }
    return [current ?? engine, request];
  }
}

function etagMatches(ifNoneMatch, etag) {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(",").some((t) => {
    t = t.trim();
    return t === "*" || t.replace(/^W\//, "") === etag;
  });
}

function stripEdgesegHeaders(headers) {
  for (const name of [...headers.keys()]) {
    if (name.startsWith("x-edgeseg-")) headers.delete(name);
  }
}

/**
 * A fallback forwards the client's baggage, but never members in edgeseg's namespace (in any
 * case): the core's own `stripBaggage`, so it strips exactly what a decision would. `Headers`
 * has already joined several `baggage` headers into one list. Should the module fail even here,
 * no client baggage is forwarded at all.
 */
function stripEdgesegBaggage(headers) {
  const baggage = headers.get("baggage");
  if (baggage == null) return;
  let kept = "";
  try {
    kept = stripBaggage(baggage);
  } catch (err) {
    console.error(`edgeseg: stripping baggage failed, dropping it: ${err?.message ?? err}`);
  }
  if (kept) headers.set("baggage", kept);
  else headers.delete("baggage");
}

function addHeaders(headers, list) {
  for (const h of list ?? []) headers.set(h.name, h.value);
}

const CACHE_HEADERS = ["cache-control", "vary", "surrogate-key", "cache-tag"];

/**
 * The decision's response headers merged with the origin's by the core's rule
 * (`mergeResponseHeaders`, edge/src/response.rs): an origin answer that is `private`, `no-store`,
 * `no-cache` or sets a cookie is never made public, and `Vary` is appended to. Should the module
 * fail here, no cache header is added at all (the origin's stand: fail-open for cache, as a
 * fallback is).
 */
function originMerged(decided, originHeaders) {
  try {
    return mergeResponseHeaders(
      decided.map((h) => [h.name, h.value]),
      originHeaders,
    );
  } catch (err) {
    console.error(`edgeseg: merging response headers failed, the origin's cache headers stand: ${err?.message ?? err}`);
    return decided.filter((h) => !CACHE_HEADERS.includes(h.name));
  }
}

function segmentsResponse(request, decision) {
  const etag = `"${decision.snapshot_version}"`;
  const headers = new Headers({
    etag,
    // Per user, and revalidated on every use: a new snapshot shows at the next poll.
    "cache-control": "private, no-cache",
    vary: "cookie",
  });
  if (etagMatches(request.headers.get("if-none-match"), etag)) {
    return new Response(null, { status: 304, headers });
  }
  headers.set("content-type", "application/json; charset=utf-8");
  const body = { tier: decision.tier, segments: decision.segments, version: decision.snapshot_version };
  return new Response(JSON.stringify(body), { status: 200, headers });
}

function rejected(decision) {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
  addHeaders(headers, decision.response_headers.filter((h) => !CACHE_HEADERS.includes(h.name)));
  headers.set("cache-control", "no-store");
  addHeaders(headers, decision.headers.filter((h) => h.name === "x-edgeseg-tier"));
  return new Response("Too Many Requests\n", { status: 429, headers });
}

/**
 * Wraps an origin in edgeseg. Returns `{ fetch(request, env, ctx) }`, an ES-module Worker.
 * @param {import("./worker.d.ts").WorkerOptions} [options]
 */
export function withEdgeseg(options = {}) {
  const segmentsPath = options.segmentsPath ?? "/user/segments";
  const origin = options.origin ?? ((request) => fetch(request));
  if (options.shardBudgetBytes != null) shards.budget = options.shardBudgetBytes;
  const metrics = createMetrics(options.metrics, stats, servingVersion);
  // One request; `seen.tier` is set once a decision has one (metrics.js counts by it).
  const handler = {
    async fetch(request, env, ctx, seen = {}) {
      const refreshing = refreshIfDue(env, options, ctx);
      if (refreshing != null) await refreshing;
      let engine = state.engine;
      if (!engine) {
        // No snapshot has ever loaded: fail open, untagged.
        return origin(request, env, ctx, null);
      }
      let decision;
      try {
        // With a verified identity source, the id the request's token proves (or none): the
        // shard, like the decision, depends on it.
        let subject = request;
        if (verifiesIdentity(engine)) [engine, subject] = await identify(env, engine, request);
        const read = shardRead(env, options, engine, subject);
        if (read != null) {
          await read;
          engine = state.engine ?? engine; // a refresh, or a trap while loading, may have replaced it
        }
        decision = engine.decide(subject);
      } catch (err) {
        // The engine failed on this request (a wasm trap, or a request it refused): serve it
        // anyway. Fail-open for throttles and cache (no 429, no cache policy added), fail-closed
        // for consent-gated tags (none sent; client-sent x-edgeseg-* removed as always).
        const trapped = err instanceof WebAssembly.RuntimeError;
        const reason = trapped ? "guest-trap" : "guest-error";
        console.error(`edgeseg: ${reason}, answering with the fallback: ${err?.message ?? err}`);
        counters.fallbacks++;
        if (trapped) {
          counters.traps++;
          reinstantiate();
        }
        const untagged = new Request(request);
        stripEdgesegHeaders(untagged.headers);
        stripEdgesegBaggage(untagged.headers);
        untagged.headers.set("x-edgeseg-fallback", reason);
        return origin(untagged, env, ctx, null);
      }
      seen.tier = decision.tier;
      if (decision.shard_missing) shardCounters.misses++;
      else if (decision.identified && shardCount(engine) !== 0) shardCounters.hits++;
      const url = new URL(request.url);
      // The throttle first, for every path: `/user/segments` is a request like any other, or a
      // client could poll it (guessing ids) without limit.
      if (decision.throttle?.result === "Rejected") {
        return rejected(decision);
      }
      if (request.method === "GET" && url.pathname === segmentsPath) {
        return segmentsResponse(request, decision);
      }
      let target = url;
      const base = decision.route ? options.routeTo?.(decision.route, env) : null;
      if (base) {
        const b = new URL(base);
        target = new URL(url.pathname + url.search, b);
      }
      const tagged = new Request(target, request);
      // Only the engine may say who this is: a client's own x-edgeseg-* headers never reach the origin.
      stripEdgesegHeaders(tagged.headers);
      addHeaders(tagged.headers, decision.headers);
      const upstream = await origin(tagged, env, ctx, decision);
      if (!decision.response_headers?.length) return upstream;
      const response = new Response(upstream.body, upstream);
      addHeaders(response.headers, originMerged(decision.response_headers, response.headers));
      return response;
    },
  };
  if (metrics == null) return handler;
  return {
    async fetch(request, env, ctx) {
      const scrape = await metrics.serve(request, env);
      if (scrape != null) return scrape;
      const seen = { tier: "none" };
      const started = metrics.clock();
      let status = 500; // what the runtime answers when the handler throws
      try {
        const response = await handler.fetch(request, env, ctx, seen);
        status = response.status;
        return response;
      } finally {
        metrics.observe(seen.tier, status, (metrics.clock() - started) / 1000);
        metrics.maybePush(env, ctx);
      }
    },
  };
}

function servingVersion() {
  try {
    return state.engine?.version ?? null;
  } catch {
    return null; // a broken instance: the next decide re-instantiates it
  }
}

/** The engine the adapter holds now (or null), for diagnostics and tests. */
export function loadedEngine() {
  return state.engine;
}

/** The last snapshot load error, null after a good load. */
export function lastSnapshotError() {
  return state.lastError;
}

/**
 * The adapter's counters (since the isolate started) and the serving engine's own `stats()`
 * (since it was loaded or re-instantiated; `stale_decisions`, `headers_skipped`, throttle table).
 */
export function stats() {
  let engine = null;
  try {
    engine = state.engine?.stats() ?? null;
  } catch {
    // A broken instance: the next decide re-instantiates it.
  }
  return {
    fallbacks: counters.fallbacks,
    traps: counters.traps,
    reinstantiations: counters.reinstantiations,
    refreshes: { ...counters.refreshes },
    refusedLoads: { ...counters.refusedLoads },
    refusedDeltas: { ...counters.refusedDeltas },
    identity: { verified: counters.identity.verified, refused: { ...counters.identity.refused } },
    shards: shardStats(engine),
    engine,
  };
}

/** The adapter's shard counters, with the serving engine's evictions, held shards and budget. */
function shardStats(engine) {
  const held = engine?.shards;
  return {
    ...shardCounters,
    refused: { ...shardCounters.refused },
    evictions: held?.evictions ?? 0,
    held: held?.held ?? 0,
    heldBytes: held?.held_bytes ?? 0,
    budgetBytes: held?.budget_bytes ?? shards.budget ?? 32 * 1024 * 1024,
  };
}

export { Engine };
export { verifyIdentity, withVerifiedId, signHmacIdentity } from "./identity.js";
