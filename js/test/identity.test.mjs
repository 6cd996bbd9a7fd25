// Verified identity (issue 19, finding 1: "identity is a bare claim") through the npm package:
// `edgeseg/identity` checking tokens for the Node build, and the Worker adapter (js/worker.js) in
// workerd (miniflare) deciding with the id a token proves and with no id at all for a forged one.
// The keys are made here with WebCrypto (Ed25519, ECDSA P-256; the public JWKs go into the
// definitions), the tokens signed here, and the snapshots built here with the `edgeseg` CLI from the
// demo definitions and js/test/members.csv (alice premium, bob free, carol standard) — whole, and
// sharded for the Worker.
// Needs the environment `cargo xtask test` gives every JS test file (EDGESEG_JS_PKG, EDGESEG_JS_OUT,
// EDGESEG_JS_SNAPSHOT); the CLI is EDGESEG_CLI, else the debug build beside EDGESEG_JS_OUT
// (target/debug/edgeseg, which `cargo xtask test-js` builds first).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Miniflare } from "miniflare";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "..", "..");
const pkg = process.env.EDGESEG_JS_PKG;
const out = join(process.env.EDGESEG_JS_OUT, "identity");
const cli = process.env.EDGESEG_CLI ?? join(process.env.EDGESEG_JS_OUT, "..", "debug", "edgeseg");
const { Engine } = createRequire(import.meta.url)(join(pkg, "nodejs", "edgeseg.js"));
const { verifyIdentity, withVerifiedId, signHmacIdentity, verifiesIdentity, IDENTITY_REFUSALS } = await import(
  pathToFileURL(join(pkg, "identity.js")).href
);

const ISSUER = "https://id.example";
const SECRET = "correct horse battery staple";
const NOW_MS = Date.now();
const NOW_S = Math.floor(NOW_MS / 1000);
/** JS_TEST_SEED in xtask/src/js.rs: `churn-risk` is a bloom segment, and a fixed seed keeps its false positives fixed. */
const SEED = "20260101";

const keys = {};
let snapshot; // bytes of the whole snapshot
let engine; // the Node build's engine over it

const b64u = (bytes) => Buffer.from(bytes).toString("base64url");
const part = (value) => b64u(Buffer.from(typeof value === "string" ? value : JSON.stringify(value)));

/** A compact JWS of `payload` signed with `key` (a WebCrypto private key), `alg` in its header. */
async function jwt(payload, { key = keys.ed.privateKey, alg = "EdDSA", header = {} } = {}) {
  const signing = `${part({ alg, typ: "JWT", ...header })}.${part(payload)}`;
  const params = key.algorithm.name === "Ed25519" ? { name: "Ed25519" } : key.algorithm.name === "HMAC" ? "HMAC" : { name: "ECDSA", hash: "SHA-256" };
  return `${signing}.${b64u(new Uint8Array(await crypto.subtle.sign(params, key, Buffer.from(signing))))}`;
}

/** The claims of a good token for the authorization source: alice's unless `claims` says otherwise. */
const claims = (extra = {}) => ({ sub: "alice", iss: ISSUER, aud: "shop", exp: NOW_S + 3600, iat: NOW_S, ...extra });
const bearer = async (extra, options) => `Bearer ${await jwt(claims(extra), options)}`;

/** The definitions: the demo's, with three verified identity sources in place of its bare claims. */
function definitions(demo) {
  return {
    ...demo,
    identity: [
      { header: "authorization", verify: { jwt: { alg: "EdDSA", key: keys.edJwk, issuer: ISSUER, audience: "shop" } } },
      { header: "x-id-token", verify: { jwt: { alg: "ES256", key: keys.ecJwk, claim: "uid", leeway_s: 0 } } },
      { cookie: "edgeseg_sid", verify: { hmac: { secret_env: "EDGESEG_ID_SECRET" } } },
    ],
  };
}

