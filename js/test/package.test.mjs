// The npm package as a consumer sees it: resolved by name through its `exports`, the Node build
// (CommonJS) and the web build (initSync with a compiled module) deciding a request, the bundler
// build under Node's wasm-ESM integration, the deno build in Deno (npm `deno`, installed by xtask), and `tsc --strict`
// over a file using every export's types. Run by `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT, EDGESEG_JS_OUT, EDGESEG_DENO set).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const consumer = join(process.env.EDGESEG_JS_OUT, "consumer");

const check = `
import { Engine } from "edgeseg";
import * as web from "edgeseg/web";
import { verifyIdentity } from "edgeseg/identity";
import { readFileSync } from "node:fs";
const bytes = readFileSync(process.env.EDGESEG_JS_SNAPSHOT);
const request = { url: "https://shop.example/", headers: { cookie: "edgeseg_uid=alice" }, nowMs: 0 };
const node = Engine.load(bytes).decide(request);
// The demo's identity sources are bare claims: nothing to verify.
const identity = await verifyIdentity(Engine.load(bytes), request);
web.initSync({ module: new WebAssembly.Module(readFileSync(new URL(import.meta.resolve("edgeseg/web/edgeseg_bg.wasm")))) });
const browser = web.Engine.load(bytes).decide(request);
let kind;
try { Engine.load(new Uint8Array(64)); } catch (e) { kind = e instanceof Error && e.kind; }
console.log(JSON.stringify({ node: node.tier, web: browser.tier, kind, identity }));
`;

const bundler = `
import { Engine } from "edgeseg/bundler";
import { readFileSync } from "node:fs";
const d = Engine.load(readFileSync(process.env.EDGESEG_JS_SNAPSHOT)).decide({ headers: [["x-customer-id", "bob"]] });
console.log(d.tier);
`;

const deno = `
import { Engine } from "edgeseg";
import { verifyIdentity } from "edgeseg/identity";
const bytes = await Deno.readFile(Deno.env.get("EDGESEG_JS_SNAPSHOT")!);
const request = new Request("https://shop.example/checkout", { headers: { cookie: "edgeseg_uid=carol" } });
const engine = Engine.load(bytes);
const d = engine.decide(request);
const identity = await verifyIdentity(engine, request, {});
console.log(JSON.stringify({ tier: d.tier, segments: d.segments, build: import.meta.resolve("edgeseg"), identity }));
`;

const types = `
import { Engine, type Decision, type RequestLike, type EdgesegError, type IdentitySource } from "edgeseg";
import { withEdgeseg, loadedEngine, stats, verifyIdentity as workerVerify, type WorkerOptions, type WorkerStats } from "edgeseg/worker";
import { verifyIdentity, withVerifiedId, signHmacIdentity, verifiesIdentity, IDENTITY_REFUSALS, type IdentityResult, type IdentityRefusal } from "edgeseg/identity";
import { personalise, apply, type SegmentsView } from "edgeseg/browser";
const engine: Engine = Engine.load(new Uint8Array(0));
const request: RequestLike = { url: "https://shop.example/", headers: [["cookie", "edgeseg_uid=alice"]], nowMs: 1 };
const decision: Decision = engine.decide(request);
const tier: string = decision.tier;
const segments: string[] = engine.segmentsFor({ headers: { "user-agent": "x" } });
const version: number = engine.version;
const options: WorkerOptions = { refreshMs: 1000, origin: (r) => fetch(r), routeTo: () => null };
const handler: { fetch(r: Request, env: unknown): Promise<Response> } = withEdgeseg(options);
const held: Engine | null = loadedEngine() as Engine | null;
const p = personalise({ url: "/user/segments", intervalMs: 0, onChange: (v: SegmentsView) => v.segments });
apply(document, { tier: "free", segments: [] });
const e = new Error() as EdgesegError;
// Sharded snapshots: the engine's shard API and the adapter's options and counters.
const shard: number | undefined = engine.shardFor(request);
const loaded: number = engine.loadShard(new Uint8Array(0));
const digest: Uint8Array | undefined = engine.shardDigest(0);
const flags: boolean[] = [engine.hasShard(0), engine.dropShard(0), engine.shardCount > 0, decision.shard_missing];
engine.setShardBudget(1 << 20);
const heldBytes: number = engine.stats().shards.held_bytes;
const sharded: WorkerOptions = { sharded: true, shardBudgetBytes: 1 << 20, shard: (env, i: number) => (i > 0 ? null : new Uint8Array(0)) };
const ws: WorkerStats = stats();
// Metrics: the endpoint, its token, buckets and push; the refresh counters.
const metered: WorkerOptions = { metrics: { path: "/m", tokenEnv: "T", buckets: [0.1, 0.2], push: { url: (env) => "https://push.example/{isolate}", intervalMs: 1 } } };
const unmetered: WorkerOptions = { metrics: false };
const refreshed: number[] = [ws.refreshes.started, ws.refreshes.loaded];
const counted: number[] = [ws.shards.misses, ws.shards.reads, ws.shards.heldBytes, ws.shards.refused["Digest"] ?? 0, ws.engine?.shards.evictions ?? 0];
// Verified identity: the engine's sources and claim, the verifier, the adapter's counters.
const sources: IdentitySource[] = engine.identitySources;
const first: IdentitySource | undefined = sources[0];
const jwtKey: Uint8Array | undefined = first?.verify?.kind === "jwt" ? first.verify.key : undefined;
const claim: { source: number; token: string } | undefined = engine.identityClaim(request);
const verified: Promise<IdentityResult | null> = verifyIdentity(engine, request, { EDGESEG_ID_SECRET: "s" });
const fromWorker: Promise<IdentityResult | null> = workerVerify(engine, new Request("https://shop.example/"));
const subject: RequestLike = withVerifiedId(request, "alice");
const reason: IdentityRefusal = "no_secret";
const mac: Promise<string> = signHmacIdentity("alice", 1_900_000_000, "s");
const identityCounts: number[] = [ws.identity.verified, ws.identity.refused.signature ?? 0, engine.stats().identity_refused];
const decidedWith: Decision = engine.decide({ ...request, verifiedId: "alice" });
export const all = [tier, segments, version, handler, held, p, e.kind, e.code, shard, loaded, digest, flags, heldBytes, sharded, counted, jwtKey, claim, verified, fromWorker, subject, reason, mac, identityCounts, decidedWith, IDENTITY_REFUSALS, verifiesIdentity(engine)];
`;

