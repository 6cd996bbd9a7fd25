//! The JavaScript skin (feature `js`): the engine for Workers, browsers, Node and Deno.
//!
//! Deliberately thin, and one crossing each way per call. Its JavaScript half (`js/wire.js`,
//! shipped beside the glue as a wasm-bindgen snippet) reads a JS request — a plain object or
//! anything shaped like a Fetch `Request` — into the postcard [`Request`] bytes the raw ABI also
//! takes, copying only the headers and attributes the loaded snapshot reads
//! ([`Snapshot::read_names`](crate::snapshot::Snapshot::read_names)); the core decides; the
//! [`Decision`](crate::Decision) goes back as postcard bytes that `wire.js` reads into a plain
//! object. Reading a request property by property from Rust, and building the decision through
//! serde-wasm-bindgen, cost a boundary crossing per field: about 3× the engine's own time.
//! Errors become JS `Error`s carrying the core's [`ErrorKind`] as `kind` (and its stable ABI
//! number as `code`).
//!
//! What the skin adds on top of the core, and only here:
//! * **Request shapes.** `host`/`path` or a `url` to split; `headers` as a plain object, an array
//!   of `[name, value]` pairs, or anything iterable like that (`Headers`, `Map`); `country` or
//!   Cloudflare's `cf.country`; `clientIp` (or, only on a request carrying Cloudflare's `cf` object, the `cf-connecting-ip` header);
//!   `nowMs` (or `now_ms`); `attributes` as a plain object.
//! * **A clock default.** Without `nowMs` the skin reads `Date.now()`: the core itself still
//!   reads no clock, and a caller wanting reproducible decisions passes `nowMs`.

