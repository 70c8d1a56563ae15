// Shared by the dashboard's browser tests: a real `userspan` process on a free loopback port,
// headless Debian Chromium (playwright-core), OTLP/JSON spans sent over HTTP, and waiting for the
// page's renders (`body[data-ready]` changes and `#app[aria-busy]` is false when one is done).
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = resolve(here, '../../..');
export const bin =
  process.env.USERSPAN_BIN || join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'debug', 'userspan');
export const artifacts = join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

export function freePort() {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

export async function waitFor(fn, what, ms = 180000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

/** `userspan serve --db :memory:` with `args` on a free port; resolves once /healthz answers. */
export async function serve(args = []) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawn(
    bin,
    ['serve', '--db', ':memory:', '--listen', `127.0.0.1:${port}`, '--grpc-listen', 'off', ...args],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok, `userspan serve on ${base}`, 60000);
  return { base, stop: () => proc.kill('SIGTERM') };
}

/** Whether this build's `userspan serve` has the flag (`--ingest-key`, ...). */
export async function serveHasFlag(flag) {
  const out = await new Promise((res) => {
    const p = spawn(bin, ['serve', '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    p.stdout.on('data', (d) => {
      s += d;
    });
    p.on('close', () => res(s));
  });
  return out.includes(flag);
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

// ---------- OTLP/JSON ----------
/** An OTLP/JSON `KeyValue` (strings, integers, doubles, booleans, string arrays). */
export function kv(key, v) {
  let value;
  if (typeof v === 'string') value = { stringValue: v };
  else if (typeof v === 'boolean') value = { boolValue: v };
  else if (Number.isInteger(v)) value = { intValue: String(v) };
  else if (typeof v === 'number') value = { doubleValue: v };
  else if (Array.isArray(v)) value = { arrayValue: { values: v.map((x) => ({ stringValue: x })) } };
  else throw new Error(`unsupported attribute value for ${key}`);
  return { key, value };
}
let idSeq = 1;
const hex = (n, bytes) => n.toString(16).padStart(bytes * 2, '0');
/** A fresh trace id (32 hex digits) and span ids (16), unique within the test process. */
export const newTraceId = () => hex(idSeq++, 16);
export const newSpanId = () => hex(idSeq++, 8);
/** An OTLP/JSON span: `attrs` an object of attribute values; times in ms since the epoch. */
export function span({
  traceId,
  spanId = newSpanId(),
  parentSpanId,
  name,
  startMs,
  durationMs = 1000,
  attrs = {},
  error,
}) {
  return {
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name,
    kind: 1,
    startTimeUnixNano: `${BigInt(Math.round(startMs)) * 1000000n}`,
    endTimeUnixNano: `${BigInt(Math.round(startMs + durationMs)) * 1000000n}`,
    attributes: Object.entries(attrs).map(([k, v]) => kv(k, v)),
    status: error ? { code: 2, message: error } : { code: 1 },
  };
}
/** POSTs spans to `/v1/traces` as OTLP/JSON (resource `userspan.project` when `project` is set). */
export async function sendSpans(base, spans, { project, key } = {}) {
  const resource = [kv('service.name', 'dashboard-test')];
  if (project) resource.push(kv('userspan.project', project));
  const body = {
    resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'test' }, spans }] }],
  };
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const r = await fetch(`${base}/v1/traces`, { method: 'POST', headers, body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`/v1/traces answered ${r.status}: ${await r.text()}`);
  const out = await r.json();
  if (out.partialSuccess?.rejectedSpans) throw new Error(`spans rejected: ${JSON.stringify(out)}`);
}

// ---------- page renders ----------
/** The page's render counter (`body[data-ready]`), to wait for a render that starts after it. */
export const readyNow = (page) => page.evaluate(() => document.body.dataset.ready || '');
/** Waits until a render newer than `before` has finished, then until `cond` (a page function) holds. */
export async function renderedSince(page, before, cond = () => true, arg) {
  await page.waitForFunction(
    (b) =>
      document.body.dataset.ready &&
      document.body.dataset.ready !== b &&
      document.getElementById('app').getAttribute('aria-busy') === 'false',
    before,
  );
  await page.waitForFunction(cond, arg);
}
/** Sets the hash and waits for the render it starts. */
export async function open(page, hash) {
  const before = await readyNow(page);
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await renderedSince(page, before);
}
