// Sign-in and projects on the dashboard (issue 19), in headless Chromium against real receivers:
// one with keys (`--api-key` for projects alpha and beta, a key for both, an `--ingest-key`), one
// without. The page asks for a read key when the API answers 401, refuses a wrong key and an
// ingest key on the form, keeps the key in this tab's sessionStorage only and sends it as
// `Authorization: Bearer`, shows only the key's project, offers a picker when the key (or, without
// keys, the receiver) has several projects, keeps the project in the URL, and signs out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launch, newTraceId, readyNow, renderedSince, sendSpans, serve, span } from './harness.mjs';

const KA = 'alpha-key-4f1c9b2e',
  KB = 'beta-key-8d07aa51',
  KAB = 'both-key-1b5e60c3',
  KI = 'ingest-key-77c2d9f0';
const ALPHA = ['ada@alpha.example', 'alan@alpha.example'];
const BETA = ['bob@beta.example'];
const DEFAULT = ['dora@default.example'];
let keyed, open, browser;
const startMs = Date.now() - 3600e3;
const turns = (ids) =>
  ids.map((id) => span({ traceId: newTraceId(), name: 'turn', startMs, attrs: { 'user.id': id } }));

before(async () => {
  keyed = await serve([
    ...['--api-key', `${KA}=alpha`, '--api-key', `${KB}=beta`],
    ...['--api-key', `${KAB}=alpha`, '--api-key', `${KAB}=beta`],
    ...['--ingest-key', `${KI}=alpha`],
  ]);
  await sendSpans(keyed.base, turns(ALPHA.slice(0, 1)), { key: KA });
  await sendSpans(keyed.base, turns(ALPHA.slice(1)), { key: KI }); // an ingest key may send
  await sendSpans(keyed.base, turns(BETA), { key: KB, project: 'alpha' }); // the key's project wins
  open = await serve();
  await sendSpans(open.base, turns(ALPHA), { project: 'alpha' });
  await sendSpans(open.base, turns(BETA), { project: 'beta' });
  await sendSpans(open.base, turns(DEFAULT));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  keyed?.stop();
  open?.stop();
});

/** A new tab (its own sessionStorage) that records page errors and the API requests it makes. */
async function tab(context) {
  const page = await (context ?? (await browser.newContext())).newPage({ viewport: { width: 1300, height: 900 } });
  page.errors = [];
  page.requests = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/'))
      page.requests.push({ url: r.url(), auth: r.headers().authorization });
  });
  return page;
}
/** Opens `url` in a fresh document (about:blank first, so a hash-only change also reloads). */
async function load(page, url) {
  await page.goto('about:blank');
  await page.goto(url);
  await page.waitForFunction(
    () => document.body.dataset.ready && document.getElementById('app').getAttribute('aria-busy') === 'false',
  );
}
async function signIn(page, key) {
  const before = await readyNow(page);
  await page.fill('#read-key', key);
  await page.click('#sign-in button[type="submit"]');
  await renderedSince(page, before);
}
const rows = (page) => page.$$eval('#users tbody td.user a', (as) => as.map((a) => a.textContent).sort());
const storage = (page) =>
  page.evaluate(() => ({
    session: { ...sessionStorage },
    local: localStorage.length,
    url: location.href,
  }));
