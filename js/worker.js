// edgeseg Worker adapter: a fetch handler for Workers-style runtimes (Cloudflare Workers / workerd).
//
// The wasm module is a precompiled import (`CompiledWasm`): Workers forbid compiling wasm from bytes
// at run time, so it is instantiated with `initSync({ module })`. The snapshot is read from a
// binding (a KV namespace, a static-assets fetcher, or bytes), re-read at most every `refreshMs`,
// and a snapshot that fails to load, has expired, is an older version of the serving one (a
// rollback), or — with `publicKey` set — is unsigned or wrongly signed (checked with WebCrypto's
// Ed25519) never replaces the last good one.
//
// Per request (client-sent x-edgeseg-* headers are always dropped): decide → 429 with the decision's response headers (RateLimit fields, Retry-After)
// when its throttle rejects → tag the request (decision headers) and pick its origin (`route`) →
// fetch the origin → add the decision's response headers (Cache-Control, Vary, surrogate keys,
// RateLimit fields) to the response. `GET /user/segments` answers from the edge with the caller's
// tier and segments, `ETag` = snapshot version, 304 on `If-None-Match`.
//
// If `decide` throws (a trap, a refused request) the request is still served: untagged but for
// `x-edgeseg-fallback`, no throttle, no cache policy — fail-open for throttle and cache,
// fail-closed for anything consent-gated.
//
// `throttle`, `cache` and `route` are null when no segment or tier configures them: nothing happens.
import { initSync, Engine } from "./web/edgeseg.js";
import wasmModule from "./web/edgeseg_bg.wasm";

let initialised = false;

function init() {
  if (!initialised) {
    initSync({ module: wasmModule });
    initialised = true;
  }
}

/** Per isolate: the last good engine, when the binding was last read, and the last load error. */
const state = { engine: null, checkedAt: -Infinity, lastError: null, loading: null };

async function readBinding(binding, key) {
  if (binding == null) return null;
  if (binding instanceof ArrayBuffer) return new Uint8Array(binding);
  if (ArrayBuffer.isView(binding)) return new Uint8Array(binding.buffer, binding.byteOffset, binding.byteLength);
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

async function refresh(env, options, now) {
  try {
    const bytes = options.snapshot
      ? await options.snapshot(env)
      : await readBinding(env[options.binding ?? "EDGESEG_SNAPSHOT"], options.key ?? "edgeseg.snapshot");
    if (bytes == null) return;
    const raw = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (options.publicKey != null) await verifySignature(raw, options.publicKey);
    const engine = Engine.load(raw);
    try {
      // Last-known-good: an expired snapshot, or an older version of the serving one, never serves.
      engine.checkReplaces(state.engine?.snapshotId, state.engine?.version, now);
    } catch (err) {
      engine.free();
      throw err;
    }
    if (state.engine && state.engine.snapshotId === engine.snapshotId && state.engine.version === engine.version) {
      engine.free();
    } else {
      const old = state.engine;
      state.engine = engine;
      old?.free();
    }
    state.lastError = null;
  } catch (err) {
    // Keep serving the last good snapshot; the error is visible in logs and `lastError`.
    state.lastError = err;
    console.error(`edgeseg: snapshot not loaded (${err?.kind ?? "error"}): ${err?.message ?? err}`);
  } finally {
    state.checkedAt = now;
  }
}

async function currentEngine(env, options) {
  init();
  const now = Date.now();
  if (now - state.checkedAt >= (options.refreshMs ?? 60_000)) {
    state.loading ??= refresh(env, options, now).finally(() => (state.loading = null));
    await state.loading;
  }
  return state.engine;
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

function addHeaders(headers, list) {
  for (const h of list ?? []) headers.set(h.name, h.value);
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
  addHeaders(headers, decision.response_headers.filter((h) => !["cache-control", "vary", "surrogate-key", "cache-tag"].includes(h.name)));
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
  return {
    async fetch(request, env, ctx) {
      const engine = await currentEngine(env, options);
      if (!engine) {
        // No snapshot has ever loaded: fail open, untagged.
        return origin(request, env, ctx, null);
      }
      let decision;
      try {
        decision = engine.decide(request);
      } catch (err) {
        // The engine failed on this request (a wasm trap, or a request it refused): serve it
        // anyway. Fail-open for throttles and cache (no 429, no cache policy added), fail-closed
        // for consent-gated tags (none sent; client-sent x-edgeseg-* removed as always).
        const reason = err instanceof WebAssembly.RuntimeError ? "guest-trap" : "guest-error";
        console.error(`edgeseg: ${reason}, answering with the fallback: ${err?.message ?? err}`);
        const untagged = new Request(request);
        stripEdgesegHeaders(untagged.headers);
        untagged.headers.set("x-edgeseg-fallback", reason);
        return origin(untagged, env, ctx, null);
      }
      const url = new URL(request.url);
      if (request.method === "GET" && url.pathname === segmentsPath) {
        return segmentsResponse(request, decision);
      }
      if (decision.throttle?.result === "Rejected") {
        return rejected(decision);
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
      addHeaders(response.headers, decision.response_headers);
      return response;
    },
  };
}

/** The engine the adapter holds now (or null), for diagnostics and tests. */
export function loadedEngine() {
  return state.engine;
}

/** The last snapshot load error, null after a good load. */
export function lastSnapshotError() {
  return state.lastError;
}

export { Engine };