use crate::engine::Engine as Core;
use crate::error::{Error, ErrorKind};
use crate::request::Request;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Array, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/wire.js")]
extern "C" {
    /// What the JS half needs of a snapshot: header and attribute names (`\n`-separated; `None`:
    /// copy everything), the `Request` error code, the header limit.
    #[wasm_bindgen(js_name = makeReader)]
    fn make_reader(headers: Option<String>, attributes: Option<String>, code: u16, header_bytes: u32) -> JsValue;
    /// The request as postcard `Request` bytes and a varint: unread headers over the limit.
    #[wasm_bindgen(catch, js_name = encodeRequest)]
    fn encode_request(reader: &JsValue, request: &JsValue) -> Result<Vec<u8>, JsValue>;
    /// Headers in any accepted shape as postcard `Vec<(&str, &str)>`.
    #[wasm_bindgen(catch, js_name = encodeHeaders)]
    fn encode_headers(code: u16, headers: &JsValue) -> Result<Vec<u8>, JsValue>;
    /// A postcard `Decision` as the plain object `decide` returns.
    #[wasm_bindgen(js_name = decodeDecision)]
    fn decode_decision(bytes: &[u8]) -> JsValue;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** A request as `decide` and `segmentsFor` accept it: a plain object or a Fetch `Request`. */
export interface RequestLike {
  method?: string;
  /** Absolute URL; split into `host` and `path` (path keeps the query) unless those are given. */
  url?: string;
  host?: string;
  path?: string;
  /** Plain object, `[name, value]` pairs, or a `Headers`/`Map`. Cookies come from `cookie`. */
  headers?: Record<string, string> | Array<[string, string]> | Iterable<[string, string]>;
  /** ISO 3166-1 alpha-2. A Cloudflare `Request` also works through `cf.country`. */
  country?: string | null;
  cf?: { country?: string | null } | null;
  /** The client's address (per-IP throttles), from the host; else, only on a request that carries
   * Cloudflare's `cf` object, the `cf-connecting-ip` header Cloudflare sets. Only hashed. */
  clientIp?: string | null;
  /** Milliseconds since the epoch; `Date.now()` when absent. */
  nowMs?: number;
  attributes?: Record<string, string | number | boolean | null>;
  /** The id the host proved from the token `identityClaim` named (never copy a header here). */
  verifiedId?: string | null;
}

/** One identity source of the snapshot; `verify` null: a bare claim (`"trust": "unverified"`). */
export interface IdentitySource {
  kind: "header" | "cookie";
  name: string;
  verify:
    | { kind: "jwt"; alg: "EdDSA" | "ES256"; key: Uint8Array; claim: string; issuer?: string | null; audience?: string | null; leewayS: number }
    | { kind: "hmac"; secretEnv: string }
    | null;
}

export interface DecisionHeader { name: string; value: string }

/**
 * The core's decision, field for field (snake_case, as the Rust struct has it). Fields the
 * engine gains later (throttle verdict, cache policy, route…) appear without a new skin.
 * `u64` fields are Numbers, except the throttle's opaque 64-bit `state_key`/`state`, which are
 * always BigInts (they are hashes and µs timestamps; a Number would lose bits). Only if another
 * `u64` exceeds `Number.MAX_SAFE_INTEGER` (a consent mask over more than 53 purposes) are that
 * decision's `u64` fields all BigInts.
 */
export interface Decision {
  snapshot_version: number;
  tier: string;
  tier_index: number;
  segments: string[];
  identified: boolean;
  consent: number | bigint;
  /** Purposes each request signal took away from what the snapshot granted (bit masks). */
  narrowing: { gpc: number; tcf: number; cookie: number; revoked: number; tcf_invalid: boolean; cookie_invalid: boolean };
  throttle: {
    source: ActionSource;
    result: "Allowed" | "Rejected" | "Deprioritized";
    lane: string | null;
    limit: number;
    remaining: number;
    retry_after_s: number | null;
    state_key: bigint;
    state: bigint;
  } | null;
  cache: { source: ActionSource; mode: "Public" | "Private" | "NoStore" | "Bypass"; key: string | null } | null;
  route: { source: ActionSource; pool: string; lane: string } | null;
  /** Add to the request sent to the origin. */
  headers: DecisionHeader[];
  /** Add to the response (Cache-Control, Vary, Surrogate-Key, RateLimit…); with a 429 on reject. */
  response_headers: DecisionHeader[];
  /** The snapshot is past its expiry and nothing replaced it: still serving, flagged. */
  stale: boolean;
  /** Segments not matched because their rule ran out of its evaluation budget. */
  budget_skipped: string[];
  /** Sharded snapshot, identified request, its shard not held: decided fail-closed (no membership,
   * no recorded consent); `x-edgeseg-shard-missing: 1` is among `headers`. */
  shard_missing: boolean;
  /** Segments not matched because their rule failed (an evaluation error, e.g. `{"*": ["a", 1]}`). */
  rule_errors: string[];
  [field: string]: unknown;
}

/** A sharded snapshot's shard counters (all 0 when the snapshot is not sharded). */
export interface ShardStats {
  loads: number;
  refused: number;
  /** Identified decisions whose shard was held / was not (decided fail-closed). */
  hits: number;
  misses: number;
  evictions: number;
  held: number;
  held_bytes: number;
  budget_bytes: number;
}

/** `Engine.stats()`: counters since load. */
export interface EngineStats {
  throttle_keys: number;
  throttle_keys_high_water: number;
  throttle_capacity: number;
  throttle_evictions: number;
  delta_sequence: number | null;
  revocations: number;
  stale_decisions: number;
  headers_skipped: number;
  rule_budget_skips: number;
  identity_refused: number;
  shards: ShardStats;
  /** Segments not matched since load because their rule failed (an evaluation error). */
  rule_errors: number;
  [field: string]: unknown;
}

/** Where an action came from: a segment or the decided tier. */
export type ActionSource = { Segment: string } | { Tier: string };

/** What every method throws: a JS `Error` with the core's error kind. */
export interface EdgesegError extends Error {
  /** `Truncated`, `BadMagic`, `UnsupportedVersion`, `ChecksumMismatch`, `Payload`, `Invalid`, `Request`… */
  kind: string;
  /** The stable number of `kind` (edge/ABI.md). */
  code: number;
}
"#;

/// A loaded snapshot, ready to decide requests.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Engine {
    core: Core,
    /// `wire.js`'s reader for this snapshot (see [`make_reader`]).
    reader: JsValue,
}

