// Browser test of the Users dashboard: `userspan demo --keep-serving` on a free loopback port,
// headless Debian Chromium via playwright-core, every number checked against the JSON API.
// Screenshots go to test-artifacts/ at the repository root.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as harness from './harness.mjs';

const { artifacts, bin, freePort, waitFor } = harness;
let server, browser, page, base;
const FROM = new Date(Date.now() - 31 * 86400e3).toISOString();
const TO = new Date(Date.now() + 3600e3).toISOString();
const RANGE = `range=custom&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`;

async function api(path) {
  const r = await fetch(base + path);
  assert.equal(r.status, 200, `${path} answered ${r.status}`);
  return r.json();
}
const open = (hash) => harness.open(page, hash);
const readyNow = () => harness.readyNow(page);
const renderedSince = (before, cond) => harness.renderedSince(page, before, cond);
const rowIds = () => page.$$eval('#users tbody td.user a', (as) => as.map((a) => a.textContent));

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'userspan-web-'));
  server = spawn(
    bin,
    ['demo', '--keep-serving', '--quiet', '--db', join(dir, 'demo.db'), '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitFor(
    async () =>
      (
        await (
          await fetch(`${base}/api/users?limit=1&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`)
        ).json()
      ).total >= 50,
    "the demo's 50 users",
  );
  browser = await harness.launch();
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto(`${base}/#/?${RANGE}`);
  await page.waitForFunction(() => document.body.dataset.ready);
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

test('cards and the first rows equal what /api/users returns', async () => {
  const data = await api(`/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&limit=25`);
  const cards = await page.$$eval('.cards .card', (cs) => cs.map((c) => Number(c.dataset.value)));
  assert.deepEqual(cards, [
    data.overview.unique_users,
    data.overview.new_users,
    data.overview.traces_with_user_share,
    data.overview.traces_per_user,
  ]);
  assert.equal(cards[0], 50);
  assert.deepEqual(
    await rowIds(),
    data.users.map((u) => u.user_id),
  );
  const firstCost = await page.$eval('#users tbody tr:first-child td[data-col="cost"]', (td) =>
    Number(td.dataset.value),
  );
  assert.equal(firstCost, data.users[0].cost_usd);
  await page.screenshot({ path: join(artifacts, 'users-list.png'), fullPage: true });
});

test('search narrows the rows to matching ids and emails', async () => {
  await page.fill('#q', 'acme');
  await page.waitForFunction(
    () =>
      (document.body.dataset.rendered || '').includes('q=acme') &&
      document.getElementById('app').getAttribute('aria-busy') === 'false' &&
      document.querySelector('#users'),
  );
  await page.waitForFunction(() => document.querySelector('#q') && document.querySelector('#q').value === 'acme');
  const data = await api(`/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&q=acme&limit=25`);
  assert.ok(data.total > 0 && data.total < 50, `acme matches some users: ${data.total}`);
  const rows = await page.$$eval('#users tbody tr', (trs) =>
    trs.map((tr) => tr.querySelector('td.user').textContent.toLowerCase()),
  );
  assert.equal(rows.length, Math.min(25, data.total));
  for (const r of rows) assert.ok(r.includes('acme'), r);
  await open(`#/?${RANGE}`);
});

test('sorting by cost reorders the rows, both ways', async () => {
  let before = await readyNow();
  await page.click('th[data-col="cost"] button.sort');
  await renderedSince(before, () => document.body.dataset.rendered.includes('sort=cost_usd'));
  const desc = await api(
    `/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&sort=cost_usd&order=desc&limit=25`,
  );
  assert.deepEqual(
    await rowIds(),
    desc.users.map((u) => u.user_id),
  );
  const costs = await page.$$eval('#users tbody td[data-col="cost"]', (tds) => tds.map((t) => Number(t.dataset.value)));
  for (let i = 1; i < costs.length; i++) assert.ok(costs[i - 1] >= costs[i], 'descending cost');
  assert.equal(await page.getAttribute('th[data-col="cost"]', 'aria-sort'), 'descending');
  before = await readyNow();
  await page.click('th[data-col="cost"] button.sort');
  await renderedSince(before, () => document.body.dataset.rendered.includes('order=asc'));
  const asc = await api(
    `/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&sort=cost_usd&order=asc&limit=25`,
  );
  assert.deepEqual(
    await rowIds(),
    asc.users.map((u) => u.user_id),
  );
});

test('list-price costs are marked ~ with the price table, and unpriced calls are shown, not $0', async () => {
  const q = `from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&sort=unpriced_llm_calls&order=desc&limit=25`;
  const data = await api(`/api/users?${q}`);
  const stats = await api('/api/stats');
  assert.ok(data.users[0].unpriced_llm_calls > 0, 'the demo has calls of a model the price table does not know');
  await open(`#/?${RANGE}&sort=unpriced_llm_calls&order=desc`);
  assert.deepEqual(
    await rowIds(),
    data.users.map((u) => u.user_id),
  );
  const cells = await page.$$eval('#users tbody td[data-col="cost"]', (tds) =>
    tds.map((td) => ({
      text: td.textContent,
      tip: td.querySelector('.est')?.getAttribute('title') ?? '',
      badge: td.querySelector('.badge.unpriced')?.textContent ?? '',
    })),
  );
  cells.forEach((c, i) => {
    const u = data.users[i];
    if (u.estimated_cost_usd > 0) {
      assert.ok(c.text.startsWith('~$'), `${u.user_id}: ${c.text}`);
      assert.ok(c.tip.includes(`genai-prices ${stats.prices.version}`), c.tip);
    }
    if (u.unpriced_llm_calls > 0) assert.equal(c.badge, `${u.unpriced_llm_calls} unpriced`, u.user_id);
    else assert.equal(c.badge, '');
    if (u.cost_usd === 0 && u.unpriced_llm_calls > 0) assert.ok(c.text.startsWith('unpriced'), c.text);
  });
});

test("the cost rollup cycles SUM → AVG → MED with the API's values", async () => {
  await open(`#/?${RANGE}`);
  const data = await api(`/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&limit=25`);
  for (const [label, key] of [
    ['SUM', 'sum'],
    ['AVG', 'avg'],
    ['MED', 'median'],
  ]) {
    const text = await page.textContent('#cost-rollup');
    assert.ok(text.startsWith(label), `${text} starts with ${label}`);
    const v = await page.$eval('#users tfoot td[data-col="cost"]', (td) => Number(td.dataset.value));
    assert.equal(v, data.rollups.cost_usd[key]);
    await page.click('#cost-rollup');
    await page.waitForFunction(
      (l) =>
        !document.querySelector('#cost-rollup')?.textContent.startsWith(l) &&
        document.getElementById('app').getAttribute('aria-busy') === 'false',
      label,
    );
  }
  assert.ok((await page.textContent('#cost-rollup')).startsWith('SUM'), 'back to SUM');
  // Cross-check the sum independently of the API's rollup: all users' costs added up.
  const all = await api(`/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&limit=100`);
  const sum = all.users.reduce((a, u) => a + u.cost_usd, 0);
  assert.ok(Math.abs(sum - data.rollups.cost_usd.sum) < 1e-6, `${sum} vs ${data.rollups.cost_usd.sum}`);
});

test('clicking a user opens the detail with breakdowns', async () => {
  await open(`#/?${RANGE}`);
  const first = (await rowIds())[0];
  const before = await readyNow();
  await page.click('#users tbody tr:first-child td.user a');
  await renderedSince(before, () => document.querySelector('#user-title'));
  const d = await api(`/api/users/${encodeURIComponent(first)}`);
  assert.ok((await page.textContent('#user-title')).includes(first));
  assert.equal(await page.$$eval('#models tbody tr', (r) => r.length), d.models.length);
  assert.ok(d.models.length > 0, 'the demo user used a model');
  assert.equal(await page.$$eval('#providers tbody tr', (r) => r.length), d.providers.length);
  const modelNames = await page.$$eval('#models tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(
    modelNames,
    d.models.map((m) => m.model),
  );
  await page.screenshot({ path: join(artifacts, 'user-detail.png'), fullPage: true });
});

test('the errors toggle filters sessions, and a session filters the traces', async () => {
  const all = await api(
    `/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&sort=errored_sessions&order=desc&limit=1`,
  );
  const u = all.users[0];
  assert.ok(u.errored_sessions > 0, 'some demo user had an errored session');
  await open(`#/users/${encodeURIComponent(u.user_id)}?type=${u.user_id_type}`);
  const allSessions = await page.$$eval('#sessions tbody tr', (r) => r.length);
  let before = await readyNow();
  await page.click('#errors-only');
  await renderedSince(before, () => document.body.dataset.rendered.includes('errors=1'));
  const errRows = await page.$$eval('#sessions tbody tr', (rs) => rs.map((r) => r.textContent));
  const api_ = await api(
    `/api/users/${encodeURIComponent(u.user_id)}/sessions?type=${u.user_id_type}&errors_only=true`,
  );
  assert.equal(errRows.length, api_.sessions.length);
  assert.ok(errRows.length > 0 && errRows.length < allSessions, `${errRows.length} of ${allSessions}`);
  for (const r of errRows) assert.ok(r.includes('errored'));
  before = await readyNow();
  await page.click('#errors-only');
  await renderedSince(before, () => !document.body.dataset.rendered.includes('errors=1'));
  const sid = await page.$eval('#sessions tbody tr:first-child a', (a) => a.dataset.session);
  before = await readyNow();
  await page.click('#sessions tbody tr:first-child a');
  await renderedSince(before, () => document.body.dataset.rendered.includes('session='));
  const sessionsOfTraces = await page.$$eval('#traces tbody tr td:nth-child(2)', (tds) =>
    tds.map((t) => t.textContent),
  );
  assert.ok(sessionsOfTraces.length > 0);
  for (const s of sessionsOfTraces) assert.equal(s, sid);
});

test('dragging across the histogram narrows the time range', async () => {
  await open(`#/?${RANGE}`);
  const box = await page.$eval('#histogram', (s) => {
    const r = s.getBoundingClientRect();
    return { x: r.x, y: r.y, w: r.width, h: r.height };
  });
  await page.mouse.move(box.x + box.w * 0.55, box.y + box.h / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.w * 0.8, box.y + box.h / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((f) => {
    const h = document.body.dataset.rendered || '';
    return (
      !h.includes(encodeURIComponent(f)) &&
      h.includes('range=custom') &&
      document.getElementById('app').getAttribute('aria-busy') === 'false'
    );
  }, FROM);
  const params = new URLSearchParams((await page.evaluate(() => location.hash)).split('?')[1]);
  const from = Date.parse(params.get('from')),
    to = Date.parse(params.get('to'));
  assert.ok(
    from > Date.parse(FROM) && to < Date.parse(TO) && from < to,
    `${params.get('from')} .. ${params.get('to')}`,
  );
  const narrowed = await api(
    `/api/overview?from=${encodeURIComponent(params.get('from'))}&to=${encodeURIComponent(params.get('to'))}`,
  );
  const traces = await page.$eval('.cards .card:nth-child(4)', (c) => Number(c.dataset.value));
  assert.equal(traces, narrowed.traces_per_user);
  const whole = await api(`/api/overview?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`);
  assert.ok(narrowed.traces < whole.traces, `${narrowed.traces} < ${whole.traces}`);
});

test('cohorts aggregate users per user.metadata value', async () => {
  await open(`#/?${RANGE}&cohort=plan`);
  await page.waitForSelector('#cohort-table');
  const c = await api(`/api/cohorts?key=plan&from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}`);
  const rows = await page.$$eval('#cohort-table tbody tr', (rs) =>
    rs.map((r) => [r.cells[0].textContent, Number(r.cells[1].textContent.replace(/,/g, ''))]),
  );
  assert.deepEqual(
    rows,
    c.cohorts.map((x) => [x.value ?? '(not set)', x.users]),
  );
  assert.equal(
    rows.reduce((a, r) => a + r[1], 0),
    50,
    'every user is in exactly one cohort',
  );
  // Independently of the cohorts endpoint: group /api/users rows by metadata.plan.
  const all = await api(`/api/users?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&limit=100`);
  for (const cohort of c.cohorts) {
    const members = all.users.filter((u) => (u.metadata.plan ?? null) === cohort.value);
    assert.equal(cohort.users, members.length, `users of ${cohort.value}`);
    assert.equal(
      cohort.traces,
      members.reduce((a, u) => a + u.traces, 0),
      `traces of ${cohort.value}`,
    );
    assert.ok(
      Math.abs(cohort.cost_usd - members.reduce((a, u) => a + u.cost_usd, 0)) < 1e-9,
      `cost of ${cohort.value}`,
    );
    assert.equal(
      cohort.errored_sessions,
      members.reduce((a, u) => a + u.errored_sessions, 0),
    );
  }
  const bad = await fetch(`${base}/api/cohorts?key=plan&from=yesterday`);
  assert.equal(bad.status, 400, 'a bad time is a 400 with a message');
  assert.match((await bad.json()).error, /from/);
  await page.screenshot({ path: join(artifacts, 'cohorts.png'), fullPage: true });
});
