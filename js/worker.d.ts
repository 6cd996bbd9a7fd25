import type { Decision, Engine, EngineStats } from "./web/edgeseg.js";
import type { IdentityRefusal } from "./identity.js";

export interface WorkerOptions {
  /** Env binding holding the snapshot: a KV namespace, an R2 bucket, a static-assets fetcher, or bytes. Default `EDGESEG_SNAPSHOT`. */
  binding?: string;
  /** Key in KV (or path under the assets fetcher). Default `edgeseg.snapshot`. */
  key?: string;
  /** Custom snapshot source; overrides `binding`. `null` keeps the current snapshot. */
  snapshot?: (env: any) => Promise<ArrayBuffer | Uint8Array | null> | ArrayBuffer | Uint8Array | null;
  /** A sharded snapshot (`edgeseg build --shards N`): its head is read at `<key>/head`. Shards are
   * read at `<key>/shard/<i>` (i decimal) whenever the loaded snapshot is sharded. Default false. */
  sharded?: boolean;
  /** Custom shard source; overrides `<key>/shard/<index>`. `null`: no such shard (decided fail-closed). */
  shard?: (env: any, index: number) => Promise<ArrayBuffer | Uint8Array | null> | ArrayBuffer | Uint8Array | null;
  /** Bytes of decoded shards the engine holds before evicting the least recently used. Default 32 MiB. */
  shardBudgetBytes?: number;
  /** Ed25519 public key (64 hex digits, as `edgeseg keygen` writes it, or 32 bytes): only snapshots
   * signed with its secret key (`edgeseg build --signing-key`) load; others keep the last good one. */
  publicKey?: string | Uint8Array;
  /** Key of the revocation delta in the same KV namespace or fetcher. Default `edgeseg.delta`. */
  deltaKey?: string;
  /** Custom delta source; overrides `deltaKey`. `null`: no (new) delta. */
  delta?: (env: any) => Promise<ArrayBuffer | Uint8Array | null> | ArrayBuffer | Uint8Array | null;
  /** Re-read the binding at most this often (ms). Default 60000. A bad snapshot never replaces a good one.
   * Once a snapshot serves, the re-read (snapshot or head, signature check, load, delta) runs after
   * the response, in `ctx.waitUntil`: the request that finds it due is decided with the serving
   * engine and later ones see the new snapshot. Before the first good snapshot, or when `fetch` is
   * called without a `ctx` that has `waitUntil`, the request waits for it. */
  refreshMs?: number;
  /** Path answered at the edge with `{tier, segments, version}`, `ETag` = snapshot version. Default `/user/segments`. */
  segmentsPath?: string;
  /** Sends the tagged request to the origin. Default `fetch(request)`. `decision` is null when no snapshot ever loaded. */
  origin?: (request: Request, env: any, ctx: any, decision: Decision | null) => Promise<Response> | Response;
  /** Maps a decision's `route` to an origin base URL; falsy keeps the request's URL. */
  routeTo?: (route: unknown, env: any) => string | URL | null | undefined;
  /** Prometheus metrics of this isolate (per-tier requests by status, a latency histogram, refresh,
   * shard and identity counters). Counted unless `false`; served only when the token is set. */
  metrics?: false | MetricsOptions;
}

/** The metrics endpoint and push (js/metrics.js). */
export interface MetricsOptions {
  /** Path answered with the Prometheus text. Default `/_edgeseg/metrics`. */
  path?: string;
  /** Env variable holding the bearer token scrapers send. Default `EDGESEG_METRICS_TOKEN`. Unset or
   * empty: the endpoint is off (the path goes to the origin like any other; logged once). */
  tokenEnv?: string;
  /** Latency histogram bucket bounds in seconds. Default 0.005 … 10, with 0.2 and 0.5. */
  buckets?: number[];
  /** Also push the text (after the response, in `ctx.waitUntil`; one push at a time). */
  push?: MetricsPush;
}