#[wasm_bindgen]
impl Engine {
    /// Decodes and validates snapshot bytes. Throws an `EdgesegError` on bad bytes. The copy
    /// wasm-bindgen makes into the module's memory is the one the engine keeps (sets are probed in
    /// place in it).
    pub fn load(bytes: Vec<u8>) -> Result<Engine, JsValue> {
        let core = Core::load_owned(bytes).map_err(|e| js_error(&e))?;
        let snap = core.snapshot();
        let names = snap.read_names();
        // Names travel `\n`-separated; a name holding one (no real header can) means copy all.
        let join = |list: &[String]| (!list.iter().any(|n| n.contains('\n'))).then(|| list.join("\n"));
        let reader = make_reader(
            join(&names.headers),
            join(&names.attributes),
            ErrorKind::Request.code(),
            snap.limits.header_bytes,
        );
        Ok(Engine { core, reader })
    }

    /// Encodes `request` with `wire.js` and decodes it as the core's [`Request`] (borrowing the
    /// bytes), with the count of unread headers over the limit.
    fn with_request<T>(&self, request: &JsValue, f: impl FnOnce(&Request<'_>, u32) -> T) -> Result<T, JsValue> {
        let bytes = encode_request(&self.reader, request)?;
        let (req, rest) = postcard::take_from_bytes::<Request<'_>>(&bytes).map_err(|e| undecodable(&e))?;
        let (skipped, _) = postcard::take_from_bytes::<u32>(rest).map_err(|e| undecodable(&e))?;
        Ok(f(&req, skipped))
    }

    /// Puts one request into its tier and segments and applies their actions (throttles count it).
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn decide(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let bytes = encode_request(&self.reader, &request)?;
        let (req, rest) = postcard::take_from_bytes::<Request<'_>>(&bytes).map_err(|e| undecodable(&e))?;
        let (skipped, _) = postcard::take_from_bytes::<u32>(rest).map_err(|e| undecodable(&e))?;
        self.core.count_headers_skipped(skipped);
        let decision = self.core.decide(&req);
        // A decision is a few hundred bytes: one allocation, not one per doubling.
        let answer = postcard::to_extend(&decision, Vec::with_capacity(512)).map_err(|e| undecodable(&e))?;
        Ok(decode_decision(&answer))
    }

    /// The segments one request context matches: `decide(context).segments`. Without an identity
    /// in the context this is exactly the request-rule segments whose purpose needs no consent,
    /// which is what a browser may evaluate locally.
    #[wasm_bindgen(js_name = segmentsFor, unchecked_return_type = "string[]")]
    pub fn segments_for(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] context: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.with_request(&context, |req, _| {
            let classified = self.core.classify(req);
            classified.matched.iter().map(|s| JsValue::from_str(&s.name)).collect::<Array>().into()
        })
    }

    /// Applies a revocation delta (bytes from `edgeseg revoke`): effective from the next decision.
    /// Throws (and keeps the current one) for another snapshot's delta or an older sequence.
    #[wasm_bindgen(js_name = applyDelta, unchecked_return_type = "{ sequence: number; entries: number }")]
    pub fn apply_delta(&mut self, bytes: &[u8]) -> Result<JsValue, JsValue> {
        let d = self.core.apply_delta(bytes).map_err(|e| js_error(&e))?;
        to_js(&DeltaSummary { sequence: d.sequence, entries: d.entries.len() as u64 })
    }

