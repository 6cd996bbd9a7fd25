//! The JavaScript skin (feature `js`): the engine for Workers, browsers, Node and Deno.
//!
//! Deliberately thin. It turns a JS request — a plain object or anything shaped like a Fetch
//! `Request` — into the core's borrowed [`Request`], calls the core, and hands the whole
//! [`Decision`](crate::Decision) back through serde-wasm-bindgen, so fields the core gains later
//! reach JavaScript without a change here. Errors become JS `Error`s carrying the core's
//! [`ErrorKind`] as `kind` (and its stable ABI number as `code`).
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
use crate::request::{AttrValue, Request};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Array, Object, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

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
}

#[wasm_bindgen]
impl Engine {
    /// Decodes and validates snapshot bytes. Throws an `EdgesegError` on bad bytes. The copy
    /// wasm-bindgen makes into the module's memory is the one the engine keeps (sets are probed in
    /// place in it).
    pub fn load(bytes: Vec<u8>) -> Result<Engine, JsValue> {
        Core::load_owned(bytes).map(|core| Engine { core }).map_err(|e| js_error(&e))
    }

    /// Puts one request into its tier and segments and applies their actions (throttles count it).
    #[wasm_bindgen(unchecked_return_type = "Decision")]
    pub fn decide(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] request: JsValue,
    ) -> Result<JsValue, JsValue> {
        let owned = OwnedRequest::from_js(&request)?;
        let decision = self.core.decide(&owned.borrow());
        decision_to_js(&decision)
    }

    /// The segments one request context matches: `decide(context).segments`. Without an identity
    /// in the context this is exactly the request-rule segments whose purpose needs no consent,
    /// which is what a browser may evaluate locally.
    #[wasm_bindgen(js_name = segmentsFor, unchecked_return_type = "string[]")]
    pub fn segments_for(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RequestLike")] context: JsValue,
    ) -> Result<JsValue, JsValue> {
        let owned = OwnedRequest::from_js(&context)?;
        let classified = self.core.classify(&owned.borrow());
        Ok(classified.matched.iter().map(|s| JsValue::from_str(&s.name)).collect::<Array>().into())
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
        let owned = OwnedRequest::from_js(&request)?;
        Ok(self.core.shard_for(&owned.borrow()))
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
        let owned = OwnedRequest::from_js(&request)?;
        match self.core.identity_claim(&owned.borrow()) {
            crate::identity::Claim::Token { source, token, .. } => to_js(&ClaimJs { source, token }),
            _ => Ok(JsValue::UNDEFINED),
        }
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

/// A decision as a plain object: Numbers throughout (see [`to_js`]), and the throttle's opaque
/// `state_key`/`state` as BigInts always, so the type of every field is the same on every decision.
fn decision_to_js(decision: &crate::Decision<'_>) -> Result<JsValue, JsValue> {
    let mut plain = decision.clone();
    let opaque = plain.throttle.as_mut().map(|t| (core::mem::take(&mut t.state_key), core::mem::take(&mut t.state)));
    let value = to_js(&plain)?;
    if let Some((key, state)) = opaque {
        let throttle = Reflect::get(&value, &JsValue::from_str("throttle"))?;
        Reflect::set(&throttle, &JsValue::from_str("state_key"), &js_sys::BigInt::from(key).into())?;
        Reflect::set(&throttle, &JsValue::from_str("state"), &js_sys::BigInt::from(state).into())?;
    }
    Ok(value)
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

fn bad_request(message: &str) -> JsValue {
    kinded(ErrorKind::Request, &alloc::format!("request undecodable: {message}"))
}

enum OwnedAttr {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
}

/// The request with owned strings, read once from JS; [`OwnedRequest::borrow`] gives the core's view.
struct OwnedRequest {
    method: String,
    host: String,
    path: String,
    headers: Vec<(String, String)>,
    country: Option<String>,
    client_ip: Option<String>,
    now_ms: u64,
    attributes: Vec<(String, OwnedAttr)>,
    verified_id: Option<String>,
}

impl OwnedRequest {
    /// Reads a request; whatever JS throws while being read (a getter, a broken iterator) becomes a
    /// `Request` error too, so callers always get an error with a `kind`.
    fn from_js(value: &JsValue) -> Result<OwnedRequest, JsValue> {
        OwnedRequest::read(value).map_err(|e| {
            if Reflect::has(&e, &"kind".into()).unwrap_or(false) {
                return e;
            }
            let message = e.dyn_ref::<js_sys::Error>().map_or_else(|| alloc::format!("{e:?}"), |e| e.message().into());
            bad_request(&message)
        })
    }

    fn read(value: &JsValue) -> Result<OwnedRequest, JsValue> {
        if !value.is_object() {
            return Err(bad_request("expected an object or a Request"));
        }
        let method = string_field(value, "method")?.unwrap_or_else(|| "GET".to_string());
        let (mut host, mut path) = match string_field(value, "url")? {
            Some(url) => split_url(&url),
            None => (String::new(), String::from("/")),
        };
        if let Some(h) = string_field(value, "host")? {
            host = h;
        }
        if let Some(p) = string_field(value, "path")? {
            path = p;
        }
        let headers = headers(&get(value, "headers")?)?;
        // `cf` is the platform's (Cloudflare attaches it to every request it proxies); a client
        // controls headers, never this object.
        let cf = get(value, "cf")?;
        let on_cloudflare = cf.is_object();
        let country = match string_field(value, "country")? {
            Some(c) => Some(c),
            None if on_cloudflare => string_field(&cf, "country")?,
            None => None,
        };
        let now = match get(value, "nowMs")? {
            v if v.is_undefined() => get(value, "now_ms")?,
            v => v,
        };
        let now_ms = if now.is_undefined() || now.is_null() {
            js_sys::Date::now()
        } else {
            now.as_f64().ok_or_else(|| bad_request("nowMs must be a number"))?
        };
        if !(now_ms.is_finite() && now_ms >= 0.0) {
            return Err(bad_request("nowMs must be a non-negative finite number"));
        }
        let attributes = attributes(&get(value, "attributes")?)?;
        // The client IP keys per-IP throttles, so it comes from the host: `clientIp`, or on
        // Cloudflare (a request carrying `cf`) the `cf-connecting-ip` header, which Cloudflare
        // sets itself, overwriting what a client sent. Anywhere else that header is the client's
        // own claim, and rotating it would buy a fresh bucket per request: it is not read.
        let client_ip = match string_field(value, "clientIp")? {
            Some(ip) => Some(ip),
            None if on_cloudflare => {
                headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("cf-connecting-ip")).map(|(_, v)| v.clone())
            }
            None => None,
        };
        // Set by the host after it verified the identity token (`identityClaim`): never a header.
        let verified_id = string_field(value, "verifiedId")?;
        Ok(OwnedRequest {
            method,
            host,
            path,
            headers,
            country,
            client_ip,
            now_ms: now_ms as u64,
            attributes,
            verified_id,
        })
    }

    fn borrow(&self) -> Request<'_> {
        Request {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            country: self.country.as_deref(),
            client_ip: self.client_ip.as_deref(),
            now_ms: self.now_ms,
            attributes: self
                .attributes
                .iter()
                .map(|(n, v)| {
                    let v = match v {
                        OwnedAttr::Null => AttrValue::Null,
                        OwnedAttr::Bool(b) => AttrValue::Bool(*b),
                        OwnedAttr::Number(x) => AttrValue::Number(*x),
                        OwnedAttr::String(s) => AttrValue::String(s),
                    };
                    (n.as_str(), v)
                })
                .collect(),
            verified_id: self.verified_id.as_deref(),
        }
    }
}