export interface MetricsPush {
  /** Where to send it; `{isolate}` is replaced by this isolate's id (e.g. a Pushgateway
   * `https://pushgateway.example/metrics/job/edgeseg/instance/{isolate}`). */
  url: string | ((env: any) => string);
  /** At most one push per this many ms. Default 60000. */
  intervalMs?: number;
  /** HTTP method. Default `POST`. */
  method?: string;
  /** Env variable holding a bearer token for the push. Default `EDGESEG_METRICS_PUSH_TOKEN`; unset: no `Authorization`. */
  tokenEnv?: string;
}

/** An ES-module Worker: `export default withEdgeseg({...})`. `ctx` is the runtime's execution
 * context: its `waitUntil` carries snapshot refreshes past the response (see `refreshMs`). */
export function withEdgeseg(options?: WorkerOptions): {
  fetch(request: Request, env: any, ctx?: any): Promise<Response>;
};

/** The engine this isolate holds now, or null before the first good snapshot. */
export function loadedEngine(): Engine | null;

/** The last snapshot load error (an `EdgesegError`), null after a good load. */
export function lastSnapshotError(): Error | null;

/** Counters of this isolate's adapter, and the serving engine's own `stats()` (null without one). */
export interface WorkerStats {
  /** Requests answered with the fail-safe fallback (`x-edgeseg-fallback`). */
  fallbacks: number;
  /** Of those, real wasm traps (`WebAssembly.RuntimeError`); each re-instantiated the module. */
  traps: number;
  reinstantiations: number;
  /** Reads of the snapshot binding started, and those that put a new snapshot in service. */
  refreshes: { started: number; loaded: number };
  /** Snapshots that did not replace the serving one, by error kind (`Expired`, `Rollback`, `Signature`, `ChecksumMismatch`, `TooLarge`…; `Trap`, `Error`). */
  refusedLoads: Record<string, number>;
  /** Revocation deltas refused, by error kind (`Invalid`, `Stale`, `TooLarge`…). */
  refusedDeltas: Record<string, number>;
  /** Verified identity: tokens that proved an id, and those refused by reason (`signature`, `expired`, `no_secret`…). */
  identity: WorkerIdentityStats;
  /** Shards of a sharded snapshot (all 0 for an unsharded one). */
  shards: WorkerShardStats;
  /** The engine's counters: throttle table, delta, `stale_decisions`, `headers_skipped`, `shards`. */
  engine: EngineStats | null;
}

/** The adapter's identity checks since the isolate started (none when no identity source is verified). */
export interface WorkerIdentityStats {
  /** Requests whose token proved an id (decided with `verifiedId`). */
  verified: number;
  /** Requests whose token proved nothing (decided anonymous), by reason. */
  refused: Partial<Record<IdentityRefusal, number>>;
}

/** The adapter's shard counters since the isolate started, and the serving engine's LRU. */
export interface WorkerShardStats {
  /** Identified decisions whose shard was held. */
  hits: number;
  /** Decisions made fail-closed because their shard was not held (`shard_missing`). */
  misses: number;
  /** Shard reads started (concurrent requests for one shard share one). */
  reads: number;
  /** Reads that threw or found no shard under the key. */
  readFailures: number;
  /** Shards read but not loaded, by kind: `Digest` (SHA-256 not the head's), or the engine's (`ChecksumMismatch`, `Invalid`…; `Trap`). */
  refused: Record<string, number>;
  /** From the serving engine (since it was loaded or re-instantiated): shards evicted, held, their bytes, the budget. */
  evictions: number;
  held: number;
  heldBytes: number;
  budgetBytes: number;
}

export function stats(): WorkerStats;

export { Engine } from "./web/edgeseg.js";
export { verifyIdentity, withVerifiedId, signHmacIdentity, type IdentityResult, type IdentityRefusal } from "./identity.js";
