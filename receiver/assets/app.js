// userspan Users dashboard: a dependency-free page over the receiver's JSON API (/api/...).
// State lives in the URL hash so a view can be shared: #/?range=7d&q=ada&sort=cost_usd&order=desc
// and #/users/<id>?type=email&errors=1&session=<id>; `project=NAME` selects the project.
//
// End-user data (ids, e-mails, metadata, session ids, span, model and tool names) is hostile input:
// the page builds every element with DOM APIs (h() / svg() below) and puts data only into text
// nodes and attribute values, never into HTML source. Links are built from ids with
// encodeURIComponent / URLSearchParams, never from the data alone.
//
// On a receiver with keys (`userspan serve --api-key KEY=PROJECT`), the API answers 401 and the
// page asks for a read key. The key lives in this tab's sessionStorage only (not localStorage, never
// in the URL) and is sent as `Authorization: Bearer <key>` on every API call.
'use strict';

const RANGES = { '24h': 24 * 3600e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const PAGE = 25;
const ROLLUPS = ['sum', 'avg', 'median'];
const ROLLUP_LABEL = { sum: 'SUM', avg: 'AVG', median: 'MED' };

// ---------- DOM building (the only way data reaches the page) ----------
const SVG_NS = 'http://www.w3.org/2000/svg';
const PROPERTIES = new Set(['checked', 'selected', 'disabled', 'value', 'required']);
/** Sets attributes (strings), `dataset`, `on<event>` listeners and a few boolean properties. */
function setProps(e, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = String(dv ?? '');
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (PROPERTIES.has(k)) e[k] = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}
/** Appends children: nodes as they are, strings and numbers as text; arrays are flattened. */
function append(e, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false || k === '') continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}
/** An HTML element: h('a', { href, class }, 'text', child, [children]). */
function h(tag, props, ...kids) {
  const e = document.createElement(tag);
  setProps(e, props);
  return append(e, kids);
}
/** An SVG element, as h(). */
function svg(tag, props, ...kids) {
  const e = document.createElementNS(SVG_NS, tag);
  setProps(e, props);
  return append(e, kids);
}
const code = (t) => h('code', null, t);

// ---------- formatting (units always shown) ----------
const validTime = (iso) => Boolean(iso) && !Number.isNaN(Date.parse(iso));
const fmt = {
  int: (v) => (v == null ? '—' : Math.round(v).toLocaleString('en-US')),
  dec: (v) => (v == null ? '—' : (Math.round(v * 10) / 10).toLocaleString('en-US')),
  usd(v) {
    if (v == null) return '—';
    if (v === 0) return '$0';
    if (Math.abs(v) >= 1) return `$${v.toFixed(2)}`;
    if (Math.abs(v) >= 0.01) return `$${v.toFixed(3).replace(/0$/, '')}`;
    return `$${v.toPrecision(2)}`;
  },
  tokens(v) {
    if (v == null) return '—';
    if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M tok`;
    if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k tok`;
    return `${Math.round(v)} tok`;
  },
  ms(v) {
    if (v == null) return '—';
    if (v < 1000) return `${Math.round(v)} ms`;
    if (v < 60000) return `${(v / 1000).toFixed(1)} s`;
    return `${(v / 60000).toFixed(1)} min`;
  },
  pct: (v) => (v == null ? '—' : `${Math.round(v * 100)}%`),
  ago(iso) {
    if (!validTime(iso)) return '—';
    const s = (Date.now() - Date.parse(iso)) / 1000;
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
    return `${Math.floor(s / 86400)}d ago`;
  },
  date: (iso) => (validTime(iso) ? `${new Date(iso).toISOString().replace('T', ' ').slice(0, 16)} UTC` : '—'),
};

// ---------- API: key, project, errors ----------
/** An answer other than 2xx: `status` and the receiver's `{"error": ...}` text as the message. */
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}
const KEY_STORE = 'userspan.readKey';
/** The read key of this tab (sessionStorage: gone when the tab closes, never in the URL). */
const readKey = {
  get() {
    try {
      return sessionStorage.getItem(KEY_STORE) || '';
    } catch {
      return '';
    }
  },
  set: (k) => sessionStorage.setItem(KEY_STORE, k),
  clear() {
    try {
      sessionStorage.removeItem(KEY_STORE);
    } catch {}
  },
};
/** The project every API call reads (`project=`); null lets the receiver choose (`default`). */
let PROJECT = null;

/** GET `path` with the query `params` (plus `project=` unless `withProject` is false). */
async function api(path, params = {}, withProject = true) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  if (withProject && PROJECT) q.set('project', PROJECT);
  const headers = { accept: 'application/json' };
  const key = readKey.get();
  if (key) headers.authorization = `Bearer ${key}`;
  const s = q.toString();
  let r;
  try {
    r = await fetch(`${path}${s ? `?${s}` : ''}`, { headers });
  } catch (e) {
    throw new Error(`the receiver did not answer (${e.message}). Is \`userspan serve\` still running?`);
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new HttpError(r.status, body.error || `HTTP ${r.status}`);
  return body;
}
const isAuthError = (e) => e instanceof HttpError && (e.status === 401 || e.status === 403);

// The projects this key may read (`GET /api/projects`: `{projects: [{project, default}]}`; every
// project without keys), as names, and the one reads show without `project=` (the key's home, else
// `default`). null when the receiver has no such endpoint (older versions): then there is no picker.
let projectsLoad = null;
function projects() {
  projectsLoad ??= api('/api/projects', {}, false).then(
    (d) => {
      const all = d.projects || [];
      return { names: all.map((p) => p.project), home: all.find((p) => p.default)?.project };
    },
    (e) => {
      if (e instanceof HttpError && e.status === 404) return null;
      projectsLoad = null;
      throw e;
    },
  );
  return projectsLoad;
}
function chooseProject(list, params) {
  const wanted = params.get('project');
  if (wanted) return wanted;
  if (!list?.names.length) return null;
  return list.home ?? (list.names.includes('default') ? 'default' : list.names[0]);
}