fn get(obj: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    Reflect::get(obj, &JsValue::from_str(key))
}

fn string_field(obj: &JsValue, key: &str) -> Result<Option<String>, JsValue> {
    let v = get(obj, key)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    v.as_string().map(Some).ok_or_else(|| bad_request(&alloc::format!("{key} must be a string")))
}

/// `scheme://authority/path?query#fragment` → (authority without userinfo, `/path?query`).
fn split_url(url: &str) -> (String, String) {
    // Byte scans and checked slicing: `split_once("://")` and `split_at` would link core's
    // substring searcher and its panic formatting (about 3 KB of the module).
    let scheme_end = url.as_bytes().windows(3).position(|w| w == b"://");
    let rest = scheme_end.and_then(|i| url.get(i + 3..)).unwrap_or(url);
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (rest.get(..i).unwrap_or(rest), rest.get(i..).unwrap_or("")),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = if path.is_empty() {
        String::from("/")
    } else if path.starts_with('?') {
        alloc::format!("/{path}")
    } else {
        String::from(path)
    };
    (String::from(host), path)
}

/// Headers from a plain object, an array of pairs, or any iterable of pairs (`Headers`, `Map`).
fn headers(value: &JsValue) -> Result<Vec<(String, String)>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(bad_request("headers must be an object, pairs or Headers"));
    }
    let mut out = Vec::new();
    if let Some(iter) = js_sys::try_iter(value)? {
        for pair in iter {
            let pair = pair?;
            let name = Reflect::get_u32(&pair, 0)?.as_string();
            let val = Reflect::get_u32(&pair, 1)?.as_string();
            match (name, val) {
                (Some(n), Some(v)) => out.push((n, v)),
                _ => return Err(bad_request("headers must be [name, value] string pairs")),
            }
        }
    } else {
        for entry in Object::entries(value.unchecked_ref::<Object>()) {
            let name = Reflect::get_u32(&entry, 0)?.as_string().unwrap_or_default();
            let val = Reflect::get_u32(&entry, 1)?;
            if let Some(v) = val.as_string() {
                out.push((name, v));
            } else if Array::is_array(&val) {
                // `{ cookie: ["a=1", "b=2"] }`: one header line per value, as on the wire.
                for v in val.unchecked_ref::<Array>().iter() {
                    out.push((
                        name.clone(),
                        v.as_string().ok_or_else(|| bad_request("header values must be strings"))?,
                    ));
                }
            } else if !(val.is_undefined() || val.is_null()) {
                return Err(bad_request(&alloc::format!("header {name} must be a string")));
            }
        }
    }
    Ok(out)
}

