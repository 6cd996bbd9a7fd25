// Records a HAR 1.2 file with a real headless Chromium, for the HAR replay test (tests/suite/har.rs).
//
//   node record.mjs <chromium> <out.har> <step>...
//
// A step is a URL to navigate to (waiting for the load event and a quiet network), or `clear`
// (drop the browser's cookies). Chromium cannot write HAR from its command line, so this drives it
// over the DevTools protocol on --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON:
// no WebSocket client needed, no npm packages) and builds the HAR from Network.* events the way
// DevTools' own export does: request headers as sent on the wire (requestWillBeSentExtraInfo,
// with Cookie), cookies from associatedCookies, response status, time from first byte sent to
// loading finished.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [chromium, out, ...steps] = process.argv.slice(2);
if (!chromium || !out) {
  console.error('usage: node record.mjs <chromium> <out.har> <url|clear>...');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'edgeseg-har-'));
const browser = spawn(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--no-first-run', '--no-default-browser-check', '--disable-extensions',
  '--disable-sync', '--mute-audio', `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let stderr = '';
browser.stderr.on('data', (d) => { stderr += d; });
const fail = (msg) => {
  console.error(`${msg}\nchromium stderr:\n${stderr.slice(-4000)}`);
  browser.kill('SIGKILL');
  try { rmSync(profile, { recursive: true, force: true, maxRetries: 3 }); } catch { /* left behind */ }
  process.exit(1);
};
setTimeout(() => fail('timed out after 25 s'), 25000).unref();
browser.on('exit', (code) => { if (!finished) fail(`chromium exited early (${code})`); });
let finished = false;

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const pending = new Map();
const listeners = [];
let buf = '';
fromBrowser.on('data', (chunk) => {
  buf += chunk.toString('utf8');
  let end;
  while ((end = buf.indexOf('\0')) >= 0) {
    const msg = JSON.parse(buf.slice(0, end));
    buf = buf.slice(end + 1);
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject, method } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${method}: ${JSON.stringify(msg.error)}`));
      else resolve(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg);
    }
  }
});
const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject, method });
  toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
});

// requestId → what the events said; a redirect starts a new entry under the same id.
const records = [];
const current = new Map();
const inFlight = new Set();
let lastActivity = Date.now();
let loaded = false;
listeners.push(({ method, params }) => {
  lastActivity = Date.now();
  if (method === 'Page.loadEventFired') loaded = true;
  if (method === 'Network.requestWillBeSent') {
    const prev = current.get(params.requestId);
    if (prev && params.redirectResponse) {
      prev.response = params.redirectResponse;
      prev.end = params.timestamp;
    }
    const rec = { id: params.requestId, request: params.request, wallTime: params.wallTime, start: params.timestamp };
    records.push(rec);
    current.set(params.requestId, rec);
    inFlight.add(params.requestId);
  } else if (method === 'Network.requestWillBeSentExtraInfo') {
    // May arrive before or after requestWillBeSent; kept by id and merged at the end.
    extra.set(params.requestId, params);
  } else if (method === 'Network.responseReceived') {
    const rec = current.get(params.requestId);
    if (rec) rec.response = params.response;
  } else if (method === 'Network.loadingFinished' || method === 'Network.loadingFailed') {
    const rec = current.get(params.requestId);
    if (rec) rec.end = params.timestamp;
    inFlight.delete(params.requestId);
  }
});
const extra = new Map();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

try {
  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  await send('Page.enable', {}, sessionId);
  await send('Network.enable', {}, sessionId);
  await send('Network.setCacheDisabled', { cacheDisabled: true }, sessionId);
  for (const step of steps) {
    if (step === 'clear') {
      await send('Network.clearBrowserCookies', {}, sessionId);
      continue;
    }
    loaded = false;
    await send('Page.navigate', { url: step }, sessionId);
    while (!loaded || inFlight.size > 0 || Date.now() - lastActivity < 150) await sleep(25);
  }
} catch (e) {
  fail(String(e));
}

const pairs = (obj) => Object.entries(obj || {}).map(([name, value]) => ({ name, value: String(value) }));
const entries = records.map((rec) => {
  const wire = extra.get(rec.id);
  const headers = wire ? pairs(wire.headers) : pairs(rec.request.headers);
  const cookies = (wire?.associatedCookies || [])
    .filter((c) => !c.blockedReasons || c.blockedReasons.length === 0)
    .map((c) => ({ name: c.cookie.name, value: c.cookie.value }));
  const res = rec.response;
  const time = rec.end && rec.start ? Math.max(0, (rec.end - rec.start) * 1000) : 0;
  return {
    startedDateTime: new Date(rec.wallTime * 1000).toISOString(),
    time,
    request: {
      method: rec.request.method, url: rec.request.url, httpVersion: res?.protocol || 'http/1.1',
      headers, cookies, queryString: [...new URL(rec.request.url).searchParams].map(([name, value]) => ({ name, value })),
      headersSize: -1, bodySize: 0,
    },
    response: {
      status: res?.status || 0, statusText: res?.statusText || '', httpVersion: res?.protocol || '',
      headers: pairs(res?.headers), cookies: [], content: { size: -1, mimeType: res?.mimeType || '' },
      redirectURL: '', headersSize: -1, bodySize: -1,
    },
    cache: {},
    timings: { send: 0, wait: time, receive: 0 },
    ...(res?.remoteIPAddress ? { serverIPAddress: res.remoteIPAddress } : {}),
  };
});
const har = { log: { version: '1.2', creator: { name: 'edgeseg-har-recorder', version: '1' }, pages: [], entries } };
writeFileSync(out, JSON.stringify(har, null, 1));
finished = true;
const exited = new Promise((r) => browser.once('exit', r));
browser.kill('SIGKILL');
await exited;
try { rmSync(profile, { recursive: true, force: true, maxRetries: 3 }); } catch { /* a temp dir left behind */ }
console.log(`recorded ${entries.length} entries`);
process.exit(0);
