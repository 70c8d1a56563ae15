// Hostile end-user data on every view of the dashboard (issue 19): user ids, e-mails, metadata keys
// and values, session ids, span (trace) names, model, provider and tool names, and the project name
// carry HTML, script, `javascript:` URLs, template syntax and bidi override characters. The real
// receiver stores them (OTLP/JSON over HTTP) and headless Chromium visits the users list, a search,
// the cohorts, each user's detail with its sessions and traces, and a session's traces. On every
// view: the strings are shown as text, nothing runs (`window.__pwned` stays undefined, no element
// from data, no `on*` attribute), links built from ids decode back to the ids, no console error.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  artifacts,
  launch,
  newSpanId,
  newTraceId,
  open,
  readyNow,
  renderedSince,
  sendSpans,
  serve,
  span,
} from './harness.mjs';

const PAYLOADS = [
  '<img src=x onerror=window.__pwned=1>',
  '"><script>window.__pwned=1</script>',
  "' onmouseover='window.__pwned=1' data-x='",
  'javascript:window.__pwned=1',
  '{{constructor.constructor("window.__pwned=1")()}}',
  '\u202Etxt.exe\u202C <svg onload=window.__pwned=1>',
  '</title><iframe src="javascript:window.__pwned=1"></iframe>',
  'a/b?c=d#e&f=%2F..%25 &amp; ../../api/stats',
];
const PROJECT = '"><img src=x onerror=window.__pwned=1>';
const META_KEY = '<b onmouseover=window.__pwned=1>plan</b>';

/** One user per payload: every text field the dashboard shows carries a payload. */
const USERS = PAYLOADS.map((p, i) => ({
  id: `${p} #${i}`,
  email: `${p.replace(/\s/g, '')}${i}@x.example`,
  session: `session ${p} ${i}`,
  trace: `turn ${p} ${i}`,
  model: `model-${p}-${i}`,
  provider: `provider-${p}-${i}`,
  tool: `tool ${p} ${i}`,
  metadata: { [META_KEY]: `${p} value ${i % 3}`, [`key ${p}`]: { nested: p }, constructor: '{{constructor}}' },
}));

let server, browser, page;
const problems = []; // console errors and page errors, from any view
const startMs = Date.now() - 3600e3;