// The price table's name for the tooltips of list-price costs (one per receiver).
let PRICES = 'genai-prices';
let pricesKnown = false;
async function loadPrices() {
  if (pricesKnown) return;
  try {
    const s = await api('/api/stats');
    PRICES = `${s.prices.source} ${s.prices.version}`;
    pricesKnown = true;
  } catch (e) {
    if (isAuthError(e)) throw e;
  }
}

// ---------- top bar: project picker and sign-out ----------
function renderAccount(list, params) {
  // The top bar's links stay in the project the URL names.
  const home = hashOf('/', { project: params.get('project') });
  for (const a of document.querySelectorAll('.topbar .brand, #nav-users')) a.setAttribute('href', home);
  const box = document.getElementById('account');
  const kids = [];
  if (list && list.names.length > 1) {
    const options = [...list.names];
    if (PROJECT && !options.includes(PROJECT)) options.push(PROJECT);
    // Switching projects opens the new project's users list over the same time range.
    const select = h(
      'select',
      { id: 'project', onchange: () => go('/', { ...keepRange(params), project: select.value }) },
      options.map((p) => h('option', { value: p }, p)),
    );
    select.value = PROJECT;
    kids.push(h('label', { class: 'project' }, 'Project ', select));
  }
  if (readKey.get())
    kids.push(
      h(
        'a',
        {
          href: '#',
          id: 'sign-out',
          onclick: (ev) => {
            ev.preventDefault();
            signOut();
          },
        },
        'Sign out',
      ),
    );
  box.replaceChildren(...kids);
}
const keepRange = (p) => ({ range: p.get('range') || '', from: p.get('from') || '', to: p.get('to') || '' });