before(async () => {
  keys.ed = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  keys.impostor = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  keys.ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  keys.ecImpostor = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  // The public JWKs as WebCrypto exports them (`key_ops`, `ext` and `alg` beside the key: ignored).
  keys.edJwk = await crypto.subtle.exportKey("jwk", keys.ed.publicKey);
  keys.ecJwk = await crypto.subtle.exportKey("jwk", keys.ec.publicKey);
  keys.edRaw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.ed.publicKey));
  keys.ecRaw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.ec.publicKey));
  // The key confusion attack: an HS256 token whose HMAC secret is the public key's bytes.
  keys.confused = await crypto.subtle.importKey("raw", keys.edRaw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

  await mkdir(out, { recursive: true });
  const demo = JSON.parse(await readFile(join(repo, "snapshots", "data", "demo.json"), "utf8"));
  const defs = join(out, "definitions.json");
  await writeFile(defs, JSON.stringify(definitions(demo), null, 2));
  const build = (...args) =>
    execFileSync(cli, ["build", "--definitions", defs, "--members", join(here, "members.csv"), "--seed", SEED, "--no-progress", ...args], {
      encoding: "utf8",
    });
  build("--out", join(out, "identity.snapshot"));
  build("--shards", "4", "--out", join(out, "identity.head"));
  snapshot = await readFile(join(out, "identity.snapshot"));
  engine = Engine.load(snapshot);
});

const request = (headers, extra = {}) => ({ url: "https://shop.example/", headers, clientIp: "192.0.2.1", nowMs: NOW_MS, ...extra });

test("identitySources: each source, and how its token is verified", () => {
  const sources = engine.identitySources;
  assert.equal(sources.length, 3);
  const [ed, ec, hmac] = sources;
  assert.deepEqual({ ...ed, verify: { ...ed.verify, key: [...ed.verify.key] } }, {
    kind: "header",
    name: "authorization",
    verify: { kind: "jwt", alg: "EdDSA", key: [...keys.edRaw], claim: "sub", issuer: ISSUER, audience: "shop", leewayS: 60 },
  });
  assert.ok(ec.verify.key instanceof Uint8Array);
  assert.deepEqual([...ec.verify.key], [...keys.ecRaw], "the uncompressed P-256 point 0x04 || x || y");
  assert.equal(ec.verify.key.length, 65);
  // No issuer or audience configured (the skin gives `undefined` today, its types say `null`).
  assert.deepEqual([ec.kind, ec.name, ec.verify.alg, ec.verify.claim, ec.verify.issuer ?? null, ec.verify.audience ?? null, ec.verify.leewayS], ["header", "x-id-token", "ES256", "uid", null, null, 0]);
  assert.deepEqual(hmac, { kind: "cookie", name: "edgeseg_sid", verify: { kind: "hmac", secretEnv: "EDGESEG_ID_SECRET" } });
  assert.equal(verifiesIdentity(engine), true);
});

test("a snapshot of bare claims has nothing to verify", async () => {
  const demo = Engine.load(await readFile(process.env.EDGESEG_JS_SNAPSHOT));
  assert.equal(verifiesIdentity(demo), false);
  assert.equal(await verifyIdentity(demo, request({ cookie: "edgeseg_uid=alice" })), null);
  assert.equal(demo.decide(request({ cookie: "edgeseg_uid=alice" })).tier, "premium");
});

