// The browser demo (examples/browser/) in headless Chromium (Debian's, driven by playwright-core):
// two users see their own banner, read from the DOM, with a screenshot each under target/js/.
// Run by `cargo xtask test` (EDGESEG_JS_PKG, EDGESEG_JS_SNAPSHOT, EDGESEG_JS_OUT, EDGESEG_CHROMIUM set).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { serve } from "../../examples/browser/serve.mjs";

let server;
let browser;
let base;

before(async () => {
  server = await serve(process.env.EDGESEG_JS_PKG, process.env.EDGESEG_JS_SNAPSHOT);
  base = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.EDGESEG_CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function open(user) {
  const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
  await context.addCookies([{ name: "edgeseg_uid", value: user, url: base }]);
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base);
  await page.waitForSelector("body[data-ready]", { timeout: 15000 });
  const visible = async (sel) => page.isVisible(sel);
  return { context, page, errors, visible };
}

async function shot(page, name) {
  const path = join(process.env.EDGESEG_JS_OUT, `demo-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  assert.ok((await stat(path)).size > 1000, `${path} written`);
}

test("alice (premium) sees the premium banner and her picks", async () => {
  const { context, page, errors, visible } = await open("alice");
  assert.equal(await visible(".banner.premium"), true);
  assert.equal(await visible(".banner.free"), false);
  assert.equal(await visible(".banner.standard"), false);
  assert.equal(await visible("[data-edgeseg-show=high-value]"), true);
  assert.equal(await page.getAttribute("html", "data-edgeseg-tier"), "premium");
  assert.match(await page.textContent("#segments"), /premium: premium, high-value \(snapshot 1\)/);
  // Polling again with If-None-Match: the snapshot has not changed, so a 304 and nothing re-rendered.
  assert.equal(await page.evaluate(() => window.edgeseg.refresh()), false);
  await shot(page, "alice");
  assert.deepEqual(errors, []);
  await context.close();
});

test("bob (free) sees the trial banner; a pushed update switches it", async () => {
  const { context, page, errors, visible } = await open("bob");
  assert.equal(await visible(".banner.free"), true);
  assert.equal(await visible(".banner.premium"), false);
  assert.equal(await visible("[data-edgeseg-show=high-value]"), false);
  await shot(page, "bob");
  await page.evaluate(() => window.edgeseg.push({ tier: "premium", segments: ["premium"], version: 2 }));
  assert.equal(await visible(".banner.premium"), true);
  assert.equal(await visible(".banner.free"), false);
  assert.deepEqual(errors, []);
  await context.close();
});
