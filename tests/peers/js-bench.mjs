// The JS path against its peer, in one Node run (`cargo xtask bench --only js`; a smoke run with
// EDGESEG_BENCH_ITERS=20 in `cargo xtask test-js`). Measures, per scenario (one `==`, a 4-clause
// and/or, `fractional`, all three), on the same requests:
//
// - `decide`: the npm package's `engine.decide(request)` (Node build: the request read and encoded
//   in JS, one crossing, the decision read back into a plain object);
// - `segmentsFor`: the package's `engine.segmentsFor(request)` (rules only, like the peer);
// - `raw`: the raw-ABI module (`target/wasm/edgeseg.wasm`) fed pre-encoded postcard requests: copy
//   in, `edgeseg_decide`, free the answer (not decoded): the engine's own cost;
// - `peer`: datalogic-rs in wasm behind a JSON-string ABI (tests/peers/flagd-wasm), as
//   flagd-evaluator embeds it: `JSON.stringify(context)`, copy in, evaluate, decode and
//   `JSON.parse` the answer.
//
// Medians of per-call times over runs (each run interleaves the contenders), and the ratios
// decide÷raw and peer÷decide (above 1: edgeseg faster). Then cold start: compile, instantiate,
// first load and first answer, fresh each time. Prints; asserts nothing (the machine is shared).
//
// Env: EDGESEG_JS_PKG (the npm package folder), EDGESEG_WASM (the raw module), EDGESEG_PEER_WASM,
// EDGESEG_CLI (to build the scenario snapshots), EDGESEG_BENCH_DIR (scratch), EDGESEG_BENCH_ITERS
// (calls per run, default 20000), EDGESEG_BENCH_RUNS (default 11), EDGESEG_BENCH_JSON (report).