test("EdDSA JWT: proves its sub, and the engine decides as that member (shard included)", async () => {
  const r = request({ authorization: await bearer() });
  assert.deepEqual(await verifyIdentity(engine, r), { id: "alice", source: 0 });
  const d = engine.decide(withVerifiedId(r, "alice"));
  assert.deepEqual([d.tier, d.identified, d.segments], ["premium", true, ["premium", "high-value"]]);
  // Without the verified id the same token is anonymous, and counted.
  const before = engine.stats().identity_refused;
  const anon = engine.decide(r);
  assert.deepEqual([anon.tier, anon.identified, anon.segments], ["free", false, []]);
  assert.equal(engine.stats().identity_refused, before + 1);
  // `Bearer` in any case, or none at all.
  for (const value of [`bearer ${await jwt(claims())}`, `BEARER ${await jwt(claims())}`, await jwt(claims())]) {
    assert.deepEqual(await verifyIdentity(engine, request({ authorization: value })), { id: "alice", source: 0 }, value);
  }
  // A Fetch Request works as well (its time is Date.now()).
  const fetchRequest = new Request("https://shop.example/account", { headers: { authorization: await bearer() } });
  const v = await verifyIdentity(engine, fetchRequest);
  assert.deepEqual(v, { id: "alice", source: 0 });
  assert.equal(engine.decide(withVerifiedId(fetchRequest, v.id)).tier, "premium");
  // A sharded head: the shard is the verified id's, so shardFor needs it too.
  const head = Engine.load(await readFile(join(out, "identity.head")));
  assert.equal(head.shardCount, 4);
  assert.equal(head.shardFor(r), undefined, "a token without a verified id needs no shard: it is anonymous");
  const subject = withVerifiedId(r, "alice");
  const shard = head.shardFor(subject);
  assert.equal(typeof shard, "number");
  head.loadShard(await readFile(join(out, `identity.shard-${shard.toString(16).padStart(4, "0")}`)));
  assert.equal(head.decide(subject).tier, "premium");
});

test("JWT: every refusal by its reason; leeway, audience arrays and the id claim's limits", async () => {
  const none = `${part({ alg: "none", typ: "JWT" })}.${part(claims())}.`;
  const good = await jwt(claims());
  const [h, p, s] = good.split(".");
  const flipped = `${h}.${part(claims({ sub: "carol" }))}.${s}`;
  const cases = [
    ["garbage", "not-a-token", "malformed"],
    ["two parts", `${h}.${p}`, "malformed"],
    ["four parts", `${good}.${s}`, "malformed"],
    ["padded base64", `${h}.${p}.${s}==`, "malformed"],
    ["standard base64", `${h}.${p}.${Buffer.from(s, "base64url").toString("base64").replace(/=+$/, "")}+/`, "malformed"],
    ["header not JSON", `${part("{alg")}.${p}.${s}`, "malformed"],
    ["header an array", `${part(["EdDSA"])}.${p}.${s}`, "malformed"],
    ["header without alg", `${part({ typ: "JWT" })}.${p}.${s}`, "malformed"],
    ["b64 false", await jwt(claims(), { header: { b64: false, crit: ["b64"] } }), "malformed"],
    ["an unknown crit", await jwt(claims(), { header: { crit: ["exp"] } }), "malformed"],
    ["alg none", none, "alg"],
    ["alg none, two parts (the alg is read first)", `${part({ alg: "none" })}.${p}`, "alg"],
    ["alg none, b64 false", `${part({ alg: "none", b64: false })}.${p}.${s}`, "alg"],
    ["HS256 with the public key as secret", await jwt(claims(), { key: keys.confused, alg: "HS256" }), "alg"],
    ["ES256 on an EdDSA source", await jwt(claims(), { key: keys.ec.privateKey, alg: "ES256" }), "alg"],
    ["eddsa (case)", await jwt(claims(), { alg: "eddsa" }), "alg"],
    ["another key", await jwt(claims(), { key: keys.impostor.privateKey }), "signature"],
    ["payload changed", flipped, "signature"],
    ["no signature", `${h}.${p}.`, "signature"],
    ["payload not an object", await jwt([1, 2]), "malformed"],
    ["another issuer", await jwt(claims({ iss: "https://evil.example" })), "issuer"],
    ["no issuer", await jwt(claims({ iss: undefined })), "issuer"],
    ["an issuer of the wrong type", await jwt(claims({ iss: 7 })), "malformed"],
    ["another audience", await jwt(claims({ aud: "admin" })), "audience"],
    ["no audience", await jwt(claims({ aud: undefined })), "audience"],
    ["an audience list without it", await jwt(claims({ aud: ["admin", "billing"] })), "audience"],
    ["no exp", await jwt(claims({ exp: undefined })), "malformed"],
    ["exp a string", await jwt(claims({ exp: String(NOW_S + 3600) })), "malformed"],
    ["expired past the leeway", await jwt(claims({ exp: NOW_S - 61 })), "expired"],
    ["not yet valid past the leeway", await jwt(claims({ nbf: NOW_S + 61 })), "not_yet_valid"],
    ["nbf a string", await jwt(claims({ nbf: "soon" })), "malformed"],
    ["no sub", await jwt(claims({ sub: undefined })), "claim"],
    ["sub a number", await jwt(claims({ sub: 42 })), "claim"],
    ["sub empty", await jwt(claims({ sub: "" })), "claim"],
    ["sub over 512 bytes", await jwt(claims({ sub: "é".repeat(257) })), "claim"],
  ];
  const seen = new Set();
  for (const [name, token, reason] of cases) {
    assert.deepEqual(await verifyIdentity(engine, request({ authorization: `Bearer ${token}` })), { refused: reason, source: 0 }, name);
    seen.add(reason);
  }
  assert.deepEqual([...seen].sort(), IDENTITY_REFUSALS.filter((r) => r !== "no_secret").sort(), "every JWT reason exercised");
  const accepted = [
    ["expired within the leeway", claims({ exp: NOW_S - 60 })],
    ["nbf within the leeway", claims({ nbf: NOW_S + 60 })],
    ["an audience list holding it", claims({ aud: ["admin", "shop"] })],
    ["an issuer list holding it", claims({ iss: [ISSUER] })],
    ["sub of 512 bytes", claims({ sub: "é".repeat(256) })],
  ];
  for (const [name, payload] of accepted) {
    const v = await verifyIdentity(engine, request({ authorization: `Bearer ${await jwt(payload)}` }));
    assert.deepEqual(v, { id: payload.sub, source: 0 }, name);
  }
  // Time is the request's: the token that is good now expired for a request two hours later.
  const later = request({ authorization: `Bearer ${good}` }, { nowMs: NOW_MS + 2 * 3600 * 1000 });
  assert.deepEqual(await verifyIdentity(engine, later), { refused: "expired", source: 0 });
});