// ---------- sign-in ----------
function showSignIn(message) {
  const app = document.getElementById('app');
  document.getElementById('account').replaceChildren();
  const input = h('input', {
    type: 'password',
    id: 'read-key',
    name: 'key',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'sign-in-help',
  });
  const error = h('p', { id: 'sign-in-error', class: 'err', role: 'alert' }, message || '');
  const form = h(
    'form',
    {
      id: 'sign-in',
      class: 'panel signin',
      method: 'post',
      'aria-labelledby': 'sign-in-title',
      onsubmit: (ev) => {
        ev.preventDefault();
        const key = input.value.trim();
        if (!/^[\x21-\x7e]+$/.test(key)) {
          error.textContent = 'A key is visible ASCII without spaces.';
          input.focus();
          return;
        }
        readKey.set(key);
        projectsLoad = null;
        pricesKnown = false;
        render();
      },
    },
    h('h1', { id: 'sign-in-title' }, 'Sign in'),
    h(
      'p',
      { id: 'sign-in-help', class: 'sub' },
      'This receiver needs a key to read its data: a read key (',
      code('--read-key'),
      ' or ',
      code('--api-key'),
      '), not an ingest key. It is kept in this tab only (sessionStorage) and sent as ',
      code('Authorization: Bearer'),
      '.',
    ),
    h('label', { for: 'read-key' }, 'Read key'),
    ' ',
    input,
    ' ',
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  app.replaceChildren(form);
  input.focus();
}
/** The form for an answer of 401 (no key, or a wrong one) or 403 (a key without the read right). */
function signInAfter(e) {
  const hadKey = Boolean(readKey.get());
  readKey.clear();
  projectsLoad = null;
  pricesKnown = false;
  if (e.status === 403)
    showSignIn(
      `This key cannot read ${PROJECT ? `project “${PROJECT}”` : "this receiver's data"}: ${e.message}. Sign in with a read key.`,
    );
  else showSignIn(hadKey ? `The key was not accepted: ${e.message}` : '');
}
function signOut() {
  readKey.clear();
  projectsLoad = null;
  pricesKnown = false;
  ++renderSeq; // a render still loading must not replace the form
  showSignIn('Signed out.');
  done(renderSeq, location.hash);
}

// ---------- cost: reported + list price (estimated, marked ~) + unpriced calls ----------
// The receiver prices LLM calls that report usage but no cost at list price (genai-prices); those
// costs are estimates, marked with a ~ and the price table in a tooltip. Calls with usage but no
// known price are shown as such, never as a silent $0.
function cost(usd, estimated, unpriced) {
  const out = [];
  if (!usd && unpriced) out.push(h('span', { class: 'muted unpriced-cost' }, 'unpriced'));
  else if (estimated > 0) {
    const all = Math.abs(estimated - usd) < 1e-9;
    const tip = all ? `list price, ${PRICES}` : `includes ${fmt.usd(estimated)} at list price, ${PRICES}`;
    out.push(h('span', { class: 'est', title: tip }, `~${fmt.usd(usd)}`));
  } else out.push(fmt.usd(usd));
  if (unpriced)
    out.push(
      ' ',
      h(
        'span',
        {
          class: 'badge unpriced',
          title: `${unpriced} LLM call(s) with usage but no known price; price the model with userspan serve --prices FILE`,
        },
        `${fmt.int(unpriced)} unpriced`,
      ),
    );
  return out;
}

// ---------- columns of the users table ----------
const COLUMNS = [
  {
    key: 'seen',
    label: 'Seen at',
    sort: 'last_seen',
    cell: (u) => [
      h('span', { title: fmt.date(u.last_seen) }, fmt.ago(u.last_seen)),
      h('br'),
      h('span', { class: 'muted', title: fmt.date(u.first_seen) }, `first ${fmt.ago(u.first_seen)}`),
    ],
  },
  { key: 'trend', label: 'Trend', cell: (u) => sparkline(u.trend) },
  { key: 'traces', label: 'Traces', sort: 'traces', num: true, rollup: 'traces', f: fmt.int },
  { key: 'sessions', label: 'Sessions', sort: 'sessions', num: true, rollup: 'sessions', f: fmt.int },
  {
    key: 'errors',
    nonAdditive: true,
    label: 'Errors',
    sort: 'error_rate',
    num: true,
    rollup: 'error_rate',
    f: fmt.pct,
    cell: (u) =>
      h('span', { class: u.errored_sessions ? 'err' : 'muted' }, `${fmt.pct(u.error_rate)} (${u.errored_sessions})`),
  },
  {
    key: 'cost',
    label: 'Cost',
    sort: 'cost_usd',
    num: true,
    rollup: 'cost_usd',
    f: fmt.usd,
    cell: (u) => cost(u.cost_usd, u.estimated_cost_usd, u.unpriced_llm_calls),
  },
  {
    key: 'cost_avg',
    nonAdditive: true,
    label: 'Cost / trace',
    sort: 'cost_avg_usd',
    num: true,
    rollup: 'cost_avg_usd',
    f: fmt.usd,
    hidden: true,
  },
  {
    key: 'cost_median',
    nonAdditive: true,
    label: 'Median cost / trace',
    sort: 'cost_median_usd',
    num: true,
    rollup: 'cost_median_usd',
    f: fmt.usd,
    hidden: true,
  },
  { key: 'tokens', label: 'Tokens', sort: 'total_tokens', num: true, rollup: 'total_tokens', f: fmt.tokens },
  {
    key: 'latency',
    nonAdditive: true,
    label: 'Avg latency',
    sort: 'avg_latency_ms',
    num: true,
    rollup: 'avg_latency_ms',
    f: fmt.ms,
  },
  { key: 'llm_calls', label: 'LLM calls', sort: 'llm_calls', num: true, rollup: 'llm_calls', f: fmt.int },
  { key: 'spans', label: 'Spans', sort: 'spans', num: true, rollup: 'spans', f: fmt.int, hidden: true },
  {
    key: 'eval',
    nonAdditive: true,
    label: 'Eval pass rate',
    sort: 'eval_pass_rate',
    num: true,
    rollup: 'eval_pass_rate',
    f: fmt.pct,
  },
  {
    key: 'guardrails',
    label: 'Guardrail triggers',
    sort: 'guardrail_triggers',
    num: true,
    rollup: 'guardrail_triggers',
    f: fmt.int,
  },
  {
    key: 'active_days',
    label: 'Active days',
    sort: 'active_days',
    num: true,
    rollup: 'active_days',
    f: fmt.int,
    hidden: true,
  },
];
// ---------- URL state ----------
function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const i = hash.indexOf('?');
  const path = i < 0 ? hash : hash.slice(0, i);
  return { path, params: new URLSearchParams(i < 0 ? '' : hash.slice(i + 1)) };
}
/** The hash of `path` with the non-empty `params`, values encoded. */
function hashOf(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}
function go(path, params) {
  location.hash = hashOf(path, params);
}
const userPath = (id) => `/users/${encodeURIComponent(id)}`;
function listState(p) {
  return {
    range: p.get('range') || '30d',
    from: p.get('from') || '',
    to: p.get('to') || '',
    q: p.get('q') || '',
    sort: p.get('sort') || 'last_seen',
    order: p.get('order') || 'desc',
    page: Math.max(0, Math.floor(Number(p.get('page')) || 0)),
    cols: p.get('cols') ? p.get('cols').split(',') : COLUMNS.filter((c) => !c.hidden).map((c) => c.key),
    rollup: ROLLUPS.includes(p.get('rollup')) ? p.get('rollup') : 'sum',
    cohort: p.get('cohort') || '',
    project: p.get('project') || '',
  };
}
/** Milliseconds since the epoch of an RFC 3339 time or of unix milliseconds (what the API takes),
 * else NaN. Date.parse alone is too lenient: Chromium reads a date out of almost any text. */
function parseTime(s) {
  if (/^\d{1,15}$/.test(s)) return Number(s);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(s)) return Number.NaN;
  return Date.parse(s);
}
/** The period `{from, to}` (RFC 3339) of the list state, or `{error}` for a bad custom range. */
function period(st) {
  if (st.range === 'custom' && (st.from || st.to)) {
    const f = parseTime(st.from),
      t = parseTime(st.to);
    if (Number.isNaN(f)) return { error: `“from” is not a valid time: “${st.from}”` };
    if (Number.isNaN(t)) return { error: `“to” is not a valid time: “${st.to}”` };
    if (f >= t) return { error: `“from” (${st.from}) must be before “to” (${st.to})` };
    return { from: new Date(f).toISOString(), to: new Date(t).toISOString() };
  }
  const to = Date.now();
  return { from: new Date(to - (RANGES[st.range] || RANGES['30d'])).toISOString(), to: new Date(to).toISOString() };
}
function urlOf(st) {
  return {
    range: st.range,
    from: st.range === 'custom' ? st.from : '',
    to: st.range === 'custom' ? st.to : '',
    q: st.q,
    sort: st.sort,
    order: st.order,
    page: st.page || '',
    cols: st.cols.join(','),
    rollup: st.rollup,
    cohort: st.cohort,
    project: st.project,
  };
}

