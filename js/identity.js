// edgeseg verified identity (issue 19): the host's half. A snapshot's identity source can require
// a token — a JWT (EdDSA or ES256, the public key in the snapshot) or an HMAC-signed value (the
// secret in the host's environment) — and the engine, which links no curve code, then takes that
// source's id only from the request's `verifiedId`. This module checks the token the engine names
// (`engine.identityClaim(request)`) with WebCrypto and says which id it proves, or why it proves
// none. The Worker adapter (worker.js) does it before every decision; Node and Deno hosts call
// `verifyIdentity` themselves. The rules and the refusal reasons are those of the wasmtime host
// (host/src/identity.rs), checked in this order:
//
// JWT (compact JWS, `Bearer ` stripped in any case):
//   malformed      the first part not base64url (no padding, no stray bits) of a JSON object with
//                  a string `alg`
//   alg            the header's `alg` is not the source's exactly (`none`, HS*, the other curve)
//   malformed      not three base64url parts, `b64`/`crit` other than the crate accepts, header
//                  fields of the wrong type
//   signature      does not verify under the snapshot's key (Ed25519, or ECDSA P-256 SHA-256 r||s)
//   malformed      payload not a JSON object
//   issuer         `iss` configured and the token's is missing or another (a string, or an array holding it)
//   audience       `aud` configured and the token's is missing or another (a string, or an array holding it)
//                  (`iss`/`aud` of another JSON type: malformed)
//   malformed      `exp` missing or not a number; `nbf` present and not a number
//   expired        now > exp + leeway
//   not_yet_valid  now + leeway < nbf
//   claim          the id claim is not a string, empty, or over 512 bytes
// HMAC (`<id>.<exp>.<base64url HMAC-SHA256(secret, "<id>.<exp>")>`, split at the last two dots):
//   no_secret      env[secretEnv] is not a non-empty string
//   malformed      fewer than two dots, exp not 1 to 12 decimal digits, the MAC not base64url
//   signature      the MAC is not the secret's (crypto.subtle.verify: constant time)
//   expired        now > exp (no leeway)
//   claim          the id is empty or over 512 bytes
// `now` is the request's time in whole seconds (its `nowMs`, else Date.now()), as the engine's.
//
// Imported keys are cached per engine (a snapshot's keys never change under it); an HMAC key is
// re-imported only when the secret it was imported from changes.

/** Most bytes of an id, as the engine's `MAX_ID_LEN`. */
const MAX_ID_BYTES = 512;

const utf8 = new TextEncoder();
// Fatal and BOM-preserving, as serde_json reads: invalid UTF-8 or a BOM before the JSON is malformed.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Refused {
  constructor(reason) {
    this.reason = reason;
  }
}

const refuse = (reason) => {
  throw new Refused(reason);
};

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const INDEX = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) INDEX[ALPHABET.charCodeAt(i)] = i;

/**
 * base64url without padding, strictly (the Rust `base64` crate's URL_SAFE_NO_PAD): no `=`, no
 * character outside the alphabet, no impossible length, no non-zero bits after the last byte.
 * Null when it is not such a string.
 */