test("ES256 JWT (raw r||s signature), its own claim and no leeway", async () => {
  const token = (payload, key = keys.ec.privateKey) => jwt(payload, { key, alg: "ES256" });
  const r = request({ "x-id-token": await token({ uid: "carol", exp: NOW_S + 60 }) });
  assert.deepEqual(await verifyIdentity(engine, r), { id: "carol", source: 1 });
  const d = engine.decide(withVerifiedId(r, "carol"));
  assert.deepEqual([d.tier, d.identified], ["standard", true]);
  const check = async (t, reason) => assert.deepEqual(await verifyIdentity(engine, request({ "x-id-token": t })), { refused: reason, source: 1 });
  await check(await token({ uid: "carol", exp: NOW_S + 60 }, keys.ecImpostor.privateKey), "signature");
  await check(await token({ sub: "carol", exp: NOW_S + 60 }), "claim");
  await check(await token({ uid: "carol", exp: NOW_S - 1 }), "expired");
  await check(await jwt({ uid: "carol", exp: NOW_S + 60 }), "alg");
  // No issuer or audience configured: the token's own are not looked at.
  assert.deepEqual(await verifyIdentity(engine, request({ "x-id-token": await token({ uid: "bob", exp: NOW_S + 60, iss: "x", aud: 5 }) })), { id: "bob", source: 1 });
});