async function apiError(base, path, key) {
  const r = await fetch(`${base}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
  return { status: r.status, error: (await r.json()).error };
}

test('without a key the page shows the sign-in form, and a wrong key is refused on it', async () => {
  const page = await tab();
  await load(page, `${keyed.base}/`);
  assert.ok(await page.isVisible('#sign-in'), 'the sign-in form');
  const input = await page.$('input#read-key');
  assert.equal(await input.getAttribute('type'), 'password');
  assert.equal(await page.textContent('label[for="read-key"]'), 'Read key');
  assert.equal(await page.$('#users'), null, 'no data without a key');
  assert.equal(await page.textContent('#sign-in-error'), '', 'no error before a key was tried');
  assert.equal(await page.$('#sign-out'), null);
  // A key with a space cannot be one: said on the form, nothing sent.
  page.requests.length = 0;
  await page.fill('#read-key', 'has space');
  await page.click('#sign-in button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('#sign-in-error').textContent !== '');
  assert.equal(await page.textContent('#sign-in-error'), 'A key is visible ASCII without spaces.');
  assert.deepEqual(page.requests, []);
  await signIn(page, 'not-a-key');
  assert.ok(await page.isVisible('#sign-in'), 'still the form');
  const refused = await apiError(keyed.base, '/api/projects', 'not-a-key');
  assert.equal(refused.status, 401);
  assert.equal(await page.textContent('#sign-in-error'), `The key was not accepted: ${refused.error}`);
  assert.deepEqual((await storage(page)).session, {}, 'a refused key is not kept');
  assert.deepEqual(page.errors, []);
  await page.screenshot({ path: join(artifacts, 'sign-in-refused.png') });
  await page.context().close();
});

test("a read key shows its project only; it is kept in this tab's sessionStorage and sent as a bearer header", async () => {
  const context = await browser.newContext();
  const page = await tab(context);
  await load(page, `${keyed.base}/#/?range=7d`);
  page.requests.length = 0;
  await signIn(page, KA);
  await page.waitForSelector('#users');
  assert.deepEqual(await rows(page), ALPHA, "alpha's users (one sent with the ingest key), no one of beta");
  assert.equal(await page.$('#project'), null, 'one readable project: no picker');
  const s = await storage(page);
  assert.deepEqual(s.session, { 'userspan.readKey': KA });
  assert.equal(s.local, 0, 'nothing in localStorage');
  assert.ok(!s.url.includes(KA), `the key is not in the URL: ${s.url}`);
  assert.ok(page.requests.length >= 3, 'projects, stats, users, cohorts');
  for (const r of page.requests) {
    assert.equal(r.auth, `Bearer ${KA}`, r.url);
    assert.ok(!r.url.includes(KA), r.url);
    const u = new URL(r.url);
    if (u.pathname !== '/api/projects') assert.equal(u.searchParams.get('project'), 'alpha', r.url);
  }
  // The user detail works signed in (its three calls carry the key and the project too).
  const before = await readyNow(page);
  await page.click('#users tbody td.user a');
  await renderedSince(page, before, () => document.querySelector('#user-title'));
  assert.ok(ALPHA.includes(await page.$eval('#user-title', (h) => h.firstChild.textContent)));

  // Reload: still signed in (sessionStorage lives as long as the tab).
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#user-title'));
  assert.equal(await page.$('#sign-in'), null);
  // Another tab of the same browser profile starts signed out.
  const other = await tab(context);
  await load(other, `${keyed.base}/`);
  assert.ok(await other.isVisible('#sign-in'), 'a new tab asks for the key');
  await other.close();

  // A shared link to a project this key may not read: stays signed in and says so.
  await load(page, `${keyed.base}/#/?project=beta`);
  const denied = await apiError(keyed.base, '/api/stats?project=beta', KA);
  assert.equal(denied.status, 403);
  const alert = await page.textContent('#app .error[role="alert"]');
  assert.ok(alert.includes('This key cannot read project “beta”.') && alert.includes(denied.error), alert);
  assert.deepEqual((await storage(page)).session, { 'userspan.readKey': KA });
  assert.deepEqual(await rows(page), [], 'no beta rows');

  // Sign out: the form again, the key gone; a reload still asks for it.
  await load(page, `${keyed.base}/#/`);
  const b = await readyNow(page);
  await page.click('#sign-out');
  await renderedSince(page, b, () => document.querySelector('#sign-in'));
  assert.equal(await page.$('#users'), null);
  assert.deepEqual((await storage(page)).session, {});
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#sign-in'));
  assert.deepEqual(page.errors, []);
  await context.close();
});