    /// Counters: throttle keys held, high-water mark, capacity, evictions, applied delta, shards.
    #[wasm_bindgen(unchecked_return_type = "EngineStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        to_js(&self.core.stats())
    }

    /// The snapshot's version (also the `x-edgeseg-snapshot` header and the Worker's `ETag`).
    #[wasm_bindgen(getter, unchecked_return_type = "number")]
    pub fn version(&self) -> Result<JsValue, JsValue> {
        to_js(&self.core.snapshot().version)
    }

    /// The last-known-good rule (`edge/src/swap.rs`): throws (`kind` `Expired`, `Rollback` or
    /// `Rebuilt`) unless this engine's snapshot may replace the serving one, given by its
    /// `snapshotId`, `version` and `checksum` (all `undefined` when nothing serves yet), at `nowMs`.
    #[wasm_bindgen(js_name = checkReplaces)]
    pub fn check_replaces(
        &self,
        serving_id: Option<String>,
        serving_version: Option<f64>,
        now_ms: f64,
        serving_checksum: Option<u32>,
    ) -> Result<(), JsValue> {
        let snap = self.core.snapshot();
        let lineage = crate::swap::Lineage {
            id: snap.id.clone(),
            version: snap.version,
            created_ms: snap.created_ms,
            expires_ms: snap.expires_ms,
            checksum: self.checksum(),
        };
        // JS numbers: versions and times are integers well below 2^53; saturate anything else.
        let serving = serving_id.zip(serving_version).map(|(id, v)| crate::swap::Lineage {
            id,
            version: v as u64,
            created_ms: 0,
            expires_ms: None,
            checksum: serving_checksum.unwrap_or(0),
        });
        crate::swap::admit(serving.as_ref(), &lineage, now_ms as u64).map_err(|e| js_error(&e))
    }

    /// The snapshot's payload checksum (CRC-32C from its header): tells two builds of one id and
    /// version apart (`checkReplaces`).
    #[wasm_bindgen(getter)]
    pub fn checksum(&self) -> u32 {
        crate::format::split(self.core.snapshot().bytes()).map_or(0, |(h, _)| h.checksum)
    }

    /// The snapshot's id (from its definitions).
    #[wasm_bindgen(getter, js_name = snapshotId)]
    pub fn snapshot_id(&self) -> String {
        self.core.snapshot().id.clone()
    }

    /// Tier names, highest precedence first.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn tiers(&self) -> JsValue {
        self.core.snapshot().tiers.iter().map(|t| JsValue::from_str(&t.name)).collect::<Array>().into()
    }

    /// Segment names in precedence order.
    #[wasm_bindgen(getter, unchecked_return_type = "string[]")]
    pub fn segments(&self) -> JsValue {
        self.core.snapshot().segments.iter().map(|s| JsValue::from_str(&s.name)).collect::<Array>().into()
    }
}