test("HMAC-signed cookie: valid, tampered, expired, malformed, no secret", async () => {
  const env = { EDGESEG_ID_SECRET: SECRET };
  const cookie = (value) => request({ cookie: `theme=dark; edgeseg_sid=${value}` });
  const good = await signHmacIdentity("alice", NOW_S + 600, SECRET);
  assert.match(good, /^alice\.\d+\.[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(await verifyIdentity(engine, cookie(good), env), { id: "alice", source: 2 });
  assert.equal(engine.decide(withVerifiedId(cookie(good), "alice")).tier, "premium");
  // The id may hold dots: the value splits at its last two.
  const dotted = await signHmacIdentity("a.b.c", NOW_S + 600, SECRET);
  assert.deepEqual(await verifyIdentity(engine, cookie(dotted), env), { id: "a.b.c", source: 2 });
  const [, exp, mac] = good.split(".");
  const bobs = await signHmacIdentity("bob", NOW_S + 600, SECRET);
  const refusals = [
    ["bob's MAC on alice's id", `alice.${exp}.${bobs.split(".")[2]}`, "signature"],
    ["a later exp", `alice.${Number(exp) + 1}.${mac}`, "signature"],
    ["another secret", await signHmacIdentity("alice", NOW_S + 600, "guess"), "signature"],
    ["expired", await signHmacIdentity("alice", NOW_S - 1, SECRET), "expired"],
    ["no dots", "alice", "malformed"],
    ["one dot", `alice.${mac}`, "malformed"],
    ["exp not digits", `alice.12x.${mac}`, "malformed"],
    ["exp of 13 digits", `alice.1234567890123.${mac}`, "malformed"],
    ["the MAC padded", `${good}=`, "malformed"],
    ["empty id", await signHmacIdentity("", NOW_S + 600, SECRET), "claim"],
    ["id over 512 bytes", await signHmacIdentity("x".repeat(513), NOW_S + 600, SECRET), "claim"],
  ];
  for (const [name, value, reason] of refusals) {
    assert.deepEqual(await verifyIdentity(engine, cookie(value), env), { refused: reason, source: 2 }, name);
  }
  // The secret is the host's: without it nothing verifies, whatever the value.
  for (const noSecret of [{}, { EDGESEG_ID_SECRET: "" }, { EDGESEG_ID_SECRET: 7 }, undefined]) {
    assert.deepEqual(await verifyIdentity(engine, cookie(good), noSecret), { refused: "no_secret", source: 2 });
  }
  // By default, the process environment.
  process.env.EDGESEG_ID_SECRET = SECRET;
  try {
    assert.deepEqual(await verifyIdentity(engine, cookie(good)), { id: "alice", source: 2 });
  } finally {
    delete process.env.EDGESEG_ID_SECRET;
  }
});

test("forged ids are no identity; the first present source decides; a refused token is anonymous and counted", async () => {
  // The demo's bare claims are not sources of this snapshot: naming a premium member is nothing.
  for (const headers of [{ "x-customer-id": "alice" }, { cookie: "edgeseg_uid=alice" }, { "x-edgeseg-id": "alice" }]) {
    assert.equal(await verifyIdentity(engine, request(headers)), null);
    const d = engine.decide(request(headers));
    assert.deepEqual([d.tier, d.identified, d.segments], ["free", false, []]);
  }
  // A refused token in the first present source is not passed over for a good one further down.
  const good = await signHmacIdentity("alice", NOW_S + 600, SECRET);
  const r = request({ authorization: `Bearer ${await jwt(claims(), { key: keys.impostor.privateKey })}`, cookie: `edgeseg_sid=${good}` });
  assert.deepEqual(await verifyIdentity(engine, r, { EDGESEG_ID_SECRET: SECRET }), { refused: "signature", source: 0 });
  const before = engine.stats().identity_refused;
  assert.equal(engine.decide(r).identified, false);
  assert.equal(engine.stats().identity_refused, before + 1);
  // Copies that disagree are no claim at all.
  assert.equal(await verifyIdentity(engine, request([["x-id-token", "a"], ["x-id-token", "b"]])), null);
});

test("keys are imported once per engine, not per request", async () => {
  const fresh = Engine.load(snapshot);
  const subtle = globalThis.crypto.subtle;
  const original = subtle.importKey;
  let imports = 0;
  subtle.importKey = function (...args) {
    imports++;
    return original.apply(this, args);
  };
  try {
    const env = { EDGESEG_ID_SECRET: SECRET };
    const hmac = await signHmacIdentity("bob", NOW_S + 600, SECRET); // imports a key of its own
    imports = 0;
    for (let i = 0; i < 10; i++) {
      assert.equal((await verifyIdentity(fresh, request({ authorization: await bearer({ sub: `u${i}` }) }))).id, `u${i}`);
      assert.equal((await verifyIdentity(fresh, request({ "x-id-token": await jwt({ uid: "carol", exp: NOW_S + 60 }, { key: keys.ec.privateKey, alg: "ES256" }) }))).id, "carol");
      assert.equal((await verifyIdentity(fresh, request({ cookie: `edgeseg_sid=${hmac}` }), env)).id, "bob");
    }
    assert.equal(imports, 3, "one key per source");
    // A changed secret is imported afresh (and the old MAC no longer verifies).
    assert.deepEqual(await verifyIdentity(fresh, request({ cookie: `edgeseg_sid=${hmac}` }), { EDGESEG_ID_SECRET: "rotated" }), { refused: "signature", source: 2 });
    assert.equal(imports, 4);
  } finally {
    subtle.importKey = original;
  }
});

// ---- The Worker adapter in workerd ----

let mf;
let shardedMf;

/** JSON of the adapter's stats (u64 counters may be BigInts). */
const statsJson = `JSON.stringify(stats(), (k, v) => (typeof v === "bigint" ? Number(v) : v))`;

/** A Worker that echoes what its origin was sent and the decision, plus the adapter's stats. */
const entry = (options) => `
import { withEdgeseg, stats } from "./pkg/worker.js";
const handler = withEdgeseg({
  binding: "SNAPSHOTS",
  refreshMs: 3_600_000,
  ${options}
  origin: (req, env, ctx, decision) =>
    new Response(JSON.stringify({ headers: Object.fromEntries(req.headers), tier: decision?.tier, identified: decision?.identified, segments: decision?.segments })),
});
export default {
  async fetch(request, env, ctx) {
    // x-test-no-secret: the Worker without its HMAC secret binding.
    const e = request.headers.has("x-test-no-secret") ? { SNAPSHOTS: env.SNAPSHOTS } : env;
    const response = await handler.fetch(request, e, ctx);
    const out = new Response(response.body, response);
    out.headers.set("x-test-stats", ${statsJson});
    return out;
  },
};
`;

async function workerd(name, options, fill) {
  const root = dirname(pkg);
  const scriptPath = join(root, `worker-test-identity-${name}.mjs`);
  await writeFile(scriptPath, entry(options));
  const instance = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot: root,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
    ],
    kvNamespaces: ["SNAPSHOTS"],
    bindings: { EDGESEG_ID_SECRET: SECRET },
    compatibilityDate: "2025-01-01",
  });
  await instance.ready;
  await fill(await instance.getKVNamespace("SNAPSHOTS"));
  return instance;
}