function fromBase64Url(text) {
  if (text.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? INDEX[c] : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return acc === 0 ? out : null;
}

function toBase64Url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A base64url part decoded and parsed as a JSON object, else `malformed`. */
function jsonPart(part) {
  const bytes = fromBase64Url(part);
  if (bytes == null) refuse("malformed");
  let value;
  try {
    value = JSON.parse(strictUtf8.decode(bytes));
  } catch {
    refuse("malformed");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) refuse("malformed");
  return value;
}

const own = (object, key) => (Object.hasOwn(object, key) ? object[key] : undefined);
const isString = (v) => typeof v === "string";
const isStrings = (v) => Array.isArray(v) && v.every(isString);
const HEADER_STRINGS = ["typ", "cty", "jku", "kid", "x5u", "x5t", "x5t#S256"];

/** The JOSE header's `alg`, read first (as the wasmtime host does): exactly the source's. */
function checkAlg(header, alg) {
  const got = own(header, "alg");
  if (!isString(got)) refuse("malformed");
  if (got !== alg) refuse("alg");
}

/** The rest of the header, as the `jsonwebtoken` crate reads it. */
function checkHeader(header) {
  for (const field of HEADER_STRINGS) {
    const v = own(header, field);
    if (v != null && !isString(v)) refuse("malformed");
  }
  const x5c = own(header, "x5c");
  if (x5c != null && !isStrings(x5c)) refuse("malformed");
  // `b64: false` would change what the signature covers; `crit` may only name `b64`.
  const b64 = own(header, "b64");
  if (b64 !== undefined && typeof b64 !== "boolean") refuse("malformed");
  if (b64 === false) refuse("malformed");
  const crit = own(header, "crit");
  if (crit != null && !(isStrings(crit) && crit.length === 1 && crit[0] === "b64" && b64 !== undefined)) refuse("malformed");
}

/** `iss`/`aud` against the configured value: a string equal to it, or an array holding it. */
function checkNamed(value, want, reason) {
  if (want == null) return;
  if (value == null) refuse(reason);
  if (isString(value)) {
    if (value !== want) refuse(reason);
  } else if (isStrings(value)) {
    if (!value.includes(want)) refuse(reason);
  } else {
    refuse("malformed");
  }
}

function checkId(id) {
  if (!isString(id) || id.length === 0 || utf8.encode(id).length > MAX_ID_BYTES) refuse("claim");
  return id;
}

/** The id the JWT `token` proves under source `verify`, else throws a `Refused`. */
async function verifyJwt(token, verify, key, nowS) {
  if (token.slice(0, 7).toLowerCase() === "bearer ") token = token.slice(7).trimStart();
  const parts = token.split(".");
  const header = jsonPart(parts[0]);
  checkAlg(header, verify.alg);
  if (parts.length !== 3) refuse("malformed");
  checkHeader(header);
  const [head, body, sig] = parts;
  const signature = fromBase64Url(sig);
  if (signature == null) refuse("malformed");
  const cryptoKey = await key;
  if (cryptoKey == null) refuse("signature");
  const params = verify.alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", hash: "SHA-256" };
  let ok = false;
  try {
    ok = await crypto.subtle.verify(params, cryptoKey, signature, utf8.encode(`${head}.${body}`));
  } catch {
    ok = false;
  }
  if (!ok) refuse("signature");
  const claims = jsonPart(body);
  checkNamed(own(claims, "iss"), verify.issuer, "issuer");
  checkNamed(own(claims, "aud"), verify.audience, "audience");
  const leeway = verify.leewayS ?? 60;
  const exp = own(claims, "exp");
  if (typeof exp !== "number" || !Number.isFinite(exp)) refuse("malformed");
  if (nowS > exp + leeway) refuse("expired");
  if (Object.hasOwn(claims, "nbf")) {
    const nbf = claims.nbf;
    if (typeof nbf !== "number" || !Number.isFinite(nbf)) refuse("malformed");
    if (nowS + leeway < nbf) refuse("not_yet_valid");
  }
  return checkId(own(claims, verify.claim ?? "sub"));
}

/** The id the HMAC-signed `token` proves with `key` (the secret's), else throws a `Refused`. */
async function verifyHmac(token, key, nowS) {
  const last = token.lastIndexOf(".");
  const dot = last <= 0 ? -1 : token.lastIndexOf(".", last - 1);
  if (last < 0 || dot < 0) refuse("malformed");
  const signed = token.slice(0, last);
  const id = token.slice(0, dot);
  const exp = token.slice(dot + 1, last);
  if (!/^[0-9]{1,12}$/.test(exp)) refuse("malformed");
  const mac = fromBase64Url(token.slice(last + 1));
  if (mac == null) refuse("malformed");
  const cryptoKey = await key;
  if (cryptoKey == null) refuse("no_secret");
  let ok = false;
  try {
    ok = await crypto.subtle.verify("HMAC", cryptoKey, mac, utf8.encode(signed));
  } catch {
    ok = false;
  }
  if (!ok) refuse("signature");
  if (nowS > Number(exp)) refuse("expired");
  return checkId(id);
}

/** Per engine: its identity sources, whether any verifies, and the keys imported for them. */
const engines = new WeakMap();

function sourcesOf(engine) {
  let entry = engines.get(engine);
  if (entry === undefined) {
    const sources = engine.identitySources ?? [];
    entry = { sources, verifies: sources.some((s) => s.verify != null), keys: new Map() };
    engines.set(engine, entry);
  }
  return entry;
}

/** Whether `engine`'s snapshot has a verified identity source (asked once per engine). */
export function verifiesIdentity(engine) {
  return sourcesOf(engine).verifies;
}

function imported(promise, what) {
  return promise.catch((err) => {
    // A key the runtime cannot import (no Ed25519 in WebCrypto, a P-256 point off the curve):
    // every token of the source is refused, never accepted.
    console.error(`edgeseg: ${what} could not be imported, its tokens are refused: ${err?.message ?? err}`);
    return null;
  });
}

/** The source's public key, imported once per engine. */
function jwtKey(entry, index, verify) {
  let key = entry.keys.get(index);
  if (key === undefined) {
    const algorithm = verify.alg === "EdDSA" ? { name: "Ed25519" } : { name: "ECDSA", namedCurve: "P-256" };
    key = imported(crypto.subtle.importKey("raw", verify.key, algorithm, false, ["verify"]), `the ${verify.alg} key of identity source ${index}`);
    entry.keys.set(index, key);
  }
  return key;
}

/** The HMAC key of `secret`, imported once per engine and secret. */
function hmacKey(entry, index, secret) {
  let held = entry.keys.get(index);
  if (held === undefined || held.secret !== secret) {
    const key = imported(
      crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]),
      `the HMAC secret of identity source ${index}`,
    );
    held = { secret, key };
    entry.keys.set(index, held);
  }
  return held.key;
}