/// Sharded snapshots (issue 18): the host reads shards and hands them over; the engine keeps them
/// in an LRU under a byte budget. Hashing stays in the host (WebCrypto), as the signature does.
#[wasm_bindgen]
impl Engine {
    /// The shard a request needs (read as `decide` reads it): `undefined` when the snapshot is not
    /// sharded or the request is anonymous.
    #[wasm_bindgen(js_name = shardFor)]
    pub fn shard_for(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] request: JsValue,
    ) -> Result<Option<u32>, JsValue> {
        self.with_request(&request, |req, _| self.core.shard_for(req))
    }

    /// Validates a shard file against the head and holds it (the copy into the module is the one
    /// kept), evicting the least recently used beyond the budget. Answers its index; throws an
    /// `EdgesegError` (`kind`) for a shard of another build, version or index, or a corrupt one.
    #[wasm_bindgen(js_name = loadShard)]
    pub fn load_shard(&mut self, bytes: Vec<u8>) -> Result<u32, JsValue> {
        self.core.load_shard(bytes).map_err(|e| js_error(&e))
    }

    /// Whether shard `index` is held.
    #[wasm_bindgen(js_name = hasShard)]
    pub fn has_shard(&self, index: u32) -> bool {
        self.core.has_shard(index)
    }

    /// Drops shard `index`; whether it was held.
    #[wasm_bindgen(js_name = dropShard)]
    pub fn drop_shard(&mut self, index: u32) -> bool {
        self.core.drop_shard(index)
    }

    /// Bytes of shards to hold (default 32 MiB); least recently used ones are evicted past it.
    #[wasm_bindgen(js_name = setShardBudget)]
    pub fn set_shard_budget(&mut self, bytes: f64) {
        // A JS number: saturating, negative and NaN as 0 (the shard just loaded always stays).
        self.core.set_shard_budget(bytes as u64);
    }

    /// The head's shard count; 0 for an unsharded snapshot.
    #[wasm_bindgen(getter, js_name = shardCount)]
    pub fn shard_count(&self) -> u32 {
        self.core.snapshot().sharding.as_ref().map_or(0, |s| s.count())
    }

    /// The SHA-256 the head records for shard `index` (verify with WebCrypto before `loadShard`;
    /// a signed head covers it); `undefined` out of range or unsharded.
    #[wasm_bindgen(js_name = shardDigest)]
    pub fn shard_digest(&self, index: u32) -> Option<Vec<u8>> {
        let sharding = self.core.snapshot().sharding.as_ref()?;
        sharding.shards.get(index as usize).map(|e| e.sha256.to_vec())
    }
}

/// Verified identity (issue 19): the host checks a token with WebCrypto, the engine takes only the
/// id the host proved (`verifiedId` on the request) from a verified source.
#[wasm_bindgen]
impl Engine {
    /// The token the request's first present identity source carries, when that source is a
    /// verified one: `{ source, token }` (`source` indexes `identitySources`); `undefined` when it
    /// is a bare claim or no source is present. Read exactly as `decide` reads the identity.
    #[wasm_bindgen(js_name = identityClaim, unchecked_return_type = "{ source: number; token: string } | undefined")]
    pub fn identity_claim(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        self.with_request(&request, |req, _| match self.core.identity_claim(req) {
            crate::identity::Claim::Token { source, token, .. } => to_js(&ClaimJs { source, token }),
            _ => Ok(JsValue::UNDEFINED),
        })?
    }

    /// The snapshot's identity sources in order, with how a host verifies each one's token.
    #[wasm_bindgen(getter, js_name = identitySources, unchecked_return_type = "IdentitySource[]")]
    pub fn identity_sources(&self) -> Result<JsValue, JsValue> {
        use crate::snapshot::{IdentitySource, Verify};
        let sources: Vec<SourceJs<'_>> = self
            .core
            .snapshot()
            .identity
            .iter()
            .map(|s| SourceJs {
                kind: if matches!(s, IdentitySource::Cookie(_) | IdentitySource::VerifiedCookie(..)) {
                    "cookie"
                } else {
                    "header"
                },
                name: s.name(),
                verify: s.verify().map(|v| match v {
                    Verify::Jwt(j) => VerifyJs::Jwt {
                        alg: j.alg.name(),
                        key: &j.key,
                        claim: &j.claim,
                        issuer: j.issuer.as_deref(),
                        audience: j.audience.as_deref(),
                        leeway_s: j.leeway_s,
                    },
                    Verify::Hmac { secret_env } => VerifyJs::Hmac { secret_env },
                }),
            })
            .collect();
        to_js(&sources)
    }
}

#[derive(Serialize)]
struct ClaimJs<'a> {
    source: u16,
    token: &'a str,
}