before(async () => {
  mf = await workerd("whole", "", (kv) => kv.put("edgeseg.snapshot", snapshot));
  shardedMf = await workerd("sharded", `sharded: true, key: "identity",`, async (kv) => {
    await kv.put("identity/head", await readFile(join(out, "identity.head")));
    for (const file of (await readdir(out)).filter((f) => f.startsWith("identity.shard-"))) {
      await kv.put(`identity/shard/${parseInt(file.slice("identity.shard-".length), 16)}`, await readFile(join(out, file)));
    }
  });
});

after(async () => {
  await mf?.dispose();
  await shardedMf?.dispose();
});

// Anonymous requests are throttled per client address: each request comes from its own /64
// unless a test names an address.
let client = 0;
async function fetchVia(instance, path, headers = {}) {
  const all = { "cf-connecting-ip": `2001:db8:1d:${(++client).toString(16)}::1`, ...headers };
  const res = await instance.dispatchFetch(`https://shop.example${path}`, { headers: all });
  const stats = JSON.parse(res.headers.get("x-test-stats"));
  const body = res.status === 200 ? await res.json() : await res.text();
  return { status: res.status, body, stats, res };
}
const get = (path, headers) => fetchVia(mf, path, headers);

/** What the origin learns of a request: its tier, whether identified, its segments (the decision's, and the tagged header's). */
const seen = ({ body }) => [body.tier, body.identified, body.headers["x-edgeseg-tier"], body.headers["x-edgeseg-segments"] ?? ""];
const ANONYMOUS = ["free", false, "free", ""];

