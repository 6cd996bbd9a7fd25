// The JavaScript half of the skin (edge/src/js.rs): requests in, decisions out, as bytes.
//
// Reading a request field by field from Rust costs a boundary crossing per property, and building
// a decision through serde-wasm-bindgen one per field set. Here JavaScript reads the request
// itself and writes it as the postcard `Request` the raw ABI takes (edge/src/request.rs: strings
// as a varint length and UTF-8, options as 0/1, `now_ms` a varint, attributes an enum tag and its
// value), in one buffer, which crosses once. The decision comes back as postcard bytes, read here
// into the same plain object serde-wasm-bindgen built: every key in the struct's order, `None` as
// `undefined`, `u64`s as Numbers unless one does not fit (then all of them are BigInts), the
// throttle's `state_key`/`state` always BigInts.
//
// A reader carries what the loaded snapshot reads (`Engine.load` makes it from the engine's
// `read_names`): headers no rule, identity source or signal of that snapshot reads are not
// copied, only counted when their value is longer than the snapshot's header limit (the
// engine's `headers_skipped` counts every such header), and attributes no rule reads are not
// copied either. Its validation and messages are the ones the Rust reader had.

let buf = new Uint8Array(512);
let pos = 0;

function room(n) {
  if (pos + n > buf.length) {
    const grown = new Uint8Array(Math.max(buf.length * 2, pos + n));
    grown.set(buf);
    buf = grown;
  }
}

function varint(n) {
  room(10);
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
}

function varintBig(n) {
  room(10);
  while (n >= 0x80n) {
    buf[pos++] = Number(n & 0x7fn) | 0x80;
    n >>= 7n;
  }
  buf[pos++] = Number(n);
}

/** A string as postcard writes it: varint byte length, UTF-8 (lone surrogates as U+FFFD). */
function str(s) {
  const n = s.length;
  room(n * 3 + 5);
  const start = pos + 1;
  let p = start;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c < 0xe000) {
        const d = c < 0xdc00 && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d < 0xe000) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 63);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 63);
      buf[p++] = 0x80 | (c & 63);
    }
  }
  const len = p - start;
  if (len < 0x80) {
    buf[pos] = len;
    pos = p;
    return;
  }
  const extra = len < 0x4000 ? 1 : len < 0x200000 ? 2 : 3;
  buf.copyWithin(start + extra, start, p);
  varint(len);
  pos = start + extra + len;
}

/** UTF-8 length of `s`, for the header-limit count of headers not copied. */
function utf8Len(s) {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c < 0xdc00) ? 1 : 2;
  }
  return n;
}

class Bad {
  constructor(message) {
    this.message = message;
  }
}

const isObject = (v) => typeof v === "object" && v !== null;

function stringField(obj, key) {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new Bad(`${key} must be a string`);
  return v;
}

function option(s) {
  if (s === undefined) {
    room(1);
    buf[pos++] = 0;
  } else {
    room(1);
    buf[pos++] = 1;
    str(s);
  }
}

/** `scheme://authority/path?query#fragment` → [authority without userinfo, `/path?query`]. */
function splitUrl(url) {
  const scheme = url.indexOf("://");
  let rest = scheme >= 0 ? url.slice(scheme + 3) : url;
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  let i = rest.search(/[/?]/);
  const authority = i >= 0 ? rest.slice(0, i) : rest;
  let path = i >= 0 ? rest.slice(i) : "";
  i = authority.lastIndexOf("@");
  const host = i >= 0 ? authority.slice(i + 1) : authority;
  if (path === "") path = "/";
  else if (path[0] === "?") path = "/" + path;
  return [host, path];
}

/**
 * Headers from a plain object, `[name, value]` pairs or any iterable of pairs (`Headers`, `Map`),
 * each handed to `take(name, value)` in order (validated as the Rust reader did).
 */