before(async () => {
  server = await serve();
  const spans = [];
  for (const u of USERS) {
    const traceId = newTraceId(),
      rootId = newSpanId();
    const identity = {
      'user.id': u.id,
      'user.id.type': 'custom',
      'user.email': u.email,
      'user.metadata': JSON.stringify(u.metadata),
      'session.id': u.session,
    };
    spans.push(
      span({ traceId, spanId: rootId, name: u.trace, startMs, durationMs: 2000, attrs: identity, error: u.trace }),
    );
    spans.push(
      span({
        traceId,
        parentSpanId: rootId,
        name: `chat ${u.model}`,
        startMs: startMs + 100,
        attrs: {
          ...identity,
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': u.model,
          'gen_ai.provider.name': u.provider,
          'gen_ai.usage.input_tokens': 10,
          'gen_ai.usage.output_tokens': 5,
        },
      }),
    );
    spans.push(
      span({
        traceId,
        parentSpanId: rootId,
        name: u.tool,
        startMs: startMs + 1200,
        attrs: { ...identity, 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': u.tool },
      }),
    );
  }
  await sendSpans(server.base, spans, { project: PROJECT });
  // A second project, so that a receiver with `GET /api/projects` shows the picker.
  await sendSpans(
    server.base,
    [span({ traceId: newTraceId(), name: 'plain', startMs, attrs: { 'user.id': 'plain-user' } })],
    {},
  );
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  await page.goto(`${server.base}/#/?${new URLSearchParams({ project: PROJECT })}`);
  await page.waitForFunction(() => document.body.dataset.ready && document.querySelector('#users'));
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The checks every view must pass: nothing ran, no element or handler came from data. */
async function assertInert(view) {
  const found = await page.evaluate(() => ({
    pwned: typeof window.__pwned,
    scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
    foreign: document.querySelectorAll('img, iframe, object, embed, frame, link:not([rel]), base, meta[http-equiv]')
      .length,
    handlers: [...document.querySelectorAll('*')].flatMap((e) =>
      [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => `${e.tagName}[${a.name}]`),
    ),
    // Every link goes to a route of the page (a hash), never to a URL taken from the data.
    badLinks: [...document.querySelectorAll('a[href]')]
      .map((a) => a.getAttribute('href'))
      .filter((h) => !h.startsWith('#')),
    // The only SVGs are the page's charts, built of rect/g/title.
    svgChildren: [...document.querySelectorAll('svg *')]
      .map((e) => e.tagName.toLowerCase())
      .filter((t) => !['rect', 'g', 'title'].includes(t)),
  }));
  assert.equal(found.pwned, 'undefined', `${view}: a payload ran`);
  assert.deepEqual(found.scripts, ['/assets/app.js'], `${view}: scripts`);
  assert.equal(found.foreign, 0, `${view}: elements from data`);
  assert.deepEqual(found.handlers, [], `${view}: event handler attributes`);
  assert.deepEqual(found.badLinks, [], `${view}: links`);
  assert.deepEqual(found.svgChildren, [], `${view}: svg content`);
  assert.deepEqual(problems, [], `${view}: console`);
}
const appText = () => page.evaluate(() => document.getElementById('app').textContent);
/** Parses a dashboard link's hash as the page's router does: path and decoded parameters. */
function parseHash(href) {
  const h = href.replace(/^#/, '');
  const i = h.indexOf('?');
  return { path: i < 0 ? h : h.slice(0, i), params: new URLSearchParams(i < 0 ? '' : h.slice(i + 1)) };
}

test('the users list shows hostile ids and e-mails as text, with links that decode to the ids', async () => {
  await assertInert('users list');
  const rows = await page.$$eval('#users tbody td.user', (tds) =>
    tds.map((td) => ({
      id: td.querySelector('a').textContent,
      href: td.querySelector('a').getAttribute('href'),
      email: td.querySelector('.email')?.textContent,
    })),
  );
  assert.equal(rows.length, USERS.length);
  for (const u of USERS) {
    const row = rows.find((r) => r.id === u.id);
    assert.ok(row, `row of ${JSON.stringify(u.id)} shows the id as text`);
    assert.equal(row.email, u.email);
    const { path, params } = parseHash(row.href);
    assert.match(path, /^\/users\/[^/?#]+$/, 'the id is one encoded path segment');
    assert.equal(decodeURIComponent(path.slice('/users/'.length)), u.id);
    assert.equal(params.get('type'), 'custom');
    assert.equal(params.get('project'), PROJECT);
  }
  const title = await page.textContent('h1');
  assert.equal(title, 'Users');
  await page.screenshot({ path: join(artifacts, 'hostile-users.png'), fullPage: true });
});

test('the project picker lists the hostile project name as text, and the top bar stays in it', async () => {
  const options = await page.$$eval('#project option', (os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(options.map((o) => o[0]).sort(), [PROJECT, 'default'].sort());
  for (const [v, text] of options) assert.equal(text, v);
  assert.equal(await page.$eval('#project', (s) => s.value), PROJECT);
  const home = await page.$eval('#nav-users', (a) => a.getAttribute('href'));
  assert.equal(new URLSearchParams(home.split('?')[1]).get('project'), PROJECT);
  await assertInert('project picker');
});

test('a hostile search is kept as text in the box, the URL and the answer', async () => {
  const needle = '<img src=x';
  const before = await readyNow(page);
  await page.fill('#q', needle);
  await renderedSince(page, before, (n) => new URLSearchParams(location.hash.split('?')[1]).get('q') === n, needle);
  await page.waitForFunction(() => document.querySelector('#users'));
  assert.equal(await page.$eval('#q', (i) => i.value), needle);
  const ids = await page.$$eval('#users tbody td.user a', (as) => as.map((a) => a.textContent));
  assert.deepEqual(
    ids.sort(),
    USERS.filter((u) => u.id.includes(needle))
      .map((u) => u.id)
      .sort(),
  );
  await assertInert('search');
  // A search nobody matches echoes the query as text.
  await open(page, `#/?${new URLSearchParams({ project: PROJECT, q: '"><script>window.__pwned=1</script>zzz' })}`);
  assert.ok((await appText()).includes('matching “"><script>window.__pwned=1</script>zzz”'));
  await assertInert('empty search');
});

test('cohorts by a hostile metadata key show its key and values as text', async () => {
  await open(page, `#/?${new URLSearchParams({ project: PROJECT })}`);
  const keys = await page.$$eval('#cohort-key option', (os) => os.map((o) => o.value).filter(Boolean));
  const expected = [...new Set(USERS.flatMap((u) => Object.keys(u.metadata)))].sort();
  assert.deepEqual([...keys].sort(), expected);
  const before = await readyNow(page);
  await page.selectOption('#cohort-key', META_KEY);
  await renderedSince(page, before, () => document.querySelector('#cohort-table'));
  assert.equal(await page.textContent('#cohort-table thead th:first-child'), META_KEY);
  const values = await page.$$eval('#cohort-table tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(values.sort(), [...new Set(USERS.map((u) => u.metadata[META_KEY]))].sort());
  await assertInert('cohorts');
  await page.screenshot({ path: join(artifacts, 'hostile-cohorts.png'), fullPage: true });
});

test("each user's detail, sessions and traces show the hostile strings as text", async () => {
  for (const u of USERS) {
    await open(page, `#/?${new URLSearchParams({ project: PROJECT })}`);
    const before = await readyNow(page);
    // Open the detail by clicking the row's link: the link the page built must lead to this user.
    const links = await page.$$('#users tbody td.user a');
    let clicked = false;
    for (const a of links)
      if ((await a.textContent()) === u.id) {
        await a.click();
        clicked = true;
        break;
      }
    assert.ok(clicked, `a link for ${JSON.stringify(u.id)}`);
    await renderedSince(page, before, () => document.querySelector('#user-title'));
    const view = `detail of ${JSON.stringify(u.id)}`;
    assert.equal(await page.$eval('#user-title', (h) => h.firstChild.textContent), u.id, view);
    const profile = await page.$$eval('#profile > *', (es) => es.map((e) => e.textContent));
    assert.deepEqual(profile.slice(0, 6), ['User id', u.id, 'Id type', 'custom', 'E-mail', u.email]);
    const meta = {};
    for (let i = 6; i < profile.length; i += 2) meta[profile[i]] = profile[i + 1];
    assert.deepEqual(
      meta,
      Object.fromEntries(
        Object.entries(u.metadata).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      ),
      view,
    );
    const cell = (table) => page.$$eval(`#${table} tbody td:first-child`, (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(await cell('models'), [u.model], view);
    // The receiver normalises provider names (lower case, `<provider>.<api>` cut at the dot).
    const d = await (
      await fetch(`${server.base}/api/users/${encodeURIComponent(u.id)}?${new URLSearchParams({ project: PROJECT })}`)
    ).json();
    assert.ok(d.providers[0].name.startsWith('provider-'), d.providers[0].name);
    assert.deepEqual(await cell('providers'), [d.providers[0].name], view);
    assert.deepEqual(await cell('tools'), [u.tool], view);
    const sessions = await page.$$eval('#sessions tbody a', (as) =>
      as.map((a) => ({ text: a.textContent, data: a.dataset.session, href: a.getAttribute('href') })),
    );
    assert.equal(sessions.length, 1, view);
    assert.equal(sessions[0].text, u.session);
    assert.equal(sessions[0].data, u.session);
    const { path, params } = parseHash(sessions[0].href);
    assert.equal(decodeURIComponent(path.slice('/users/'.length)), u.id);
    assert.equal(params.get('session'), u.session);
    const traces = await page.$$eval('#traces tbody tr', (trs) =>
      trs.map((tr) => [...tr.cells].map((c) => c.textContent)),
    );
    assert.equal(traces.length, 1, view);
    assert.equal(traces[0][1], u.session);
    assert.equal(traces[0][2], u.trace);
    await assertInert(view);
    // The session's traces (the session link) and the errors-only filter.
    let b = await readyNow(page);
    await page.click('#sessions tbody a');
    await renderedSince(page, b, () => location.hash.includes('session='));
    assert.equal(await page.$eval('#sessions tbody tr.selected a', (a) => a.textContent), u.session);
    assert.equal(await page.textContent('#traces tbody td:nth-child(3)'), u.trace);
    assert.ok((await appText()).includes(`Traces of session ${u.session}`), view);
    await assertInert(`${view}, its session`);
    b = await readyNow(page);
    await page.click('#errors-only');
    await renderedSince(page, b, () => location.hash.includes('errors=1'));
    assert.equal(await page.textContent('#sessions tbody a'), u.session);
    await assertInert(`${view}, errors only`);
  }
  await page.screenshot({ path: join(artifacts, 'hostile-user.png'), fullPage: true });
});

test('hostile and invalid URL state is refused with a message, never thrown', async () => {
  for (const [hash, message] of [
    ['#/?range=custom&from=garbage&to=2026-01-01T00:00:00Z', '“from” is not a valid time: “garbage”'],
    ['#/?range=custom&from=2026-01-01T00:00:00Z&to=<img src=x onerror=window.__pwned=1>', '“to” is not a valid time'],
    ['#/?range=custom&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'must be before'],
    ['#/users/%E0%A4%A', 'not valid percent-encoding'],
    [`#/users/${encodeURIComponent('<img src=x onerror=window.__pwned=1>')}`, 'Could not load user “<img src=x'],
    ['#/?sort=<script>x</script>', 'Could not load users'],
    ['#/users/..', 'A URL path cannot name the user ids “.” and “..”'],
    ['#/users/%2E', 'A URL path cannot name the user ids “.” and “..”'],
  ]) {
    await open(page, hash);
    // The refusals (400, 404) are expected here, and Chromium logs each failed fetch: drop them.
    for (let i = problems.length - 1; i >= 0; i--)
      if (/Failed to load resource: the server responded with a status of 40[04]/.test(problems[i]))
        problems.splice(i, 1);
    const alert = await page.$eval('#app .error[role="alert"]', (e) => e.textContent);
    assert.ok(alert.includes(message), `${hash}: ${alert}`);
    await assertInert(hash);
  }
  // The range buttons still work from an invalid custom range.
  await open(page, `#/?range=custom&from=garbage&to=x&${new URLSearchParams({ project: PROJECT })}`);
  const b2 = await readyNow(page);
  await page.click('[data-range="7d"]');
  await renderedSince(page, b2, () => document.querySelector('#users'));
  assert.ok(page.url().includes('range=7d'));
  await assertInert('back to 7 d');
});