before(async () => {
  await rm(consumer, { recursive: true, force: true });
  await mkdir(join(consumer, "node_modules"), { recursive: true });
  await symlink(process.env.EDGESEG_JS_PKG, join(consumer, "node_modules", "edgeseg"), "dir");
  await writeFile(join(consumer, "package.json"), JSON.stringify({ type: "module", private: true }));
  await writeFile(join(consumer, "check.mjs"), check);
  await writeFile(join(consumer, "bundler.mjs"), bundler);
  await writeFile(join(consumer, "deno.ts"), deno);
  await writeFile(join(consumer, "types.ts"), types);
  await writeFile(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2022", "esnext.disposable", "dom", "dom.iterable"], types: [] },
      files: ["types.ts"],
    }),
  );
});

const node = (args) => execFileSync(process.execPath, args, { cwd: consumer, encoding: "utf8", env: process.env }).trim();

test("resolved by name: the Node and web builds decide, errors carry a kind", () => {
  assert.deepEqual(JSON.parse(node(["check.mjs"])), { node: "premium", web: "premium", kind: "BadMagic", identity: null });
});

test("the bundler build under Node's wasm ES-module integration", () => {
  assert.equal(node(["--experimental-wasm-modules", "--no-warnings", "bundler.mjs"]), "free");
});

test("Deno resolves the package to its deno build, which decides a Fetch Request", () => {
  const out = execFileSync(process.env.EDGESEG_DENO, ["run", "--allow-read", "--allow-env", "--no-prompt", "deno.ts"], {
    cwd: consumer,
    encoding: "utf8",
    env: { ...process.env, DENO_DIR: join(consumer, ".deno"), DENO_NO_UPDATE_CHECK: "1" },
  });
  const got = JSON.parse(out);
  assert.equal(got.tier, "standard");
  assert.deepEqual(got.segments, ["standard", "high-value", "high-value-checkout", "churn-risk", "private-pages"]);
  assert.match(got.build, /\/deno\/edgeseg\.js$/);
  assert.equal(got.identity, null, "edgeseg/identity resolves; the demo's sources are bare claims");
});

test("TypeScript: every export's types check under tsc --strict", () => {
  // wasm-bindgen's classes declare `[Symbol.dispose]`: consumers need lib `esnext.disposable` (or `esnext`).
  try {
    execFileSync(process.execPath, [join(here, "node_modules", "typescript", "bin", "tsc"), "-p", consumer], { encoding: "utf8" });
  } catch (e) {
    assert.fail(`tsc:\n${e.stdout}${e.stderr}`);
  }
});