fn attributes(value: &JsValue) -> Result<Vec<(String, OwnedAttr)>, JsValue> {
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    if !value.is_object() {
        return Err(bad_request("attributes must be an object"));
    }
    let mut out = Vec::new();
    for entry in Object::entries(value.unchecked_ref::<Object>()) {
        let name = Reflect::get_u32(&entry, 0)?.as_string().unwrap_or_default();
        let v = Reflect::get_u32(&entry, 1)?;
        let attr = if v.is_null() || v.is_undefined() {
            OwnedAttr::Null
        } else if let Some(b) = v.as_bool() {
            OwnedAttr::Bool(b)
        } else if let Some(x) = v.as_f64() {
            OwnedAttr::Number(x)
        } else if let Some(s) = v.as_string() {
            OwnedAttr::String(s)
        } else {
            return Err(bad_request(&alloc::format!("attribute {name} must be null, a boolean, a number or a string")));
        };
        out.push((name, attr));
    }
    Ok(out)
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
    let decided = headers(&decided)?;
    let origin = headers(&origin)?;
    let decided: Vec<crate::Header<'_>> = decided
        .iter()
        .map(|(n, v)| crate::Header { name: n, value: alloc::borrow::Cow::Borrowed(v.as_str()) })
        .collect();
    let origin: Vec<(&str, &str)> = origin.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    to_js(&crate::response::merge_origin(&decided, &origin))
}