// ---------- charts (SVG built with DOM APIs) ----------
function sparkline(values) {
  if (!values?.length) return null;
  const w = 90,
    ht = 22,
    max = Math.max(1, ...values),
    bw = w / values.length;
  const bars = values.map((v, i) =>
    v
      ? svg('rect', {
          x: (i * bw).toFixed(1),
          y: (ht - (v / max) * ht).toFixed(1),
          width: Math.max(1, bw - 1).toFixed(1),
          height: ((v / max) * ht).toFixed(1),
          fill: '#3b5bdb',
        })
      : null,
  );
  const total = values.reduce((a, b) => a + b, 0);
  return svg(
    'svg',
    { class: 'spark', width: w, height: ht, role: 'img', 'aria-label': `activity trend: ${total} traces` },
    bars,
  );
}
function barChart(points, { id, height = 120, value, errored, label }) {
  const w = 1000,
    max = Math.max(1, ...points.map(value)),
    bw = w / Math.max(1, points.length);
  const bar = (i, v, fill) =>
    svg('rect', {
      x: (i * bw + 1).toFixed(1),
      y: (height - (v / max) * (height - 14)).toFixed(1),
      width: Math.max(1, bw - 2).toFixed(1),
      height: ((v / max) * (height - 14)).toFixed(1),
      fill,
    });
  const bars = points.map((p, i) => {
    const v = value(p),
      e = errored ? errored(p) : 0;
    return svg(
      'g',
      { dataset: { i } },
      svg('title', null, `${label(p)}: ${v} traces${errored ? `, ${e} errored` : ''}`),
      bar(i, v, '#9fb0f5'),
      e ? bar(i, e, '#d92d20') : null,
    );
  });
  return svg(
    'svg',
    { id, viewBox: `0 0 ${w} ${height}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'traces per bucket' },
    bars,
    svg('rect', { class: 'selection', x: 0, y: 0, width: 0, height, fill: 'rgba(59,91,219,.18)' }),
  );
}

// Drag across the histogram to zoom the time range to the selected buckets.
let zoomAbort = null;
function enableZoom(chart, buckets, bucketMs, st) {
  zoomAbort?.abort();
  zoomAbort = new AbortController();
  const sel = chart.querySelector('.selection');
  const idx = (ev) => {
    const r = chart.getBoundingClientRect();
    return Math.min(buckets.length - 1, Math.max(0, Math.floor(((ev.clientX - r.left) / r.width) * buckets.length)));
  };
  let start = null;
  const draw = (a, b) => {
    const lo = Math.min(a, b),
      hi = Math.max(a, b),
      bw = 1000 / buckets.length;
    sel.setAttribute('x', lo * bw);
    sel.setAttribute('width', (hi - lo + 1) * bw);
  };
  chart.addEventListener('mousedown', (ev) => {
    start = idx(ev);
    draw(start, start);
    ev.preventDefault();
  });
  chart.addEventListener('mousemove', (ev) => {
    if (start !== null) draw(start, idx(ev));
  });
  window.addEventListener(
    'mouseup',
    (ev) => {
      if (start === null) return;
      const end = idx(ev),
        lo = Math.min(start, end),
        hi = Math.max(start, end);
      start = null;
      const from = new Date(Date.parse(buckets[lo].start)).toISOString();
      const to = new Date(Date.parse(buckets[hi].start) + bucketMs).toISOString();
      go('/', { ...urlOf(st), range: 'custom', from, to, page: 0 });
    },
    { signal: zoomAbort.signal },
  );
}

// ---------- users list ----------
function card(label, value, note, raw) {
  return h(
    'div',
    { class: 'card', dataset: raw !== undefined ? { value: raw ?? '' } : undefined },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    h('div', { class: 'note' }, note),
  );
}
function errorBox(title, ...message) {
  return h('div', { class: 'error', role: 'alert' }, h('strong', null, title), ' ', message);
}

async function renderList(p, seq) {
  const st = listState(p);
  const per = period(st);
  const app = document.getElementById('app');
  if (per.error) {
    app.replaceChildren(...header(st, per), errorBox('Invalid time range.', `${per.error}. Pick another range.`));
    return;
  }
  const { from, to } = per;
  let data;
  try {
    data = await api('/api/users', {
      from,
      to,
      sort: st.sort,
      order: st.order,
      limit: PAGE,
      offset: st.page * PAGE,
      q: st.q,
    });
  } catch (e) {
    if (seq !== renderSeq || isAuthError(e)) throw e;
    app.replaceChildren(...header(st, per), errorBox('Could not load users.', e.message));
    return;
  }
  if (seq !== renderSeq) return; // a newer render owns the page
  const o = data.overview;
  const bucketMs = o.bucket === 'hour' ? 3600e3 : 86400e3;
  const cols = COLUMNS.filter((c) => st.cols.includes(c.key));
  const out = header(st, per);
  out.push(
    h(
      'section',
      { class: 'cards', 'aria-label': 'Overview' },
      card('Unique users', fmt.int(o.unique_users), 'with at least one trace in the period', o.unique_users),
      card('New users', fmt.int(o.new_users), 'first trace ever in the period', o.new_users),
      card(
        'Traces with a user id',
        fmt.pct(o.traces_with_user_share),
        `${fmt.int(o.traces_with_user)} of ${fmt.int(o.traces)} traces`,
        o.traces_with_user_share,
      ),
      card(
        'Traces per user',
        fmt.dec(o.traces_per_user),
        `${fmt.pct(o.sessions_with_user_share)} of sessions have a user`,
        o.traces_per_user,
      ),
    ),
  );
  const histogram = barChart(o.histogram, {
    id: 'histogram',
    value: (b) => b.traces,
    errored: (b) => b.errored_traces,
    label: (b) => fmt.date(b.start),
  });
  out.push(
    h(
      'section',
      { class: 'panel hist', 'aria-label': 'Activity' },
      h(
        'div',
        { class: 'legend' },
        h('span', null, h('span', { class: 'sw', style: 'background:#9fb0f5' }), `traces per ${o.bucket}`),
        h('span', null, h('span', { class: 'sw', style: 'background:#d92d20' }), 'errored'),
        h('span', null, 'drag across the bars to zoom in'),
      ),
      histogram,
    ),
  );
  const cycle = () => go('/', { ...urlOf(st), rollup: ROLLUPS[(ROLLUPS.indexOf(st.rollup) + 1) % 3] });
  if (data.total === 0) {
    out.push(
      h(
        'div',
        { class: 'empty', role: 'status' },
        h('strong', null, `No users in this period${st.q ? ` matching “${st.q}”` : ''}.`),
        h('br'),
        'Send spans with a ',
        code('user.id'),
        ' attribute — e.g. ',
        code('capture("turn", fn, {"user_id": user.id})'),
        ' — to ',
        code(`${location.origin}/v1/traces`),
        `, or widen the time range. ${st.q ? 'Clear the search to see everyone.' : ''}`,
      ),
    );
  } else {
    const rows = data.users.map((u) =>
      h(
        'tr',
        null,
        h(
          'td',
          { class: 'user' },
          h(
            'a',
            { href: hashOf(userPath(u.user_id), { type: u.user_id_type, range: st.range, project: st.project }) },
            u.user_id,
          ),
          h('span', { class: 'badge' }, u.user_id_type),
          u.user_email ? h('div', { class: 'email' }, u.user_email) : null,
        ),
        cols.map((c) =>
          h(
            'td',
            { class: c.num ? 'num' : '', dataset: { col: c.key, ...(c.num ? { value: u[c.sort] ?? '' } : {}) } },
            c.cell ? c.cell(u) : c.f(u[c.sort]),
          ),
        ),
      ),
    );
    // A sum of rates or averages means nothing: those columns show their rollup only as AVG / MED.
    const foot = cols.map((c) => {
      const r = c.rollup && !(c.nonAdditive && st.rollup === 'sum') && data.rollups[c.rollup];
      const text = r ? c.f(r[st.rollup]) : '';
      return h(
        'td',
        { class: 'num', dataset: { col: c.key, ...(r ? { value: r[st.rollup] ?? '' } : {}) } },
        r && c.key === 'cost'
          ? h(
              'button',
              {
                id: 'cost-rollup',
                'aria-label': `Cost rollup ${ROLLUP_LABEL[st.rollup]}; click to cycle SUM, AVG, MED`,
                onclick: cycle,
              },
              `${ROLLUP_LABEL[st.rollup]} ${text}`,
            )
          : text,
      );
    });
    out.push(
      h(
        'div',
        { class: 'tablewrap' },
        h(
          'table',
          { id: 'users' },
          h(
            'caption',
            { class: 'muted', style: 'text-align:left;padding:8px 10px' },
            `${fmt.int(data.total)} users · rollups across all of them`,
          ),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'User'),
              cols.map((c) => th(c, st)),
            ),
          ),
          h('tbody', null, rows),
          h(
            'tfoot',
            null,
            h(
              'tr',
              null,
              h(
                'td',
                null,
                h(
                  'button',
                  {
                    id: 'rollup-cycle',
                    title: 'Cycle the rollup between SUM, AVG and MED',
                    'aria-label': `Rollup: ${ROLLUP_LABEL[st.rollup]}; click to change`,
                    onclick: cycle,
                  },
                  ROLLUP_LABEL[st.rollup],
                ),
              ),
              foot,
            ),
          ),
        ),
      ),
    );
    const pages = Math.ceil(data.total / PAGE);
    out.push(
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        h(
          'button',
          { id: 'prev', disabled: st.page <= 0, onclick: () => go('/', { ...urlOf(st), page: st.page - 1 }) },
          '← Previous',
        ),
        h('span', null, `page ${st.page + 1} of ${pages}`),
        h(
          'button',
          { id: 'next', disabled: st.page + 1 >= pages, onclick: () => go('/', { ...urlOf(st), page: st.page + 1 }) },
          'Next →',
        ),
      ),
    );
  }
  const cohorts = h('div', { id: 'cohorts' });
  const cohortKey = h('select', { id: 'cohort-key' }, h('option', { value: '' }, 'choose a key…'));
  out.push(
    h(
      'section',
      { class: 'panel', 'aria-label': 'Cohorts' },
      h('h2', { style: 'margin-top:0' }, 'Cohorts'),
      h('p', { class: 'sub' }, 'Compare groups of users by a ', code('user.metadata'), ' key.'),
      h('label', null, 'Group by ', cohortKey),
      cohorts,
    ),
  );
  app.replaceChildren(...out);
  if (o.histogram.length) enableZoom(histogram, o.histogram, bucketMs, st);
  await renderCohorts(st, from, to, cohortKey, cohorts, seq);
}

function th(c, st) {
  const sorted = c.sort && st.sort === c.sort;
  return h(
    'th',
    {
      scope: 'col',
      class: c.num ? 'num' : '',
      dataset: { col: c.key },
      'aria-sort': sorted ? (st.order === 'asc' ? 'ascending' : 'descending') : null,
    },
    c.sort
      ? h(
          'button',
          {
            class: 'sort',
            dataset: { sort: c.sort },
            onclick: () =>
              go('/', { ...urlOf(st), sort: c.sort, order: sorted && st.order === 'desc' ? 'asc' : 'desc', page: 0 }),
          },
          c.label,
        )
      : c.label,
  );
}

/** Title, range buttons, custom from/to, search and column picker of the list (element array). */
function header(st, per) {
  const rangeButton = (r, label) =>
    h(
      'button',
      {
        dataset: { range: r },
        'aria-pressed': String(st.range === r),
        onclick: () => {
          if (r !== 'custom') go('/', { ...urlOf(st), range: r, from: '', to: '', page: 0 });
          else {
            const p = per.error ? period({ ...st, range: '30d' }) : per;
            go('/', { ...urlOf(st), range: 'custom', from: p.from, to: p.to, page: 0 });
          }
        },
      },
      label,
    );
  const local = (iso) => (iso ? iso.slice(0, 16) : '');
  const rangeError = h('span', { id: 'range-error', class: 'err', role: 'alert' });
  const fromInput = h('input', { type: 'datetime-local', id: 'from', value: local(per.from) });
  const toInput = h('input', { type: 'datetime-local', id: 'to', value: local(per.to) });
  // datetime-local values are UTC wall-clock times here (the page shows UTC everywhere).
  const applyCustom = () => {
    const f = parseTime(`${fromInput.value}Z`),
      t = parseTime(`${toInput.value}Z`);
    if (!fromInput.value || !toInput.value) return;
    if (Number.isNaN(f) || Number.isNaN(t)) rangeError.textContent = 'Enter a valid from and to time.';
    else if (f >= t) rangeError.textContent = '“from” must be before “to”.';
    else
      go('/', {
        ...urlOf(st),
        range: 'custom',
        from: new Date(f).toISOString(),
        to: new Date(t).toISOString(),
        page: 0,
      });
  };
  fromInput.addEventListener('change', applyCustom);
  toInput.addEventListener('change', applyCustom);
  const search = h('input', {
    type: 'search',
    id: 'q',
    placeholder: 'Search user ids and emails',
    'aria-label': 'Search user ids and emails',
    value: st.q,
  });
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => go('/', { ...urlOf(st), q: search.value.trim(), page: 0 }), 250);
  });
  const boxes = COLUMNS.map((c) =>
    h(
      'label',
      null,
      h('input', { type: 'checkbox', dataset: { col: c.key }, checked: st.cols.includes(c.key) }),
      ` ${c.label}`,
    ),
  );
  const colsBox = h('details', { class: 'cols' }, h('summary', null, 'Columns'), h('div', null, boxes));
  colsBox.addEventListener('change', () => {
    const cols = [...colsBox.querySelectorAll('input')].filter((x) => x.checked).map((x) => x.dataset.col);
    go('/', { ...urlOf(st), cols: cols.join(',') || 'seen' });
  });
  return [
    h('h1', null, 'Users'),
    h(
      'p',
      { class: 'sub' },
      'Who is using the app, what each user costs, and what went wrong for them. ',
      per.error ? '' : `${fmt.date(per.from)} → ${fmt.date(per.to)}`,
    ),
    h(
      'div',
      { class: 'toolbar', role: 'toolbar', 'aria-label': 'Time range and filters' },
      h(
        'span',
        { role: 'group', 'aria-label': 'Time range' },
        rangeButton('24h', '24 h'),
        rangeButton('7d', '7 d'),
        rangeButton('30d', '30 d'),
        rangeButton('custom', 'Custom'),
      ),
      h('label', null, 'from ', fromInput),
      h('label', null, 'to ', toInput),
      rangeError,
      search,
      colsBox,
    ),
  ];
}

async function renderCohorts(st, from, to, select, out, seq) {
  let data;
  try {
    data = await api('/api/cohorts', { from, to, key: st.cohort });
  } catch (e) {
    if (seq !== renderSeq || isAuthError(e)) throw e;
    out.replaceChildren(h('div', { class: 'error', role: 'alert' }, `Could not load cohorts: ${e.message}`));
    return;
  }
  if (seq !== renderSeq) return;
  for (const k of data.keys || []) select.append(h('option', { value: k }, k));
  select.value = st.cohort;
  select.addEventListener('change', () => go('/', { ...urlOf(st), cohort: select.value }));
  if (!st.cohort) {
    out.replaceChildren(
      data.keys?.length
        ? ''
        : h(
            'p',
            { class: 'muted' },
            'No user sends ',
            code('user.metadata'),
            ' yet (e.g. ',
            code('{"plan": "pro"}'),
            ').',
          ),
    );
    return;
  }
  const heads = [
    'Users',
    'Traces',
    'Traces / user',
    'Sessions',
    'Session error rate',
    'Cost',
    'Cost / user',
    'Tokens / user',
    'Avg latency',
    'Eval pass rate',
    'Guardrail triggers',
  ];
  const num = (...kids) => h('td', { class: 'num' }, kids);
  out.replaceChildren(
    h(
      'div',
      { class: 'tablewrap', style: 'margin-top:8px' },
      h(
        'table',
        { id: 'cohort-table' },
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            h('th', { scope: 'col' }, st.cohort),
            heads.map((x) => h('th', { class: 'num' }, x)),
          ),
        ),
        h(
          'tbody',
          null,
          data.cohorts.map((c) =>
            h(
              'tr',
              null,
              h('td', null, c.value == null ? h('span', { class: 'muted' }, '(not set)') : c.value),
              num(fmt.int(c.users)),
              num(fmt.int(c.traces)),
              num(fmt.dec(c.traces_per_user)),
              num(fmt.int(c.sessions)),
              num(fmt.pct(c.error_rate)),
              num(cost(c.cost_usd, c.estimated_cost_usd, c.unpriced_llm_calls)),
              num(fmt.usd(c.cost_per_user_usd)),
              num(fmt.tokens(c.tokens_per_user)),
              num(fmt.ms(c.avg_latency_ms)),
              num(fmt.pct(c.eval_pass_rate)),
              num(fmt.int(c.guardrail_triggers)),
            ),
          ),
        ),
      ),
    ),
  );
}

// ---------- user detail ----------
async function renderUser(id, p, seq) {
  const app = document.getElementById('app');
  const type = p.get('type') || '';
  const errorsOnly = p.get('errors') === '1';
  const session = p.get('session') || '';
  const base = `/api/users/${encodeURIComponent(id)}`;
  const back = h(
    'a',
    { class: 'back', href: hashOf('/', { range: p.get('range'), project: p.get('project') }) },
    '← All users',
  );
  if (id === '.' || id === '..') {
    // URL parsers resolve dot segments (also %2E), so no /api/users/{user_id} path names this id.
    app.replaceChildren(
      back,
      errorBox(`Cannot open user “${id}”.`, 'A URL path cannot name the user ids “.” and “..”: see them in the list.'),
    );
    return;
  }
  let d, sessions, traces;
  try {
    // allSettled, not all: the page renders (and reports ready) only once no request of it is
    // still in flight, also when one of them failed.
    const settled = await Promise.allSettled([
      api(base, { type }),
      api(`${base}/sessions`, { type, errors_only: errorsOnly ? 'true' : '' }),
      api(`${base}/traces`, { type, limit: 50, session_id: session, errors_only: errorsOnly ? 'true' : '' }),
    ]);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    [d, sessions, traces] = settled.map((r) => r.value);
  } catch (e) {
    if (seq !== renderSeq || isAuthError(e)) throw e;
    app.replaceChildren(back, errorBox(`Could not load user “${id}”.`, e.message));
    return;
  }
  if (seq !== renderSeq) return; // a newer render owns the page
  const self = (extra) =>
    hashOf(userPath(id), {
      type,
      range: p.get('range'),
      project: p.get('project'),
      errors: errorsOnly ? '1' : '',
      session,
      ...extra,
    });
  const meta = Object.entries(d.metadata || {});
  const panel = (label, ...kids) =>
    h('section', { class: 'panel', 'aria-label': label }, h('h2', { style: 'margin-top:0' }, label), kids);
  const num = (...kids) => h('td', { class: 'num' }, kids);
  const out = [
    back,
    h('h1', { id: 'user-title' }, d.user_id, ' ', h('span', { class: 'badge' }, d.user_id_type)),
    h('p', { class: 'sub' }, d.user_email ? `${d.user_email} · ` : '', `active since ${fmt.date(d.activated_at)}`),
    h(
      'div',
      { class: 'grid2' },
      panel(
        'Profile',
        h(
          'dl',
          { class: 'kv', id: 'profile' },
          h('dt', null, 'User id'),
          h('dd', null, d.user_id),
          h('dt', null, 'Id type'),
          h('dd', null, d.user_id_type),
          h('dt', null, 'E-mail'),
          h('dd', null, d.user_email || '—'),
          meta.length
            ? meta.map(([k, v]) => [
                h('dt', null, k),
                h('dd', null, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)),
              ])
            : [h('dt', null, 'Metadata'), h('dd', { class: 'muted' }, 'none sent (user.metadata)')],
        ),
      ),
      panel(
        'Activity, last 30 days',
        barChart(d.activity, {
          id: 'activity',
          height: 110,
          value: (x) => x.traces,
          errored: (x) => x.errored_traces,
          label: (x) => x.date,
        }),
      ),
    ),
    h(
      'section',
      { class: 'cards', 'aria-label': 'Lifetime' },
      card('Traces', fmt.int(d.traces), `${fmt.int(d.errored_traces)} errored`),
      card('Sessions', fmt.int(d.sessions), `${fmt.int(d.errored_sessions)} errored (${fmt.pct(d.error_rate)})`),
      card(
        'Cost',
        cost(d.cost_usd, d.estimated_cost_usd, d.unpriced_llm_calls),
        `avg ${fmt.usd(d.cost_avg_usd)} / trace`,
      ),
      card(
        'Tokens',
        fmt.tokens(d.total_tokens),
        `${fmt.tokens(d.input_tokens)} in · ${fmt.tokens(d.output_tokens)} out`,
      ),
      card('Avg trace duration', fmt.ms(d.avg_latency_ms), `${fmt.int(d.llm_calls)} LLM calls`),
      card('Active days', fmt.int(d.active_days), `first ${fmt.date(d.first_seen)}`),
      card('Last seen', fmt.ago(d.last_seen), fmt.date(d.last_seen)),
      card('Eval pass rate', fmt.pct(d.eval_pass_rate), `${fmt.int(d.guardrail_triggers)} guardrail triggers`),
    ),
    h(
      'div',
      { class: 'grid2' },
      panel(
        'Models',
        miniTable(
          'models',
          ['Model', 'Traces', 'Tokens', 'Cost'],
          d.models.map((m) => [
            m.priced_as ? h('span', { title: `priced as ${m.priced_as}` }, m.model) : m.model,
            fmt.int(m.traces),
            fmt.tokens(m.total_tokens),
            cost(m.cost_usd, m.estimated_cost_usd, m.unpriced_calls),
          ]),
        ),
      ),
      panel(
        'Providers',
        miniTable(
          'providers',
          ['Provider', 'Traces'],
          d.providers.map((m) => [m.name, fmt.int(m.traces)]),
        ),
      ),
      panel(
        'Tools',
        miniTable(
          'tools',
          ['Tool', 'Traces'],
          d.tools.map((m) => [m.name, fmt.int(m.traces)]),
        ),
      ),
    ),
    h('h2', null, 'Sessions'),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'button',
        {
          id: 'errors-only',
          'aria-pressed': String(errorsOnly),
          onclick: () => {
            location.hash = self({ errors: errorsOnly ? '' : '1', session: '' });
          },
        },
        'Errors only',
      ),
      session ? h('a', { href: self({ session: '' }) }, 'show traces of all sessions') : null,
    ),
  ];
  if (!sessions.sessions.length)
    out.push(
      h(
        'div',
        { class: 'empty', role: 'status' },
        errorsOnly ? 'No session of this user had an error.' : 'No sessions.',
      ),
    );
  else
    out.push(
      h(
        'div',
        { class: 'tablewrap' },
        h(
          'table',
          { id: 'sessions' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Session', 'First', 'Last'].map((x) => h('th', null, x)),
              ['Traces', 'Errored traces', 'Tokens', 'Cost'].map((x) => h('th', { class: 'num' }, x)),
            ),
          ),
          h(
            'tbody',
            null,
            sessions.sessions.map((s) =>
              h(
                'tr',
                { class: s.session_id === session ? 'selected' : '' },
                h(
                  'td',
                  null,
                  h('a', { href: self({ session: s.session_id }), dataset: { session: s.session_id } }, s.session_id),
                  s.errored ? [' ', h('span', { class: 'badge err' }, 'errored')] : null,
                ),
                h('td', null, fmt.date(s.first_seen)),
                h('td', null, fmt.date(s.last_seen)),
                num(fmt.int(s.traces)),
                h('td', { class: `num ${s.errored_traces ? 'err' : ''}` }, fmt.int(s.errored_traces)),
                num(fmt.tokens(s.total_tokens)),
                num(cost(s.cost_usd, s.estimated_cost_usd, s.unpriced_llm_calls)),
              ),
            ),
          ),
        ),
      ),
    );
  out.push(h('h2', null, 'Traces', session ? ` of session ${session}` : ''));
  if (!traces.traces.length)
    out.push(h('div', { class: 'empty', role: 'status' }, `No traces${errorsOnly ? ' with errors' : ''}.`));
  else
    out.push(
      h(
        'div',
        { class: 'tablewrap' },
        h(
          'table',
          { id: 'traces' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Trace', 'Session', 'Name', 'Start'].map((x) => h('th', null, x)),
              h('th', { class: 'num' }, 'Duration'),
              h('th', null, 'Status'),
              ['Tokens', 'Cost'].map((x) => h('th', { class: 'num' }, x)),
            ),
          ),
          h(
            'tbody',
            null,
            traces.traces.map((t) =>
              h(
                'tr',
                null,
                h('td', null, h('code', { title: t.trace_id }, `${String(t.trace_id).slice(0, 12)}…`)),
                h('td', null, t.session_id),
                h('td', null, t.name),
                h('td', null, fmt.date(t.start)),
                num(fmt.ms(t.duration_ms)),
                h('td', { class: t.status === 'error' ? 'err' : '' }, t.status),
                num(fmt.tokens(t.total_tokens)),
                num(cost(t.cost_usd, t.estimated_cost_usd, t.unpriced_llm_calls)),
              ),
            ),
          ),
        ),
      ),
    );
  app.replaceChildren(...out);
}
function miniTable(id, heads, rows) {
  if (!rows.length) return h('p', { class: 'muted' }, 'None recorded.');
  const cls = (i) => (i ? 'num' : '');
  return h(
    'table',
    { id },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        heads.map((x, i) => h('th', { class: cls(i) }, x)),
      ),
    ),
    h(
      'tbody',
      null,
      rows.map((r) =>
        h(
          'tr',
          null,
          r.map((c, i) => h('td', { class: cls(i) }, c)),
        ),
      ),
    ),
  );
}

// ---------- router ----------
// Renders can overlap (a click while the previous page still loads); each has a number, and only
// the newest writes the page and clears aria-busy, so a slow older response never replaces it.
let renderSeq = 0;
function done(seq, hash) {
  document.getElementById('app').setAttribute('aria-busy', 'false');
  document.body.dataset.ready = String(seq); // tests wait for it to change
  document.body.dataset.rendered = hash; // the URL state the page now shows
}
async function render() {
  const seq = ++renderSeq;
  const hash = location.hash;
  const app = document.getElementById('app');
  app.setAttribute('aria-busy', 'true');
  const { path, params } = route();
  try {
    const list = await projects();
    if (seq !== renderSeq) return;
    PROJECT = chooseProject(list, params);
    renderAccount(list, params);
    try {
      await loadPrices();
    } catch (e) {
      // A key that lists its projects but may not read the one in the URL (a shared link): stay
      // signed in, say so, and offer the key's projects.
      if (!(list && e.status === 403)) throw e;
      if (seq !== renderSeq) return;
      const home = chooseProject(list, new URLSearchParams());
      app.replaceChildren(
        errorBox(
          `This key cannot read project “${PROJECT}”.`,
          `${e.message} `,
          h('a', { href: hashOf('/', { project: home }) }, `Open project “${home}”`),
        ),
      );
      return done(seq, hash);
    }
    if (seq !== renderSeq) return;
    const m = path.match(/^\/users\/(.+)$/);
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch {
        app.replaceChildren(errorBox('Bad link.', 'The user id in the URL is not valid percent-encoding.'));
      }
      if (id !== undefined) await renderUser(id, params, seq);
    } else await renderList(params, seq);
  } catch (e) {
    if (seq !== renderSeq) return;
    if (isAuthError(e)) signInAfter(e);
    else app.replaceChildren(errorBox('Could not load the page.', e.message));
  }
  if (seq !== renderSeq) return;
  done(seq, hash);
}
window.addEventListener('hashchange', render);
render();