function eachHeader(value, take) {
  if (value === undefined || value === null) return;
  if (!isObject(value)) throw new Bad("headers must be an object, pairs or Headers");
  if (typeof value[Symbol.iterator] === "function") {
    for (const pair of value) {
      const name = isObject(pair) ? pair[0] : undefined;
      const v = isObject(pair) ? pair[1] : undefined;
      if (typeof name !== "string" || typeof v !== "string") throw new Bad("headers must be [name, value] string pairs");
      take(name, v);
    }
    return;
  }
  const names = Object.keys(value);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const v = value[name];
    if (typeof v === "string") {
      take(name, v);
    } else if (Array.isArray(v)) {
      // `{ cookie: ["a=1", "b=2"] }`: one header line per value, as on the wire.
      for (const one of v) {
        if (typeof one !== "string") throw new Bad("header values must be strings");
        take(name, one);
      }
    } else if (!(v === undefined || v === null)) {
      throw new Bad(`header ${name} must be a string`);
    }
  }
}

/**
 * What one snapshot reads: header and attribute names, `\n`-separated (`undefined`: copy
 * everything), `code` the stable number of the `Request` error kind, `headerBytes` the
 * snapshot's header limit.
 */
export function makeReader(headers, attributes, code, headerBytes) {
  // `seen`: header names as requests spell them → their bytes, or null when not read: one lookup
  // per header, no lower-casing, after the first request. Cleared when it grows past 1024 names
  // (a client chooses header names).
  return { headers: names(headers), seen: new Map(), attributes: names(attributes), code, headerBytes };
}

/** Each name → its postcard bytes (written with one copy per request instead of re-encoded). */
function names(list) {
  if (typeof list !== "string") return null;
  const out = new Map();
  for (const name of list.split("\n")) {
    pos = 0;
    str(name);
    out.set(name, buf.slice(0, pos));
  }
  return out;
}