test("an ingest key cannot read: the form says so with the receiver's reason", async () => {
  const page = await tab();
  await load(page, `${keyed.base}/`);
  await signIn(page, KI);
  assert.ok(await page.isVisible('#sign-in'));
  const denied = await apiError(keyed.base, '/api/projects', KI);
  assert.equal(denied.status, 403);
  const msg = await page.textContent('#sign-in-error');
  assert.ok(msg.startsWith("This key cannot read this receiver's data: "), msg);
  assert.ok(msg.includes(denied.error), `${msg} has the receiver's ${denied.error}`);
  assert.deepEqual((await storage(page)).session, {}, 'the ingest key is not kept');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a key for two projects gets a picker; the chosen project is in the URL and in every API call', async () => {
  const page = await tab();
  await load(page, `${keyed.base}/#/?range=7d`);
  await signIn(page, KAB);
  await page.waitForSelector('#users');
  const options = await page.$$eval('#project option', (os) => os.map((o) => o.value));
  assert.deepEqual(options, ['alpha', 'beta'], 'the projects of /api/projects');
  assert.equal(await page.$eval('#project', (s) => s.value), 'alpha', "the key's home project first");
  assert.deepEqual(await rows(page), ALPHA);
  let before = await readyNow(page);
  page.requests.length = 0;
  await page.selectOption('#project', 'beta');
  await renderedSince(page, before, () => document.querySelector('#users'));
  const hash = new URLSearchParams((await page.evaluate(() => location.hash)).split('?')[1]);
  assert.equal(hash.get('project'), 'beta');
  assert.equal(hash.get('range'), '7d', 'the time range is kept');
  assert.deepEqual(await rows(page), BETA);
  for (const r of page.requests) {
    assert.equal(r.auth, `Bearer ${KAB}`);
    const u = new URL(r.url);
    if (u.pathname !== '/api/projects') assert.equal(u.searchParams.get('project'), 'beta', r.url);
  }
  // The user's link keeps the project, and the detail reads it.
  before = await readyNow(page);
  await page.click('#users tbody td.user a');
  await renderedSince(page, before, () => document.querySelector('#user-title'));
  assert.ok((await page.evaluate(() => location.hash)).includes('project=beta'));
  assert.equal(await page.$eval('#user-title', (h) => h.firstChild.textContent), BETA[0]);
  // Reload keeps both the key and the project.
  await page.reload();
  await page.waitForFunction(() => document.querySelector('#user-title'));
  assert.equal(await page.$eval('#project', (s) => s.value), 'beta');
  await page.screenshot({ path: join(artifacts, 'project-picker.png') });
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('without keys there is no sign-in, and the picker lists every project', async () => {
  const page = await tab();
  await load(page, `${open.base}/`);
  assert.equal(await page.$('#sign-in'), null);
  assert.equal(await page.$('#sign-out'), null);
  const listed = (await (await fetch(`${open.base}/api/projects`)).json()).projects.map((p) => p.project);
  assert.deepEqual([...listed].sort(), ['alpha', 'beta', 'default']);
  const options = await page.$$eval('#project option', (os) => os.map((o) => o.value));
  assert.deepEqual(options, listed);
  assert.equal(await page.$eval('#project', (s) => s.value), 'default');
  assert.deepEqual(await rows(page), DEFAULT);
  const before = await readyNow(page);
  await page.selectOption('#project', 'alpha');
  await renderedSince(page, before, () => document.querySelector('#users'));
  assert.ok((await page.evaluate(() => location.hash)).includes('project=alpha'));
  assert.deepEqual(await rows(page), ALPHA);
  // A link with the project opens it directly.
  await load(page, `${open.base}/#/?project=beta`);
  assert.deepEqual(await rows(page), BETA);
  assert.equal(await page.$eval('#project', (s) => s.value), 'beta');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