test("Worker: a valid EdDSA JWT for a premium member is that member, at the origin and at /user/segments", async () => {
  const r = await get("/", { authorization: await bearer() });
  assert.equal(r.status, 200);
  assert.deepEqual(seen(r), ["premium", true, "premium", "premium,high-value"]);
  assert.equal(r.body.headers["x-edgeseg-route"], "premium-pool");
  const segments = await get("/user/segments", { authorization: await bearer() });
  assert.deepEqual(segments.body, { tier: "premium", segments: ["premium", "high-value"], version: 1 });
  assert.equal(segments.stats.identity.verified, 2);
  assert.deepEqual(segments.stats.identity.refused, {});
  assert.equal(segments.stats.engine.identity_refused, 0);
});

test("Worker: forged ids and bad tokens are anonymous, at the origin and at /user/segments; refusals counted by reason", async () => {
  const anonymous = (await get("/user/segments")).body;
  assert.deepEqual(anonymous, { tier: "free", segments: [], version: 1 });
  const forged = [
    { "x-customer-id": "alice" },
    { cookie: "edgeseg_uid=alice" },
    { "x-edgeseg-tier": "premium", baggage: "edgeseg.tier=premium" },
  ];
  const tokens = [
    ["signature", await bearer({}, { key: keys.impostor.privateKey })],
    ["alg", `Bearer ${part({ alg: "none" })}.${part(claims())}.`],
    ["alg", await bearer({}, { key: keys.confused, alg: "HS256" })],
    ["expired", await bearer({ exp: NOW_S - 3600 })],
    ["audience", await bearer({ aud: "admin" })],
    ["malformed", "Bearer alice"],
  ];
  const before = (await get("/user/segments")).stats;
  for (const headers of [...forged, ...tokens.map(([, t]) => ({ authorization: t, "x-customer-id": "alice", cookie: "edgeseg_uid=alice" }))]) {
    const at = JSON.stringify(headers);
    const r = await get("/checkout", headers);
    assert.equal(r.status, 200, at);
    assert.equal(r.body.tier, "free", at);
    assert.equal(r.body.identified, false, at);
    assert.equal(r.body.headers["x-edgeseg-tier"], "free", at);
    assert.ok(!r.body.segments.includes("premium") && !r.body.segments.includes("high-value"), at);
    assert.equal(r.body.headers["x-edgeseg-route"], "shared-pool", at);
    const segs = r.body.headers["x-edgeseg-segments"];
    const ours = ["edgeseg.tier=free", segs && `edgeseg.segments=${segs.replaceAll(",", "%2C")}`, "edgeseg.snapshot=1"];
    assert.equal(r.body.headers["baggage"], ours.filter(Boolean).join(","), at);
    assert.deepEqual((await get("/user/segments", headers)).body, anonymous, at);
  }
  const { stats } = await get("/user/segments");
  const counted = {};
  for (const [reason] of tokens) counted[reason] = (counted[reason] ?? 0) + 2; // the page and /user/segments
  const delta = Object.fromEntries(Object.entries(stats.identity.refused).map(([k, v]) => [k, v - (before.identity.refused[k] ?? 0)]));
  assert.deepEqual(delta, counted);
  assert.equal(stats.identity.verified, before.identity.verified, "nothing verified");
  assert.equal(stats.engine.identity_refused - before.engine.identity_refused, tokens.length * 2, "the engine counts the same tokens");
});

test("Worker: a valid ES256 token works", async () => {
  const token = await jwt({ uid: "carol", exp: NOW_S + 300 }, { key: keys.ec.privateKey, alg: "ES256" });
  const r = await get("/", { "x-id-token": token });
  assert.deepEqual(seen(r), ["standard", true, "standard", "standard,high-value,churn-risk"]);
  const forged = await get("/", { "x-id-token": await jwt({ uid: "carol", exp: NOW_S + 300 }, { key: keys.ecImpostor.privateKey, alg: "ES256" }) });
  assert.deepEqual(seen(forged), ANONYMOUS);
});

