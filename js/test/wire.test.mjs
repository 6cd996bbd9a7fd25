// The skin's fast path (edge/src/js/wire.js): the request is encoded in JS with only the headers and
// attributes the snapshot reads, crosses once, and the decision comes back as bytes read into the
// same plain object. Through the Node build, on the demo snapshot (`js/test/README.md`). Run by
// `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT set).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { Engine } = require(join(process.env.EDGESEG_JS_PKG, "nodejs", "edgeseg.js"));
const bytes = readFileSync(process.env.EDGESEG_JS_SNAPSHOT);
const NOW = 1767225600000;
const alice = { url: "https://shop.example/checkout", headers: { cookie: "edgeseg_uid=alice", "user-agent": "Mobile" }, country: "DE", nowMs: NOW };

/** `alice` with `extra` headers added among hers. */
function withHeaders(extra) {
  return { ...alice, headers: { "x-a": "1", ...alice.headers, ...extra } };
}

test("headers no rule, identity source or signal reads change nothing", () => {
  const unrelated = {};
  for (let i = 0; i < 60; i++) unrelated[`x-unrelated-${i}`] = `value ${i} ${"é".repeat(i)}`;
  const a = Engine.load(bytes);
  const b = Engine.load(bytes);
  assert.deepEqual(b.decide(withHeaders(unrelated)), a.decide(alice));
  assert.deepEqual(b.segmentsFor(withHeaders(unrelated)), a.segmentsFor(alice));
  // The same as pairs and as a Headers: order and case of the ones read are kept.
  const pairs = [["X-Noise", "1"], ["Cookie", "edgeseg_uid=alice"], ["X-Noise", "2"], ["User-Agent", "Mobile"]];
  assert.deepEqual(Engine.load(bytes).decide({ ...alice, headers: pairs }), Engine.load(bytes).decide(alice));
  assert.deepEqual(Engine.load(bytes).decide({ ...alice, headers: new Headers(pairs) }), Engine.load(bytes).decide(alice));
});

test("an unread header over the limit is still counted in headers_skipped", () => {
  const e = Engine.load(bytes);
  e.decide(withHeaders({ "x-huge": "y".repeat(9000), "x-small": "z" }));
  assert.equal(e.stats().headers_skipped, 1);
  // Multi-byte: 3000 characters of 3 bytes each are 9000 bytes, over the 8192 default.
  e.decide(withHeaders({ "x-huge": "€".repeat(3000) }));
  assert.equal(e.stats().headers_skipped, 2);
  // 2000 of them (6000 bytes) are not.
  e.decide(withHeaders({ "x-huge": "€".repeat(2000) }));
  assert.equal(e.stats().headers_skipped, 2);
});

test("strings of every length and alphabet cross intact", () => {
  const e = Engine.load(bytes);
  // Paths whose UTF-8 length takes a 1-, 2- and 3-byte varint; `private-pages` reads the path.
  for (const n of [10, 127, 128, 300, 16383, 16384, 70000]) {
    const path = "/checkout/" + "ü".repeat(n);
    assert.ok(e.segmentsFor({ path }).includes("private-pages"), `path of ${n}`);
    assert.ok(!e.segmentsFor({ path: "/" + "ü".repeat(n) }).includes("private-pages"), `path of ${n}`);
  }
  // Astral characters and a lone surrogate (read as U+FFFD, as TextEncoder does) in the identity.
  for (const id of ["alice\u{1F600}", "\uD800alice", "al\u00e9ice"]) {
    assert.equal(e.decide({ headers: { cookie: `edgeseg_uid=${id}` }, nowMs: NOW }).identified, true);
  }
  assert.equal(e.decide({ headers: { cookie: "edgeseg_uid=alice" }, nowMs: NOW }).tier, "premium");
});

test("128 headers or more that the snapshot reads (a longer count varint)", () => {
  const pairs = [];
  for (let i = 0; i < 200; i++) pairs.push(["cookie", `c${i}=${i}`]);
  pairs.push(["cookie", "edgeseg_uid=alice"]);
  const d = Engine.load(bytes).decide({ path: "/", headers: pairs, nowMs: NOW });
  assert.equal(d.tier, "premium");
  const { mergeResponseHeaders } = require(join(process.env.EDGESEG_JS_PKG, "nodejs", "edgeseg.js"));
  const decided = [];
  for (let i = 0; i < 300; i++) decided.push([`x-${i}`, "v"]);
  assert.equal(mergeResponseHeaders(decided, [["vary", "a"]]).length, 300);
});

test("attributes of every type are accepted, in any number", () => {
  const e = Engine.load(bytes);
  const attributes = { device: "mobile", score: 3.5, bot: false, x: null, y: undefined };
  for (let i = 0; i < 50; i++) attributes[`a${i}`] = i % 2 ? i : `v${i}`;
  assert.deepEqual(e.decide({ ...alice, attributes }).segments, Engine.load(bytes).decide(alice).segments);
});

test("bad input throws an EdgesegError of kind Request, never a trap", () => {
  const e = Engine.load(bytes);
  const bad = [
    "GET /",
    null,
    42,
    { headers: 5 },
    { headers: { a: 1 } },
    { headers: { a: ["x", 2] } },
    { headers: [["a"]] },
    { headers: ["ab"] },
    { nowMs: "soon" },
    { nowMs: -1 },
    { nowMs: Infinity },
    { method: 7 },
    { url: {} },
    { country: 1 },
    { cf: { country: 2 } },
    { attributes: 5 },
    { attributes: { x: {} } },
    { attributes: { x: 1n } },
    { clientIp: [] },
    { verifiedId: 3 },
    Object.defineProperty({}, "headers", { get() { throw new Error("getter says no"); } }),
    Object.defineProperty({}, "path", { get() { throw "a string"; } }),
  ];
  for (const request of bad) {
    for (const call of [() => e.decide(request), () => e.segmentsFor(request), () => e.shardFor(request), () => e.identityClaim(request)]) {
      assert.throws(call, (err) => err instanceof Error && err.name === "EdgesegError" && err.kind === "Request" && typeof err.code === "number", `${String(request)}`);
    }
  }
  // The engine still decides afterwards.
  assert.equal(e.decide(alice).tier, "premium");
});

test("huge and fractional clocks read as the Rust reader read them", () => {
  const e = Engine.load(bytes);
  assert.equal(e.decide({ ...alice, nowMs: 1e300 }).stale, true);
  assert.equal(e.decide({ ...alice, nowMs: NOW + 0.75 }).stale, false);
});