#[derive(Serialize)]
struct SourceJs<'a> {
    kind: &'static str,
    name: &'a str,
    verify: Option<VerifyJs<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum VerifyJs<'a> {
    Jwt {
        alg: &'static str,
        #[serde(with = "serde_bytes")]
        key: &'a [u8],
        claim: &'a str,
        issuer: Option<&'a str>,
        audience: Option<&'a str>,
        #[serde(rename = "leewayS")]
        leeway_s: u32,
    },
    Hmac {
        #[serde(rename = "secretEnv")]
        secret_env: &'a str,
    },
}

/// What `applyDelta` returns.
#[derive(Serialize)]
struct DeltaSummary {
    sequence: u64,
    entries: u64,
}

/// Serialises `value` with plain Numbers for `u64`s, falling back to BigInts only when one of them
/// does not fit a Number exactly (see the `Decision` type above).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let plain = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    value.serialize(&plain).or_else(|_| {
        let big = serde_wasm_bindgen::Serializer::new()
            .serialize_maps_as_objects(true)
            .serialize_large_number_types_as_bigints(true);
        value.serialize(&big).map_err(JsValue::from)
    })
}

/// A JS `Error` whose `kind` is the core's error kind and `code` its stable number.
fn js_error(e: &Error) -> JsValue {
    kinded(e.kind(), &e.to_string())
}

fn kinded(kind: ErrorKind, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("EdgesegError");
    // Setting a property on a fresh Error cannot fail; if it ever did, the message still stands.
    let _ = Reflect::set(&err, &"kind".into(), &JsValue::from_str(&alloc::format!("{kind:?}")));
    let _ = Reflect::set(&err, &"code".into(), &JsValue::from(kind.code()));
    err.into()
}

/// A request (or headers) `wire.js` encoded that the core's decoder refused: a bug in one of
/// the two halves, reported as a `Request` error rather than a trap.
fn undecodable(e: &postcard::Error) -> JsValue {
    kinded(ErrorKind::Request, &alloc::format!("request undecodable: {e}"))
}

/// A `baggage` value without its `edgeseg.*` members, the prefix in any case: what the Worker
/// forwards when `decide` fails (the core's [`crate::strip_baggage`], so the fallback strips
/// exactly what a decision would). Several `baggage` headers are one list: join them with `,`
/// first (the Fetch API's `Headers` already does).
#[wasm_bindgen(js_name = stripBaggage)]
pub fn strip_baggage(value: &str) -> String {
    crate::decision::strip_baggage(value)
}

/// The headers to set on the origin's response, each replacing the origin's header of that name:
/// the decision's `response_headers` merged with the origin's by the core's rule
/// ([`crate::response::merge_origin`]), so caching never loosens what the origin said (`private`,
/// `no-store`, `no-cache`, `Set-Cookie`) and `Vary` is appended to. Both arguments in any shape
/// `decide` reads headers in (a `Headers`, `[name, value]` pairs, a plain object): the decision's
/// headers as pairs, e.g. `decision.response_headers.map((h) => [h.name, h.value])`.
#[wasm_bindgen(js_name = mergeResponseHeaders, unchecked_return_type = "DecisionHeader[]")]
pub fn merge_response_headers(
    #[wasm_bindgen(unchecked_param_type = "Array<[string, string]>")] decided: JsValue,
    #[wasm_bindgen(
        unchecked_param_type = "Record<string, string> | Array<[string, string]> | Iterable<[string, string]>"
    )]
    origin: JsValue,
) -> Result<JsValue, JsValue> {
    let code = ErrorKind::Request.code();
    let decided = encode_headers(code, &decided)?;
    let origin = encode_headers(code, &origin)?;
    let decided: Vec<(&str, &str)> = postcard::from_bytes(&decided).map_err(|e| undecodable(&e))?;
    let origin: Vec<(&str, &str)> = postcard::from_bytes(&origin).map_err(|e| undecodable(&e))?;
    let decided: Vec<crate::Header<'_>> =
        decided.into_iter().map(|(name, v)| crate::Header { name, value: alloc::borrow::Cow::Borrowed(v) }).collect();
    to_js(&crate::response::merge_origin(&decided, &origin))
}