test("Worker: HMAC cookie valid → identified; tampered → anonymous; no secret in env → anonymous, no_secret", async () => {
  const good = await signHmacIdentity("alice", NOW_S + 600, SECRET);
  const r = await get("/", { cookie: `theme=dark; edgeseg_sid=${good}` });
  assert.deepEqual(seen(r), ["premium", true, "premium", "premium,high-value"]);
  const bobs = await signHmacIdentity("bob", NOW_S + 600, SECRET);
  const tampered = `alice.${bobs.split(".").slice(1).join(".")}`;
  const t = await get("/", { cookie: `edgeseg_sid=${tampered}` });
  assert.deepEqual(seen(t), ANONYMOUS);
  assert.equal(t.stats.identity.refused.signature >= 1, true);
  const before = t.stats.identity.refused.no_secret ?? 0;
  const n = await get("/", { cookie: `edgeseg_sid=${good}`, "x-test-no-secret": "1" });
  assert.deepEqual(seen(n), ANONYMOUS);
  assert.equal(n.stats.identity.refused.no_secret, before + 1);
  assert.deepEqual((await get("/user/segments", { cookie: `edgeseg_sid=${good}` })).body.tier, "premium");
});

test("Worker: rotating refused tokens from one address buys no fresh throttle buckets; verified ids key their own", async () => {
  // The free tier's burst is 10 at 2 per second. Each request a different id, each token refused.
  let res;
  const ip = "203.0.113.77";
  for (let i = 0; i < 40; i++) {
    const token = i % 2 === 0 ? await bearer({ sub: `mint-${i}` }, { key: keys.impostor.privateKey }) : await bearer({ sub: `mint-${i}`, exp: NOW_S - 3600 });
    res = await get("/p/1", { "cf-connecting-ip": ip, authorization: token });
    if (res.status === 429) break;
  }
  assert.equal(res.status, 429, "throttled per address");
  assert.match(res.res.headers.get("ratelimit"), /^"free";r=0;/);
  // Tokens the issuer signed are ids: twelve customers behind one address are twelve buckets.
  for (let i = 0; i < 12; i++) {
    const r = await get("/p/1", { "cf-connecting-ip": "203.0.113.78", authorization: await bearer({ sub: `customer-${i}` }) });
    assert.equal(r.status, 200, `customer-${i}`);
    assert.match(r.res.headers.get("ratelimit"), /^"free";r=9;/, `customer-${i} has a bucket of its own`);
  }
});

test("Worker, sharded: the shard read is the verified id's; a refused token reads none", async () => {
  const r = await fetchVia(shardedMf, "/", { authorization: await bearer() });
  assert.deepEqual(seen(r), ["premium", true, "premium", "premium,high-value"]);
  assert.equal(r.body.headers["x-edgeseg-shard-missing"], undefined);
  assert.deepEqual([r.stats.shards.reads, r.stats.shards.hits, r.stats.shards.misses], [1, 1, 0]);
  const forged = await fetchVia(shardedMf, "/", { authorization: await bearer({ sub: "carol" }, { key: keys.impostor.privateKey }), "x-customer-id": "carol" });
  assert.deepEqual(seen(forged), ANONYMOUS);
  assert.deepEqual([forged.stats.shards.reads, forged.stats.shards.hits], [1, 1], "no shard read for an anonymous request");
  assert.deepEqual(forged.stats.identity, { verified: 1, refused: { signature: 1 } });
  const hmac = await fetchVia(shardedMf, "/", { cookie: `edgeseg_sid=${await signHmacIdentity("carol", NOW_S + 600, SECRET)}` });
  assert.deepEqual(seen(hmac), ["standard", true, "standard", "standard,high-value,churn-risk"]);
  assert.equal(hmac.stats.shards.misses, 0);
});
