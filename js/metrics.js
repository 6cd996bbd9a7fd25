// edgeseg Worker metrics: per-tier request counters and a latency histogram in the Prometheus text
// exposition format (0.0.4), next to the adapter's own counters (fallbacks, snapshot refreshes,
// shards, identity), served at a path behind a bearer token and optionally pushed.
//
// Names and labels fit `edgeseg slo rules`: `edgeseg_worker_requests_total{tier, code}` is the
// request counter (`--metric edgeseg_worker_requests_total`), and
// `edgeseg_worker_request_duration_seconds` the latency histogram (`--latency-histogram`), whose
// default buckets include the demo tiers' p99 bounds (0.2 s, 0.5 s).
//
// Counters are per isolate (a Worker runs in many): every series carries `isolate`, a random id
// drawn at the isolate's first request, so series of different isolates never read as resets and
// `sum by (tier)` adds them up.
//
// Latency is what the Workers clock can see: from the handler's start until the response is
// ready (the origin's headers received, or the edge's own answer), by `performance.now()` (else
// `Date.now()`). Inside a request workerd advances that clock only when the isolate waits on
// I/O, so the time spent in the edge's own code (decide, WebCrypto) reads as ~0 and the origin's,
// KV's and shard reads' waits are what is measured; the response body's streaming is not.
//
// The endpoint is on only when the token's environment variable (default `EDGESEG_METRICS_TOKEN`)
// is set: without it the path is an ordinary request (it goes to the origin) and the adapter logs
// once that the endpoint is off. A wrong or missing `Authorization: Bearer` answers 401; tokens
// are compared as SHA-256 digests in constant time.

/** Default latency buckets (seconds): Prometheus's defaults plus the demo SLOs' 0.2 s bound. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2.5, 5, 10];

const clock = () => globalThis.performance?.now?.() ?? Date.now();

function labelValue(v) {
  return String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs) {
  return `{${Object.entries(pairs)
    .map(([k, v]) => `${k}="${labelValue(v)}"`)
    .join(",")}}`;
}

const num = (v) => Number(v ?? 0);

/** SHA-256 digests of both strings, compared without an early exit (a leak of neither length nor prefix). */
async function sameToken(given, expected) {
  const enc = new TextEncoder();
  const [a, b] = await Promise.all(
    [given, expected].map(async (s) => new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(s)))),
  );
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b); // workerd's own
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The metrics of one isolate for the adapter's `options.metrics` (`false`: none). `stats` is the
 * adapter's `stats()`, `version()` the serving snapshot's version (or null).
 */