/** The request's time in whole seconds, read as the engine reads it. */
function nowSeconds(request) {
  let ms = request?.nowMs;
  if (ms === undefined) ms = request?.now_ms;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) ms = Date.now();
  return Math.floor(ms / 1000);
}

/** Node's and Deno's process environment, when there is one (Workers pass `env`). */
function processEnv() {
  return globalThis.process?.env;
}

/**
 * Checks the identity token `request` carries for `engine`'s snapshot: `{ id, source }` when it
 * proves an id (give it to the engine as the request's `verifiedId`: `withVerifiedId`),
 * `{ refused, source }` with the reason when it does not (decide the request without one: it is
 * anonymous and counted by the engine), `null` when there is nothing to verify (the snapshot has
 * no verified source, or the request's first present identity source is a bare claim, or none is
 * present). Never rejects for a bad token; throws what `identityClaim` throws for a request the
 * engine refuses (an `EdgesegError`) or a trap.
 *
 * @param {import("./identity.d.ts").IdentityEngine} engine
 * @param {unknown} request a Fetch Request or the engine's plain request object
 * @param {Record<string, unknown>} [env] where HMAC secrets are read (`env[secretEnv]`): the
 *   Worker's `env`; by default the process environment (Node, Deno with `process`)
 */
export async function verifyIdentity(engine, request, env = processEnv()) {
  const entry = sourcesOf(engine);
  if (!entry.verifies) return null;
  const claim = engine.identityClaim(request);
  if (claim == null) return null;
  const { source, token } = claim;
  const verify = entry.sources[source]?.verify;
  if (verify == null) return null; // cannot happen: the engine names verified sources only
  const nowS = nowSeconds(request);
  try {
    let id;
    if (verify.kind === "jwt") {
      id = await verifyJwt(token, verify, jwtKey(entry, source, verify), nowS);
    } else {
      const secret = env?.[verify.secretEnv];
      if (typeof secret !== "string" || secret === "") refuse("no_secret");
      id = await verifyHmac(token, hmacKey(entry, source, secret), nowS);
    }
    return { id, source };
  } catch (err) {
    if (err instanceof Refused) return { refused: err.reason, source };
    throw err;
  }
}

/** The request fields the engine reads (`verifiedId` aside). */
const REQUEST_FIELDS = ["method", "url", "host", "path", "headers", "cf", "country", "nowMs", "now_ms", "attributes", "clientIp"];

/**
 * `request` (a Fetch Request or a plain object) as a plain object the engine reads the same way,
 * with `verifiedId` set: what `decide`, `segmentsFor` and `shardFor` take after `verifyIdentity`
 * proved an id. A Fetch Request's own fields (method, URL, headers, Cloudflare's `cf`) are copied,
 * never the body.
 */
export function withVerifiedId(request, verifiedId) {
  const out = { ...request };
  for (const field of REQUEST_FIELDS) {
    const value = request[field];
    if (value !== undefined) out[field] = value;
  }
  out.verifiedId = verifiedId;
  return out;
}

/**
 * The value of an HMAC identity source for `id` until `expS` (Unix seconds): `<id>.<exp>.<mac>`,
 * what an origin sets as the cookie (or header) after it authenticated the customer. `secret` is
 * the string the edge reads from its `secretEnv` variable.
 */
export async function signHmacIdentity(id, expS, secret) {
  if (!Number.isSafeInteger(expS) || expS < 0 || String(expS).length > 12) {
    throw new RangeError("edgeseg: expS must be a whole number of Unix seconds (at most 12 digits)");
  }
  const signed = `${id}.${expS}`;
  const key = await crypto.subtle.importKey("raw", utf8.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8.encode(signed)));
  return `${signed}.${toBase64Url(mac)}`;
}

/** Every reason `verifyIdentity` may give, as the wasmtime host names them. */
export const IDENTITY_REFUSALS = Object.freeze(["malformed", "alg", "signature", "expired", "not_yet_valid", "issuer", "audience", "claim", "no_secret"]);