import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (cargo xtask bench --only js sets it)`);
  return v;
};
const pkg = env("EDGESEG_JS_PKG");
const rawWasm = readFileSync(env("EDGESEG_WASM"));
const peerWasm = readFileSync(env("EDGESEG_PEER_WASM"));
const cli = env("EDGESEG_CLI");
const dir = env("EDGESEG_BENCH_DIR");
const ITERS = Number(process.env.EDGESEG_BENCH_ITERS ?? 20000);
const RUNS = Number(process.env.EDGESEG_BENCH_RUNS ?? 11);
mkdirSync(dir, { recursive: true });

const require = createRequire(import.meta.url);
const { Engine } = require(join(pkg, "nodejs", "edgeseg.js"));
// The package's own request encoder, to pre-encode the raw module's requests.
const wire = await import(new URL("../../edge/src/js/wire.js", import.meta.url).href);

// --- scenarios: the same rules for edgeseg (segments) and the peer (named rules) ---
const EQ = { "==": [{ var: "country" }, "DE"] };
const ANDOR = {
  or: [
    { and: [{ "==": [{ var: "country" }, "DE"] }, { in: ["/checkout", { var: "path" }] }] },
    { and: [{ "==": [{ var: "attributes.plan" }, "pro"] }, { in: ["Mobile", { var: "headers.user-agent" }] }] },
  ],
};
const FRACTIONAL = { "==": [{ fractional: [{ var: "cookies.uid" }, ["on", 50], ["off", 50]] }, "on"] };
const SCENARIOS = {
  "==": { eq: EQ },
  "and/or (4 clauses)": { andor: ANDOR },
  fractional: { fractional: FRACTIONAL },
  "all three": { eq: EQ, andor: ANDOR, fractional: FRACTIONAL },
};

const ID = { "==": "eq", "and/or (4 clauses)": "andor", fractional: "fractional", "all three": "all" };

function snapshot(name, rules) {
  const defs = {
    id: `bench-${ID[name]}`,
    version: 1,
    expires_in_s: 86400 * 3650,
    identity: [{ cookie: "edgeseg_uid", trust: "unverified" }],
    purposes: ["contract"],
    tiers: ["default"],
    default_tier: "default",
    segments: Object.entries(rules).map(([seg, rule], i) => ({ name: seg, purpose: "contract", precedence: 10 - i, rule })),
  };
  const base = join(dir, defs.id);
  writeFileSync(`${base}.json`, JSON.stringify(defs));
  rmSync(`${base}.snapshot`, { force: true });
  // No segment has members; the CLI still wants a member file.
  writeFileSync(join(dir, "members.csv"), "id,consents\nu-1,contract\n");
  execFileSync(cli, ["build", "--definitions", `${base}.json`, "--members", join(dir, "members.csv"), "--out", `${base}.snapshot`, "--no-progress"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return readFileSync(`${base}.snapshot`);
}

// --- requests: a browser-like request with the headers a CDN sees, and its peer context ---
const COUNTRIES = ["DE", "US", "FR", "DE"];
const PATHS = ["/", "/checkout", "/p/1", "/checkout/pay"];
const AGENTS = ["Mozilla/5.0 (iPhone) Mobile Safari", "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"];
const NOW = 1767225600000;
const requests = [];
const contexts = [];
for (let i = 0; i < 64; i++) {
  const uid = `u-${(i * 7919) % 1000}`;
  const headers = {
    accept: "text/html,application/xhtml+xml",
    "accept-encoding": "gzip, br",
    "accept-language": "de-DE,de;q=0.9,en;q=0.8",
    "cache-control": "no-cache",
    cookie: `theme=dark; uid=${uid}; _ga=GA1.2.${i}`,
    referer: "https://shop.example/",
    "sec-fetch-mode": "navigate",
    "user-agent": AGENTS[i % 2],
    "x-forwarded-proto": "https",
  };
  const plan = i % 3 === 0 ? "pro" : "free";
  requests.push({
    method: "GET",
    host: "shop.example",
    path: PATHS[i % 4],
    headers,
    country: COUNTRIES[i % 4],
    nowMs: NOW,
    attributes: { plan },
  });
  contexts.push({
    targetingKey: uid,
    method: "GET",
    host: "shop.example",
    path: PATHS[i % 4],
    country: COUNTRIES[i % 4],
    headers,
    cookies: { theme: "dark", uid, _ga: `GA1.2.${i}` },
    attributes: { plan },
  });
}

// --- the raw module: load, and decide pre-encoded requests ---
function rawEngine(module, snap) {
  const { exports: x } = new WebAssembly.Instance(module, {});
  const put = (bytes) => {
    const ptr = x.edgeseg_alloc(bytes.length);
    new Uint8Array(x.memory.buffer, ptr, bytes.length).set(bytes);
    return ptr;
  };
  const sp = put(snap);
  const packed = x.edgeseg_load_owned(sp, snap.length);
  const len = Number(packed >> 32n);
  const ptr = Number(packed & 0xffffffffn);
  const answer = new Uint8Array(x.memory.buffer, ptr, len);
  if (answer[0] !== 0) throw new Error("raw load refused the snapshot");
  // LoadResult: Ok tag 0, then `handle` as a varint.
  let handle = 0;
  for (let i = 1, shift = 0; ; i++, shift += 7) {
    handle |= (answer[i] & 0x7f) << shift;
    if (answer[i] < 0x80) break;
  }
  x.edgeseg_dealloc(ptr, len);
  return (bytes) => {
    const p = put(bytes);
    const out = x.edgeseg_decide(handle, p, bytes.length);
    x.edgeseg_dealloc(p, bytes.length);
    const olen = Number(out >> 32n);
    const optr = Number(out & 0xffffffffn);
    const ok = new Uint8Array(x.memory.buffer, optr, 1)[0] === 0;
    x.edgeseg_dealloc(optr, olen);
    return ok;
  };
}

// --- the peer: load rules, evaluate JSON contexts ---
const enc = new TextEncoder();
const dec = new TextDecoder();
function peerEngine(module, rules) {
  const { exports: x } = new WebAssembly.Instance(module, {});
  const call = (text, f) => {
    const bytes = enc.encode(text);
    const p = x.peer_alloc(bytes.length);
    new Uint8Array(x.memory.buffer, p, bytes.length).set(bytes);
    const out = f(p, bytes.length);
    x.peer_dealloc(p, bytes.length);
    return out;
  };
  if (call(JSON.stringify(rules), x.peer_load) < 0) throw new Error("peer refused the rules");
  return (context) =>
    call(JSON.stringify(context), (p, n) => {
      const packed = x.peer_evaluate(p, n);
      const len = Number(packed >> 32n);
      const ptr = Number(packed & 0xffffffffn);
      const answer = JSON.parse(dec.decode(new Uint8Array(x.memory.buffer, ptr, len)));
      x.peer_dealloc(ptr, len);
      return answer;
    });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * ns per call of `f` over `inputs`, one run: wall clock, and the process's CPU time (user +
 * system, which a shared machine's other loads do not inflate; it includes V8's GC threads).
 */
function time(f, inputs) {
  const n = inputs.length;
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERS; i++) f(inputs[i % n]);
  const wall = Number(process.hrtime.bigint() - t0) / ITERS;
  const used = process.cpuUsage(cpu);
  return [wall, ((used.user + used.system) * 1000) / ITERS];
}

const rawModule = new WebAssembly.Module(rawWasm);
const peerModule = new WebAssembly.Module(peerWasm);
const reader = wire.makeReader(undefined, undefined, 0, 0);
const encoded = requests.map((r) => wire.encodeRequest(reader, r).slice(0, -1));
const report = { iters: ITERS, runs: RUNS, scenarios: {}, cold_start_us: {} };

console.log(`JS path, Node ${process.version}: medians of ${RUNS} runs × ${ITERS} calls, ns per call (wall clock; CPU time in brackets)`);
console.log(`${"scenario".padEnd(20)} ${"decide".padStart(14)} ${"segmentsFor".padStart(14)} ${"raw".padStart(14)} ${"peer".padStart(14)}  decide÷raw  peer÷decide  peer÷segmentsFor`);
const CONTENDERS = ["decide", "segmentsFor", "raw", "peer"];
for (const [name, rules] of Object.entries(SCENARIOS)) {
  const snap = snapshot(name, rules);
  const engine = Engine.load(snap);
  const raw = rawEngine(rawModule, snap);
  const peer = peerEngine(peerModule, rules);
  // Same answers first: the segments edgeseg matched are the rules the peer found true.
  for (let i = 0; i < requests.length; i++) {
    const ours = [...engine.decide(requests[i]).segments].sort();
    const theirs = [...peer(contexts[i])].sort();
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
      throw new Error(`${name}: edgeseg ${JSON.stringify(ours)}, peer ${JSON.stringify(theirs)} on request ${i}`);
    }
    if (!raw(encoded[i])) throw new Error(`${name}: the raw module refused request ${i}`);
  }
  const calls = {
    decide: [(q) => engine.decide(q), requests],
    segmentsFor: [(q) => engine.segmentsFor(q), requests],
    raw: [raw, encoded],
    peer: [peer, contexts],
  };
  const wall = Object.fromEntries(CONTENDERS.map((k) => [k, []]));
  const cpu = Object.fromEntries(CONTENDERS.map((k) => [k, []]));
  for (let r = 0; r < RUNS; r++) {
    for (const k of CONTENDERS) {
      const [w, c] = time(...calls[k]);
      wall[k].push(w);
      cpu[k].push(c);
    }
  }
  const m = Object.fromEntries(CONTENDERS.map((k) => [k, median(wall[k])]));
  const mc = Object.fromEntries(CONTENDERS.map((k) => [k, median(cpu[k])]));
  const row = {
    wall_ns: m,
    cpu_ns: mc,
    decide_over_raw: m.decide / m.raw,
    peer_over_decide: m.peer / m.decide,
    peer_over_segments_for: m.peer / m.segmentsFor,
    cpu_decide_over_raw: mc.decide / mc.raw,
    cpu_peer_over_decide: mc.peer / mc.decide,
  };
  report.scenarios[name] = row;
  const f = (k) => `${m[k].toFixed(0)} (${mc[k].toFixed(0)})`.padStart(14);
  const r2 = (a, b) => `${a.toFixed(2)} (${b.toFixed(2)})`;
  console.log(
    `${name.padEnd(20)} ${f("decide")} ${f("segmentsFor")} ${f("raw")} ${f("peer")}  ${r2(row.decide_over_raw, row.cpu_decide_over_raw).padStart(10)}  ${r2(row.peer_over_decide, row.cpu_peer_over_decide).padStart(11)}  ${(m.peer / m.segmentsFor).toFixed(2).padStart(16)}`,
  );
  engine.free();
}

// --- cold start: compile, instantiate, first load, first answer; fresh each time ---
const COLD = Math.max(3, Math.min(RUNS, 11));
const snapAll = readFileSync(join(dir, "bench-all.snapshot"));
const web = await import(pathToFileURL(join(pkg, "web", "edgeseg.js")).href);
const jsWasm = readFileSync(join(pkg, "web", "edgeseg_bg.wasm"));
const us = (t0) => Number(process.hrtime.bigint() - t0) / 1000;
const cold = { package: [], raw: [], peer: [] };
for (let i = 0; i < COLD; i++) {
  let t0 = process.hrtime.bigint();
  web.__edgesegReset();
  web.initSync({ module: new WebAssembly.Module(jsWasm) });
  web.Engine.load(snapAll).decide(requests[0]);
  cold.package.push(us(t0));
  t0 = process.hrtime.bigint();
  rawEngine(new WebAssembly.Module(rawWasm), snapAll)(encoded[0]);
  cold.raw.push(us(t0));
  t0 = process.hrtime.bigint();
  peerEngine(new WebAssembly.Module(peerWasm), SCENARIOS["all three"])(contexts[0]);
  cold.peer.push(us(t0));
}
report.cold_start_us = Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, median(v)]));
const c = report.cold_start_us;
console.log(
  `cold start (compile + instantiate + load + first answer, median of ${COLD}): package ${c.package.toFixed(0)} µs, raw ${c.raw.toFixed(0)} µs, peer ${c.peer.toFixed(0)} µs (peer÷package ${(c.peer / c.package).toFixed(2)})`,
);
console.log(`module bytes: package wasm ${jsWasm.length}, raw ${rawWasm.length}, peer ${peerWasm.length}`);
if (process.env.EDGESEG_BENCH_JSON) writeFileSync(process.env.EDGESEG_BENCH_JSON, JSON.stringify(report, null, 2));