export function createMetrics(options, stats, version) {
  if (options === false) return null;
  const cfg = options ?? {};
  const path = cfg.path ?? "/_edgeseg/metrics";
  const tokenEnv = cfg.tokenEnv ?? "EDGESEG_METRICS_TOKEN";
  const buckets = [...(cfg.buckets ?? DEFAULT_BUCKETS)].sort((x, y) => x - y);
  if (!buckets.every((b) => Number.isFinite(b) && b > 0)) throw new TypeError("edgeseg: metrics.buckets must be positive, finite seconds");
  const push = cfg.push ?? null;
  if (push != null && (push.url == null || push.url === "")) throw new TypeError("edgeseg: metrics.push needs a url");
  let isolate = null;
  let saidOff = false;
  const requests = new Map(); // `${tier}\n${code}` → count
  const latency = new Map(); // tier → { counts (per bucket, then +Inf), sum, count }
  const pushes = { ok: 0, failed: 0 };
  let lastPush = -Infinity;
  let pushing = null;

  const id = () => (isolate ??= crypto.randomUUID());

  function observe(tier, status, seconds) {
    id();
    const key = `${tier}\n${status}`;
    requests.set(key, (requests.get(key) ?? 0) + 1);
    let h = latency.get(tier);
    if (h == null) latency.set(tier, (h = { counts: new Array(buckets.length + 1).fill(0), sum: 0, count: 0 }));
    const i = buckets.findIndex((b) => seconds <= b);
    h.counts[i === -1 ? buckets.length : i]++;
    h.sum += seconds;
    h.count++;
  }

  function text() {
    const out = [];
    const iso = { isolate: id() };
    const family = (name, type, help, samples) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [suffix, l, v] of samples) out.push(`${name}${suffix}${labels({ ...iso, ...l })} ${num(v)}`);
    };
    const byKind = (map, extra = {}) => Object.entries(map ?? {}).map(([kind, n]) => ["", { ...extra, kind }, n]);
    family(
      "edgeseg_worker_requests_total",
      "counter",
      "Requests answered by this isolate, by tier (none: no decision) and response status.",
      [...requests].map(([key, n]) => {
        const [tier, code] = key.split("\n");
        return ["", { tier, code }, n];
      }),
    );
    const hist = [];
    for (const [tier, h] of latency) {
      let cumulative = 0;
      buckets.forEach((b, i) => hist.push(["_bucket", { tier, le: String(b) }, (cumulative += h.counts[i])]));
      hist.push(["_bucket", { tier, le: "+Inf" }, h.count], ["_sum", { tier }, h.sum], ["_count", { tier }, h.count]);
    }
    family(
      "edgeseg_worker_request_duration_seconds",
      "histogram",
      "Handler start to response ready, by tier, on the Workers clock (it advances at I/O only: origin, KV and shard waits).",
      hist,
    );
    const s = stats();
    family("edgeseg_worker_fallbacks_total", "counter", "Requests answered with the fail-safe fallback (decide threw).", [["", {}, s.fallbacks]]);
    family("edgeseg_worker_traps_total", "counter", "Wasm traps; each re-instantiated the module.", [["", {}, s.traps]]);
    family("edgeseg_worker_snapshot_refreshes_total", "counter", "Reads of the snapshot binding started.", [["", {}, s.refreshes.started]]);
    family("edgeseg_worker_snapshot_loads_total", "counter", "Snapshots that replaced the serving one.", [["", {}, s.refreshes.loaded]]);
    family("edgeseg_worker_snapshot_refused_total", "counter", "Snapshots refused (the last good one kept serving), by error kind.", byKind(s.refusedLoads));
    family("edgeseg_worker_delta_refused_total", "counter", "Revocation deltas refused, by error kind.", byKind(s.refusedDeltas));
    const serving = version();
    if (serving != null) family("edgeseg_worker_snapshot_version", "gauge", "Version of the serving snapshot.", [["", {}, serving]]);
    family("edgeseg_worker_identity_verified_total", "counter", "Requests whose identity token proved an id.", [["", {}, s.identity.verified]]);
    family("edgeseg_worker_identity_refused_total", "counter", "Identity tokens that proved nothing, by reason.", Object.entries(s.identity.refused).map(([reason, n]) => ["", { reason }, n]));
    const sh = s.shards;
    family("edgeseg_worker_shard_requests_total", "counter", "Identified decisions on a sharded snapshot, by whether their shard was held.", [
      ["", { result: "hit" }, sh.hits],
      ["", { result: "miss" }, sh.misses],
    ]);
    family("edgeseg_worker_shard_reads_total", "counter", "Shard reads started (concurrent requests share one).", [["", {}, sh.reads]]);
    family("edgeseg_worker_shard_read_failures_total", "counter", "Shard reads that failed or found no shard.", [["", {}, sh.readFailures]]);
    family("edgeseg_worker_shard_refused_total", "counter", "Shards read but refused, by kind.", byKind(sh.refused));
    family("edgeseg_worker_shard_evictions_total", "counter", "Shards the serving engine evicted (since it loaded).", [["", {}, sh.evictions]]);
    family("edgeseg_worker_shards_held", "gauge", "Shards the serving engine holds.", [["", {}, sh.held]]);
    family("edgeseg_worker_shard_held_bytes", "gauge", "Bytes of shards the serving engine holds.", [["", {}, sh.heldBytes]]);
    family("edgeseg_worker_shard_budget_bytes", "gauge", "The shard byte budget.", [["", {}, sh.budgetBytes]]);
    if (push != null) {
      family("edgeseg_worker_metrics_pushes_total", "counter", "Pushes of these metrics, by result.", [
        ["", { result: "ok" }, pushes.ok],
        ["", { result: "failed" }, pushes.failed],
      ]);
    }
    return `${out.join("\n")}\n`;
  }

  /** The scrape answer for `request`, or null when it is not one (another path, or the endpoint is off). */
  async function serve(request, env) {
    if (new URL(request.url).pathname !== path) return null;
    const token = env?.[tokenEnv];
    if (typeof token !== "string" || token === "") {
      if (!saidOff) console.warn(`edgeseg: metrics endpoint ${path} is off: no ${tokenEnv} in the environment`);
      saidOff = true;
      return null;
    }
    const auth = request.headers.get("authorization") ?? "";
    const given = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? "";
    if (!(await sameToken(given, token))) {
      return new Response("Unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="edgeseg-metrics"', "cache-control": "no-store", "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response(text(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" } });
  }

  /** Pushes the metrics when `push.intervalMs` has passed, after the response (`ctx.waitUntil`); one push at a time. */
  function maybePush(env, ctx) {
    if (push == null || pushing != null || typeof ctx?.waitUntil !== "function") return;
    const now = Date.now();
    if (now - lastPush < (push.intervalMs ?? 60_000)) return;
    lastPush = now;
    const url = String(typeof push.url === "function" ? push.url(env) : push.url).replaceAll("{isolate}", id());
    const headers = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };
    const token = env?.[push.tokenEnv ?? "EDGESEG_METRICS_PUSH_TOKEN"];
    if (typeof token === "string" && token !== "") headers.authorization = `Bearer ${token}`;
    pushing = fetch(url, { method: push.method ?? "POST", headers, body: text() })
      .then(async (res) => {
        await res.body?.cancel();
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        pushes.ok++;
      })
      .catch((err) => {
        pushes.failed++;
        console.error(`edgeseg: metrics push to ${url} failed: ${err?.message ?? err}`);
      })
      .finally(() => {
        pushing = null;
      });
    ctx.waitUntil(pushing);
  }

  return { observe, serve, maybePush, text, clock };
}
