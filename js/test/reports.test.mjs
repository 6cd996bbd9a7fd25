// `edgeseg replay --html` (the demo's 50k requests) and `edgeseg diff --html` (a rule change that
// demotes premium members) in headless Chromium (Debian's, driven by playwright-core), offline:
// no console errors, no request but the page itself, every chart drawn with non-empty SVG paths,
// the violation count and gate verdict read from the DOM and checked against the CLI's JSON,
// no member id anywhere in a page. Screenshots under target/reports/.
// Run by `cargo xtask test` after xtask/src/reports.rs rendered the files (EDGESEG_REPORTS,
// EDGESEG_CHROMIUM set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const dir = process.env.EDGESEG_REPORTS;
const REPLAY_CHARTS = ["tier-traffic", "tier-share", "latency", "burn-rates", "throttle-rejections", "cache-mix", "consent-narrowing"];
const DIFF_CHARTS = ["transitions-requests", "transitions-users", "segment-changes"];
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.EDGESEG_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
});

// Opens a report offline and records console errors, page errors and every request it makes.
async function open(name) {
  const url = pathToFileURL(join(dir, name)).href;
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, offline: true });
  const page = await context.newPage();
  const errors = [];
  const requests = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: "load" });
  return { context, page, errors, requests, url };
}

// Every chart is there, drawn, and has series paths with real geometry.
async function assertCharts(page, names) {
  for (const name of names) {
    const chart = page.locator(`figure.chart[data-chart="${name}"]`);
    assert.equal(await chart.count(), 1, `chart ${name} present once`);
    const box = await chart.locator("svg").boundingBox();
    assert.ok(box && box.width > 200 && box.height > 50, `chart ${name} is drawn (${JSON.stringify(box)})`);
    const paths = await chart.locator("path.series, path.cell").evaluateAll((ps) =>
      ps.map((p) => ({ d: p.getAttribute("d") ?? "", width: p.getBBox().width })),
    );
    assert.ok(paths.length > 0, `chart ${name} has series paths`);
    for (const p of paths) {
      assert.match(p.d, /^M[\d.-]+ [\d.-]+[HVLhvZ]/, `chart ${name}: a path with geometry`);
      assert.ok(p.width > 0, `chart ${name}: a path spans some width`);
    }
  }
  assert.equal(await page.locator("figure.chart").count(), names.length, "no unexpected chart");
}

async function shot(page, name) {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  assert.ok((await stat(path)).size > 10000, `${path} written`);
}

// No member id of the sample appears in the page (fingerprints only).
async function assertNoIds(file) {
  const html = await readFile(join(dir, file), "utf8");
  const ids = (await readFile(join(dir, "members.csv"), "utf8")).split("\n").slice(1).map((l) => l.split(",")[0]).filter(Boolean);
  assert.ok(ids.length > 1000);
  const leaked = ids.filter((id) => html.includes(id));
  assert.deepEqual(leaked, [], `${file} holds member ids`);
}

test("the replay page: 50k requests, offline, ≤ 500 KB, every chart, 0 violations in green", async () => {
  const size = (await stat(join(dir, "replay.html"))).size;
  assert.ok(size <= 500 * 1024, `replay.html is ${size} bytes`);
  const json = JSON.parse(await readFile(join(dir, "replay.json"), "utf8"));
  assert.equal(json.requests, 50000);
  const { context, page, errors, requests, url } = await open("replay.html");
  assert.equal(await page.getAttribute("body", "data-report"), "replay");
  assert.equal(await page.getAttribute("#verdict", "data-verdict"), "pass");
  assert.equal(await page.textContent("#verdict"), "PASS");
  const violations = page.locator("#violations");
  assert.equal(await violations.textContent(), String(json.consent.violations));
  assert.equal(await violations.textContent(), "0");
  assert.equal(await violations.evaluate((e) => getComputedStyle(e).color), "rgb(26, 127, 55)", "0 is green");
  await assertCharts(page, REPLAY_CHARTS);
  // The tiers table holds the CLI's own figures.
  const rows = await page.locator("#tiers tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  assert.deepEqual(rows.map((r) => [r[0], Number(r[1])]), json.tiers.map((t) => [t.tier, t.requests]));
  // One series per tier over time, and together they count every decision.
  const series = await page.locator('[data-chart="tier-traffic"] path.series').evaluateAll((ps) => ps.map((p) => p.dataset.series));
  assert.deepEqual(series, json.tiers.map((t) => t.tier));
  assert.equal(json.timeline.tiers.flatMap((t) => t.decisions).reduce((a, b) => a + b, 0), json.decided);
  await shot(page, "replay");
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url], "the page loads nothing but itself");
  await assertNoIds("replay.html");
  await context.close();
});

test("the diff page: the premium gate fails, names its segment; heatmaps, gains and losses", async () => {
  const json = JSON.parse(await readFile(join(dir, "diff.json"), "utf8"));
  const { context, page, errors, requests, url } = await open("diff.html");
  assert.equal(await page.getAttribute("body", "data-report"), "diff");
  assert.equal(await page.getAttribute("#verdict", "data-verdict"), "fail");
  assert.equal(await page.textContent("#verdict"), "FAIL");
  const gate = page.locator('#gates tr[data-gate="forbid-demotion premium"]');
  assert.equal(await gate.getAttribute("data-passed"), "false");
  assert.match(await gate.locator("td").nth(2).textContent(), /\bpremium\b/, "the segment that tripped it");
  assert.equal(await page.locator('#gates tr[data-gate="max-moved 50%"]').getAttribute("data-passed"), "true");
  await assertCharts(page, DIFF_CHARTS);
  const tiers = json.tiers.length;
  assert.equal(await page.locator('[data-chart="transitions-requests"] path.cell').count(), tiers * tiers);
  // The heatmap's premium → free cell shows the CLI's count.
  const [from, to] = [json.tiers.indexOf("premium"), json.tiers.indexOf("free")];
  assert.ok(json.matrix[from][to].requests > 0, "the change demotes premium requests");
  const cell = page.locator(`[data-chart="transitions-requests"] path.cell[data-row="${from}"][data-col="${to}"]`);
  assert.match(await cell.textContent(), new RegExp(`: ${json.matrix[from][to].requests}$`));
  // Moved requests by fingerprint only.
  const moved = await page.locator("#moved-sample tbody tr").evaluateAll((trs) => trs.map((tr) => tr.cells[1].textContent));
  assert.equal(moved.length, json.moved_sample.length);
  assert.ok(moved.length > 0);
  for (const f of moved) assert.match(f, /^([0-9a-f]{16}|anonymous)$/);
  await shot(page, "diff");
  assert.deepEqual(errors, []);
  assert.deepEqual(requests, [url], "the page loads nothing but itself");
  await assertNoIds("diff.html");
  await context.close();
});