/** Copies pre-encoded bytes. */
function put(bytes) {
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

function kinded(reader, message) {
  const err = new Error(`request undecodable: ${message}`);
  err.name = "EdgesegError";
  err.kind = "Request";
  err.code = reader.code;
  return err;
}

/** A JS request as postcard `Request` bytes, then a varint: headers not copied that were over the limit. */
export function encodeRequest(reader, request) {
  try {
    return encode(reader, request);
  } catch (e) {
    if (e instanceof Bad) throw kinded(reader, e.message);
    if (isObject(e) && "kind" in e) throw e;
    throw kinded(reader, e instanceof Error ? e.message : String(e));
  }
}

// The header pass's state (module-level: one closure for every call, no allocation).
let wanted = null;
let seen = null;
let limit = 0;
let kept = 0;
let skipped = 0;
let connectingIp;

function takeHeader(name, value) {
  if (connectingIp === undefined && name.length === 16 && name.toLowerCase() === "cf-connecting-ip") {
    connectingIp = value;
  }
  if (wanted === null) {
    str(name);
    str(value);
    kept++;
    return;
  }
  // Kept under its lower-case name: every reader matches header names case-insensitively.
  let encoded = seen.get(name);
  if (encoded === undefined) {
    encoded = wanted.get(name) ?? wanted.get(name.toLowerCase()) ?? null;
    if (seen.size >= 1024) seen.clear();
    seen.set(name, encoded);
  }
  if (encoded !== null) {
    put(encoded);
    str(value);
    kept++;
  } else if (value.length > limit / 3 && utf8Len(value) > limit) {
    skipped++;
  }
}

function encode(reader, r) {
  if (!isObject(r)) throw new Bad("expected an object or a Request");
  pos = 0;
  str(stringField(r, "method") ?? "GET");
  const url = stringField(r, "url");
  let host = "";
  let path = "/";
  if (url !== undefined) [host, path] = splitUrl(url);
  str(stringField(r, "host") ?? host);
  str(stringField(r, "path") ?? path);
  // The header count goes first: one byte reserved, the headers written after it, and moved
  // along when the count needs a longer varint (128 headers or more).
  const countAt = pos;
  room(1);
  pos++;
  wanted = reader.headers;
  seen = reader.seen;
  limit = reader.headerBytes;
  kept = 0;
  skipped = 0;
  connectingIp = undefined;
  eachHeader(r.headers, takeHeader);
  if (kept < 0x80) {
    buf[countAt] = kept;
  } else {
    const end = pos;
    const extra = kept < 0x4000 ? 1 : 2;
    room(extra);
    buf.copyWithin(countAt + 1 + extra, countAt + 1, end);
    pos = countAt;
    varint(kept);
    pos = end + extra;
  }
  // `cf` is the platform's (Cloudflare attaches it to every request it proxies); a client
  // controls headers, never this object.
  const cf = r.cf;
  const onCloudflare = isObject(cf);
  let country = stringField(r, "country");
  if (country === undefined && onCloudflare) country = stringField(cf, "country");
  let now = r.nowMs;
  if (now === undefined) now = r.now_ms;
  if (now === undefined || now === null) now = Date.now();
  else if (typeof now !== "number") throw new Bad("nowMs must be a number");
  if (!(Number.isFinite(now) && now >= 0)) throw new Bad("nowMs must be a non-negative finite number");
  const attributes = r.attributes;
  if (!(attributes === undefined || attributes === null || isObject(attributes))) throw new Bad("attributes must be an object");
  const attrNames = attributes === undefined || attributes === null ? [] : Object.keys(attributes);
  const attrValues = new Array(attrNames.length);
  for (let i = 0; i < attrNames.length; i++) {
    const v = attributes[attrNames[i]];
    const t = typeof v;
    if (!(v === null || v === undefined || t === "boolean" || t === "number" || t === "string")) {
      throw new Bad(`attribute ${attrNames[i]} must be null, a boolean, a number or a string`);
    }
    attrValues[i] = v;
  }
  // The client IP keys per-IP throttles, so it comes from the host: `clientIp`, or on Cloudflare
  // (a request carrying `cf`) the `cf-connecting-ip` header, which Cloudflare sets itself.
  let clientIp = stringField(r, "clientIp");
  if (clientIp === undefined && onCloudflare) clientIp = connectingIp;
  const verifiedId = stringField(r, "verifiedId");

  option(country);
  option(clientIp);
  if (now < 9007199254740992) varint(Math.floor(now));
  else varintBig(now >= 18446744073709551615 ? 0xffffffffffffffffn : BigInt(Math.floor(now)));
  const wantedAttrs = reader.attributes;
  let attrCount = attrNames.length;
  if (wantedAttrs !== null) {
    attrCount = 0;
    for (const name of attrNames) if (wantedAttrs.has(name)) attrCount++;
  }
  varint(attrCount);
  for (let i = 0; i < attrNames.length; i++) {
    const name = attrNames[i];
    const encoded = wantedAttrs === null ? undefined : wantedAttrs.get(name);
    if (wantedAttrs !== null && encoded === undefined) continue;
    const v = attrValues[i];
    if (encoded === undefined) str(name);
    else put(encoded);
    room(9);
    if (v === null || v === undefined) {
      buf[pos++] = 0;
    } else if (typeof v === "boolean") {
      buf[pos++] = 1;
      buf[pos++] = v ? 1 : 0;
    } else if (typeof v === "number") {
      buf[pos++] = 2;
      f64[0] = v;
      buf.set(f64Bytes, pos);
      pos += 8;
    } else {
      buf[pos++] = 3;
      str(v);
    }
  }
  option(verifiedId);
  varint(skipped);
  return buf.subarray(0, pos);
}

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("edgeseg: a big-endian host");

/** Headers in any shape `decide` reads them in, as postcard `Vec<(&str, &str)>` bytes. */
export function encodeHeaders(code, value) {
  pos = 0;
  room(1);
  pos++;
  wanted = null;
  kept = 0;
  connectingIp = undefined;
  try {
    eachHeader(value, takeHeader);
  } catch (e) {
    if (e instanceof Bad) throw kinded({ code }, e.message);
    throw kinded({ code }, e instanceof Error ? e.message : String(e));
  }
  if (kept < 0x80) {
    buf[0] = kept;
  } else {
    const end = pos;
    const extra = kept < 0x4000 ? 1 : 2;
    room(extra);
    buf.copyWithin(1 + extra, 1, end);
    pos = 0;
    varint(kept);
    pos = end + extra;
  }
  return buf.subarray(0, pos);
}

// The decision: a cursor over the answer bytes (a view into the module's memory, read at once).
let src;
let at = 0;
let huge = false;
let whole;
const text = new TextDecoder();
let latin1 = null;
try {
  latin1 = new TextDecoder("latin1");
} catch {
  // Not every runtime carries legacy encodings: strings are then built byte by byte.
}

function uv() {
  let n = 0;
  let scale = 1;
  for (;;) {
    const b = src[at++];
    n += (b & 0x7f) * scale;
    if (b < 0x80) return n;
    scale *= 0x80;
  }
}

/** A `u64`: a Number, or a BigInt (and every `u64` of this decision a BigInt) past 2^53. */
function u64() {
  const start = at;
  const n = uv();
  if (n <= Number.MAX_SAFE_INTEGER) return n;
  huge = true;
  at = start;
  return bigv();
}

/** A varint `u64` as a BigInt (two Numbers joined: BigInt arithmetic per byte is slow). */
function bigv() {
  let low = 0;
  let scale = 1;
  let i = 0;
  for (; i < 7; i++) {
    const b = src[at++];
    low += (b & 0x7f) * scale;
    if (b < 0x80) return BigInt(low);
    scale *= 0x80;
  }
  let high = 0;
  scale = 1;
  for (;;) {
    const b = src[at++];
    high += (b & 0x7f) * scale;
    if (b < 0x80) return BigInt(low) + (BigInt(high) << 49n);
    scale *= 0x80;
  }
}

/**
 * A string. The answer is read as Latin-1 once (`whole`: one byte, one UTF-16 unit, so offsets
 * agree) and an ASCII string — names and header values, nearly everything — is a slice of it;
 * anything else is decoded as UTF-8. Per-string decoding, a `TextDecoder` call or a string built
 * byte by byte, cost more than the rest of a decision in V8 (garbage, mostly). Where no Latin-1
 * decoder exists, strings are built byte by byte.
 */
function rstr() {
  const n = uv();
  const end = at + n;
  let i = at;
  while (i < end && src[i] < 0x80) i++;
  let s;
  if (i !== end) {
    s = text.decode(src.subarray(at, end));
  } else if (whole !== undefined) {
    s = whole.slice(at, end);
  } else {
    s = "";
    for (let j = at; j < end; j++) s += String.fromCharCode(src[j]);
  }
  at = end;
  return s;
}

function strs() {
  const n = uv();
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = rstr();
  return out;
}

function some() {
  return src[at++] === 1;
}

function source() {
  return uv() === 0 ? { Segment: rstr() } : { Tier: rstr() };
}

function headerList() {
  const n = uv();
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = { name: rstr(), value: rstr() };
  return out;
}

const THROTTLE = ["Allowed", "Rejected", "Deprioritized"];
const CACHE = ["Public", "Private", "NoStore", "Bypass"];

/** A postcard `Decision` (edge/src/decision.rs, field for field) as a plain object. */
export function decodeDecision(bytes) {
  src = bytes;
  at = 0;
  huge = false;
  whole = latin1 === null ? undefined : latin1.decode(bytes);
  const d = {
    snapshot_version: u64(),
    tier: rstr(),
    tier_index: uv(),
    segments: strs(),
    identified: some(),
    consent: u64(),
    narrowing: { gpc: u64(), tcf: u64(), cookie: u64(), revoked: u64(), tcf_invalid: some(), cookie_invalid: some() },
    throttle: some()
      ? {
          source: source(),
          result: THROTTLE[uv()],
          lane: some() ? rstr() : undefined,
          limit: uv(),
          remaining: uv(),
          retry_after_s: some() ? u64() : undefined,
          state_key: bigv(),
          state: bigv(),
        }
      : undefined,
    cache: some() ? { source: source(), mode: CACHE[uv()], key: some() ? rstr() : undefined } : undefined,
    route: some() ? { source: source(), pool: rstr(), lane: rstr() } : undefined,
    headers: headerList(),
    response_headers: headerList(),
    stale: some(),
    budget_skipped: strs(),
    shard_missing: some(),
    rule_errors: strs(),
  };
  src = undefined;
  whole = undefined;
  if (huge) {
    const big = (v) => (typeof v === "number" ? BigInt(v) : v);
    d.snapshot_version = big(d.snapshot_version);
    d.consent = big(d.consent);
    for (const k of ["gpc", "tcf", "cookie", "revoked"]) d.narrowing[k] = big(d.narrowing[k]);
    if (d.throttle !== undefined && d.throttle.retry_after_s !== undefined) {
      d.throttle.retry_after_s = big(d.throttle.retry_after_s);
    }
  }
  return d;
}
