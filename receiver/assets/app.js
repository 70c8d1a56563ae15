// userspan Users dashboard: a dependency-free page over the receiver's JSON API (/api/...).
// State lives in the URL hash so a view can be shared: #/?range=7d&q=ada&sort=cost_usd&order=desc
// and #/users/<id>?type=email&errors=1&session=<id>.
'use strict';

const RANGES = { '24h': 24 * 3600e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
const PAGE = 25;
const ROLLUPS = ['sum', 'avg', 'median'];
const ROLLUP_LABEL = { sum: 'SUM', avg: 'AVG', median: 'MED' };

// ---------- formatting (units always shown) ----------
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
    if (!iso) return '—';
    const s = (Date.now() - Date.parse(iso)) / 1000;
    if (s < 60) return 'just now';
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
    return `${Math.floor(s / 86400)}d ago`;
  },
  date: (iso) => (iso ? `${new Date(iso).toISOString().replace('T', ' ').slice(0, 16)} UTC` : '—'),
};

// ---------- cost: reported + list price (estimated, marked ~) + unpriced calls ----------
// The receiver prices LLM calls that report usage but no cost at list price (genai-prices); those
// costs are estimates, marked with a ~ and the price table in a tooltip. Calls with usage but no
// known price are shown as such, never as a silent $0.
let PRICES = 'genai-prices';
const pricesReady = api('/api/stats')
  .then((s) => {
    PRICES = `${s.prices.source} ${s.prices.version}`;
  })
  .catch(() => {});
function cost(usd, estimated, unpriced) {
  let html;
  if (!usd && unpriced) html = '<span class="muted unpriced-cost">unpriced</span>';
  else if (estimated > 0) {
    const all = Math.abs(estimated - usd) < 1e-9;
    const tip = all ? `list price, ${PRICES}` : `includes ${fmt.usd(estimated)} at list price, ${PRICES}`;
    html = `<span class="est" title="${esc(tip)}">~${fmt.usd(usd)}</span>`;
  } else html = fmt.usd(usd);
  if (unpriced)
    html += ` <span class="badge unpriced" title="${esc(`${unpriced} LLM call(s) with usage but no known price; price the model with userspan serve --prices FILE`)}">${fmt.int(unpriced)} unpriced</span>`;
  return html;
}

function esc(s) {
  return String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

// ---------- columns of the users table ----------
const COLUMNS = [
  {
    key: 'seen',
    label: 'Seen at',
    sort: 'last_seen',
    cell: (u) =>
      `<span title="${esc(fmt.date(u.last_seen))}">${fmt.ago(u.last_seen)}</span><br><span class="muted" title="${esc(fmt.date(u.first_seen))}">first ${fmt.ago(u.first_seen)}</span>`,
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
      `<span class="${u.errored_sessions ? 'err' : 'muted'}">${fmt.pct(u.error_rate)} (${u.errored_sessions})</span>`,
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
  const h = location.hash.replace(/^#/, '') || '/';
  const [path, query] = h.split('?');
  return { path, params: new URLSearchParams(query || '') };
}
function go(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  location.hash = `#${path}${s ? `?${s}` : ''}`;
}
function listState(p) {
  return {
    range: p.get('range') || '30d',
    from: p.get('from') || '',
    to: p.get('to') || '',
    q: p.get('q') || '',
    sort: p.get('sort') || 'last_seen',
    order: p.get('order') || 'desc',
    page: Number(p.get('page') || 0),
    cols: p.get('cols') ? p.get('cols').split(',') : COLUMNS.filter((c) => !c.hidden).map((c) => c.key),
    rollup: ROLLUPS.includes(p.get('rollup')) ? p.get('rollup') : 'sum',
    cohort: p.get('cohort') || '',
  };
}
function period(st) {
  if (st.range === 'custom' && st.from && st.to) return { from: st.from, to: st.to };
  const to = Date.now();
  return { from: new Date(to - (RANGES[st.range] || RANGES['30d'])).toISOString(), to: new Date(to).toISOString() };
}

async function api(path) {
  let r;
  try {
    r = await fetch(path, { headers: { accept: 'application/json' } });
  } catch (e) {
    throw new Error(`the receiver did not answer (${e.message}). Is \`userspan serve\` still running?`);
  }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

// ---------- charts (hand-written SVG) ----------
function sparkline(values) {
  if (!values?.length) return '';
  const w = 90,
    h = 22,
    max = Math.max(1, ...values),
    bw = w / values.length;
  const bars = values
    .map((v, i) =>
      v
        ? `<rect x="${(i * bw).toFixed(1)}" y="${(h - (v / max) * h).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${((v / max) * h).toFixed(1)}" fill="#3b5bdb"/>`
        : '',
    )
    .join('');
  return `<svg class="spark" width="${w}" height="${h}" role="img" aria-label="activity trend: ${values.reduce((a, b) => a + b, 0)} traces">${bars}</svg>`;
}
function barChart(points, { id, height = 120, value, errored, label }) {
  const w = 1000,
    max = Math.max(1, ...points.map(value)),
    bw = w / Math.max(1, points.length);
  const bars = points
    .map((p, i) => {
      const v = value(p),
        e = errored ? errored(p) : 0;
      const hv = (v / max) * (height - 14),
        he = (e / max) * (height - 14);
      return (
        `<g data-i="${i}"><title>${esc(label(p))}: ${v} traces${errored ? `, ${e} errored` : ''}</title>` +
        `<rect x="${(i * bw + 1).toFixed(1)}" y="${(height - hv).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${hv.toFixed(1)}" fill="#9fb0f5"/>` +
        (e
          ? `<rect x="${(i * bw + 1).toFixed(1)}" y="${(height - he).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${he.toFixed(1)}" fill="#d92d20"/>`
          : '') +
        `</g>`
      );
    })
    .join('');
  return `<svg id="${id}" viewBox="0 0 ${w} ${height}" preserveAspectRatio="none" role="img" aria-label="traces per bucket">${bars}<rect class="selection" x="0" y="0" width="0" height="${height}" fill="rgba(59,91,219,.18)"/></svg>`;
}

// Drag across the histogram to zoom the time range to the selected buckets.
let zoomAbort = null;
function enableZoom(svg, buckets, bucketMs, st) {
  zoomAbort?.abort();
  zoomAbort = new AbortController();
  const sel = svg.querySelector('.selection');
  const idx = (ev) => {
    const r = svg.getBoundingClientRect();
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
  svg.addEventListener('mousedown', (ev) => {
    start = idx(ev);
    draw(start, start);
    ev.preventDefault();
  });
  svg.addEventListener('mousemove', (ev) => {
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
  };
}

// ---------- users list ----------
async function renderList(p) {
  const seq = renderSeq;
  const st = listState(p);
  const { from, to } = period(st);
  const app = document.getElementById('app');
  const qs = new URLSearchParams({ from, to, sort: st.sort, order: st.order, limit: PAGE, offset: st.page * PAGE });
  if (st.q) qs.set('q', st.q);
  let data;
  try {
    data = await api(`/api/users?${qs}`);
  } catch (e) {
    if (seq !== renderSeq) return;
    app.innerHTML = `${header(st)}<div class="error" role="alert"><strong>Could not load users.</strong> ${esc(e.message)}</div>`;
    bindHeader(st);
    return;
  }
  if (seq !== renderSeq) return; // a newer render owns the page
  const o = data.overview;
  const bucketMs = o.bucket === 'hour' ? 3600e3 : 86400e3;
  const cols = COLUMNS.filter((c) => st.cols.includes(c.key));
  let html = header(st);
  html += `<section class="cards" aria-label="Overview">
    ${card('Unique users', fmt.int(o.unique_users), 'with at least one trace in the period', o.unique_users)}
    ${card('New users', fmt.int(o.new_users), 'first trace ever in the period', o.new_users)}
    ${card('Traces with a user id', fmt.pct(o.traces_with_user_share), `${fmt.int(o.traces_with_user)} of ${fmt.int(o.traces)} traces`, o.traces_with_user_share)}
    ${card('Traces per user', fmt.dec(o.traces_per_user), `${fmt.pct(o.sessions_with_user_share)} of sessions have a user`, o.traces_per_user)}
  </section>`;
  html += `<section class="panel hist" aria-label="Activity"><div class="legend"><span><span class="sw" style="background:#9fb0f5"></span>traces per ${o.bucket}</span><span><span class="sw" style="background:#d92d20"></span>errored</span><span>drag across the bars to zoom in</span></div>${barChart(o.histogram, { id: 'histogram', value: (b) => b.traces, errored: (b) => b.errored_traces, label: (b) => fmt.date(b.start) })}</section>`;
  if (data.total === 0) {
    html += `<div class="empty" role="status"><strong>No users in this period${st.q ? ` matching “${esc(st.q)}”` : ''}.</strong><br>
      Send spans with a <code>user.id</code> attribute — e.g. <code>capture("turn", fn, {"user_id": user.id})</code> — to <code>${esc(location.origin)}/v1/traces</code>, or widen the time range. ${st.q ? 'Clear the search to see everyone.' : ''}</div>`;
  } else {
    html += `<div class="tablewrap"><table id="users"><caption class="muted" style="text-align:left;padding:8px 10px">${fmt.int(data.total)} users · rollups across all of them</caption><thead><tr>
      <th scope="col">User</th>${cols.map((c) => th(c, st)).join('')}</tr></thead><tbody>`;
    for (const u of data.users) {
      const href = `#/users/${encodeURIComponent(u.user_id)}?type=${encodeURIComponent(u.user_id_type)}&range=${st.range}`;
      html += `<tr><td class="user"><a href="${esc(href)}">${esc(u.user_id)}</a><span class="badge">${esc(u.user_id_type)}</span>${u.user_email ? `<div class="email">${esc(u.user_email)}</div>` : ''}</td>`;
      for (const c of cols)
        html += `<td class="${c.num ? 'num' : ''}" data-col="${c.key}"${c.num ? ` data-value="${u[c.sort] ?? ''}"` : ''}>${c.cell ? c.cell(u) : c.f(u[c.sort])}</td>`;
      html += `</tr>`;
    }
    html += `</tbody><tfoot><tr><td><button id="rollup-cycle" title="Cycle the rollup between SUM, AVG and MED" aria-label="Rollup: ${ROLLUP_LABEL[st.rollup]}; click to change">${ROLLUP_LABEL[st.rollup]}</button></td>`;
    for (const c of cols) {
      // A sum of rates or averages means nothing: those columns show their rollup only as AVG / MED.
      const r = c.rollup && !(c.nonAdditive && st.rollup === 'sum') && data.rollups[c.rollup];
      html += `<td class="num" data-col="${c.key}"${r ? ` data-value="${r[st.rollup] ?? ''}"` : ''}>${r ? (c.key === 'cost' ? `<button id="cost-rollup" aria-label="Cost rollup ${ROLLUP_LABEL[st.rollup]}; click to cycle SUM, AVG, MED">${ROLLUP_LABEL[st.rollup]} ${c.f(r[st.rollup])}</button>` : c.f(r[st.rollup])) : ''}</td>`;
    }
    html += `</tr></tfoot></table></div>`;
    const pages = Math.ceil(data.total / PAGE);
    html += `<nav class="pager" aria-label="Pages"><button id="prev" ${st.page <= 0 ? 'disabled' : ''}>← Previous</button><span>page ${st.page + 1} of ${pages}</span><button id="next" ${st.page + 1 >= pages ? 'disabled' : ''}>Next →</button></nav>`;
  }
  html += `<section class="panel" aria-label="Cohorts"><h2 style="margin-top:0">Cohorts</h2><p class="sub">Compare groups of users by a <code>user.metadata</code> key.</p>
    <label>Group by <select id="cohort-key"><option value="">choose a key…</option></select></label><div id="cohorts"></div></section>`;
  app.innerHTML = html;
  bindHeader(st);
  const svg = document.getElementById('histogram');
  if (svg && o.histogram.length) enableZoom(svg, o.histogram, bucketMs, st);
  for (const b of app.querySelectorAll('th button.sort')) {
    b.addEventListener('click', () => {
      const key = b.dataset.sort;
      const order = st.sort === key && st.order === 'desc' ? 'asc' : 'desc';
      go('/', { ...urlOf(st), sort: key, order, page: 0 });
    });
  }
  const cycle = () => go('/', { ...urlOf(st), rollup: ROLLUPS[(ROLLUPS.indexOf(st.rollup) + 1) % 3] });
  document.getElementById('rollup-cycle')?.addEventListener('click', cycle);
  document.getElementById('cost-rollup')?.addEventListener('click', cycle);
  document.getElementById('prev')?.addEventListener('click', () => go('/', { ...urlOf(st), page: st.page - 1 }));
  document.getElementById('next')?.addEventListener('click', () => go('/', { ...urlOf(st), page: st.page + 1 }));
  await renderCohorts(st, from, to);
}

function th(c, st) {
  const sorted = c.sort && st.sort === c.sort;
  const aria = sorted ? ` aria-sort="${st.order === 'asc' ? 'ascending' : 'descending'}"` : '';
  const inner = c.sort ? `<button class="sort" data-sort="${c.sort}">${c.label}</button>` : c.label;
  return `<th scope="col" class="${c.num ? 'num' : ''}" data-col="${c.key}"${aria}>${inner}</th>`;
}
function card(label, value, note, raw) {
  return `<div class="card"${raw !== undefined ? ` data-value="${raw ?? ''}"` : ''}><div class="label">${esc(label)}</div><div class="value">${value}</div><div class="note">${esc(note)}</div></div>`;
}

function header(st) {
  const rangeButtons = ['24h', '7d', '30d']
    .map(
      (r) =>
        `<button data-range="${r}" aria-pressed="${st.range === r}">${r === '24h' ? '24 h' : r === '7d' ? '7 d' : '30 d'}</button>`,
    )
    .join('');
  const p = period(st);
  const local = (iso) => (iso ? iso.slice(0, 16) : '');
  const colBoxes = COLUMNS.map(
    (c) =>
      `<label><input type="checkbox" data-col="${c.key}" ${st.cols.includes(c.key) ? 'checked' : ''}> ${c.label}</label>`,
  ).join('');
  return `<h1>Users</h1><p class="sub">Who is using the app, what each user costs, and what went wrong for them. ${esc(fmt.date(p.from))} → ${esc(fmt.date(p.to))}</p>
  <div class="toolbar" role="toolbar" aria-label="Time range and filters">
    <span role="group" aria-label="Time range">${rangeButtons}<button data-range="custom" aria-pressed="${st.range === 'custom'}">Custom</button></span>
    <label>from <input type="datetime-local" id="from" value="${local(p.from)}"></label>
    <label>to <input type="datetime-local" id="to" value="${local(p.to)}"></label>
    <input type="search" id="q" placeholder="Search user ids and emails" aria-label="Search user ids and emails" value="${esc(st.q)}">
    <details class="cols"><summary>Columns</summary><div>${colBoxes}</div></details>
  </div>`;
}
function bindHeader(st) {
  for (const b of document.querySelectorAll('[data-range]')) {
    b.addEventListener('click', () => {
      const r = b.dataset.range;
      if (r === 'custom') {
        const p = period(st);
        go('/', { ...urlOf(st), range: 'custom', from: p.from, to: p.to, page: 0 });
      } else go('/', { ...urlOf(st), range: r, from: '', to: '', page: 0 });
    });
  }
  const applyCustom = () => {
    const f = document.getElementById('from').value,
      t = document.getElementById('to').value;
    if (f && t)
      go('/', {
        ...urlOf(st),
        range: 'custom',
        from: new Date(`${f}Z`).toISOString(),
        to: new Date(`${t}Z`).toISOString(),
        page: 0,
      });
  };
  document.getElementById('from')?.addEventListener('change', applyCustom);
  document.getElementById('to')?.addEventListener('change', applyCustom);
  const q = document.getElementById('q');
  let timer;
  q?.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => go('/', { ...urlOf(st), q: q.value.trim(), page: 0 }), 250);
  });
  for (const box of document.querySelectorAll('details.cols input')) {
    box.addEventListener('change', () => {
      const cols = [...document.querySelectorAll('details.cols input')]
        .filter((x) => x.checked)
        .map((x) => x.dataset.col);
      go('/', { ...urlOf(st), cols: cols.join(',') || 'seen' });
    });
  }
}

async function renderCohorts(st, from, to) {
  const select = document.getElementById('cohort-key');
  const out = document.getElementById('cohorts');
  if (!select) return;
  let data;
  try {
    data = await api(`/api/cohorts?${new URLSearchParams({ from, to, key: st.cohort || '' })}`);
  } catch (e) {
    out.innerHTML = `<div class="error" role="alert">Could not load cohorts: ${esc(e.message)}</div>`;
    return;
  }
  select.innerHTML =
    `<option value="">choose a key…</option>` +
    (data.keys || []).map((k) => `<option ${k === st.cohort ? 'selected' : ''}>${esc(k)}</option>`).join('');
  select.addEventListener('change', () => go('/', { ...urlOf(st), cohort: select.value }));
  if (!st.cohort) {
    out.innerHTML = data.keys?.length
      ? ''
      : `<p class="muted">No user sends <code>user.metadata</code> yet (e.g. <code>{"plan": "pro"}</code>).</p>`;
    return;
  }
  out.innerHTML =
    `<div class="tablewrap" style="margin-top:8px"><table id="cohort-table"><thead><tr><th scope="col">${esc(st.cohort)}</th>
    <th class="num">Users</th><th class="num">Traces</th><th class="num">Traces / user</th><th class="num">Sessions</th><th class="num">Session error rate</th><th class="num">Cost</th><th class="num">Cost / user</th><th class="num">Tokens / user</th><th class="num">Avg latency</th><th class="num">Eval pass rate</th><th class="num">Guardrail triggers</th></tr></thead><tbody>` +
    data.cohorts
      .map(
        (c) =>
          `<tr><td>${c.value == null ? '<span class="muted">(not set)</span>' : esc(c.value)}</td><td class="num">${fmt.int(c.users)}</td><td class="num">${fmt.int(c.traces)}</td><td class="num">${fmt.dec(c.traces_per_user)}</td><td class="num">${fmt.int(c.sessions)}</td><td class="num">${fmt.pct(c.error_rate)}</td><td class="num">${cost(c.cost_usd, c.estimated_cost_usd, c.unpriced_llm_calls)}</td><td class="num">${fmt.usd(c.cost_per_user_usd)}</td><td class="num">${fmt.tokens(c.tokens_per_user)}</td><td class="num">${fmt.ms(c.avg_latency_ms)}</td><td class="num">${fmt.pct(c.eval_pass_rate)}</td><td class="num">${fmt.int(c.guardrail_triggers)}</td></tr>`,
      )
      .join('') +
    `</tbody></table></div>`;
}

// ---------- user detail ----------
async function renderUser(id, p) {
  const seq = renderSeq;
  const app = document.getElementById('app');
  const type = p.get('type') || '';
  const errorsOnly = p.get('errors') === '1';
  const session = p.get('session') || '';
  const base = `/api/users/${encodeURIComponent(id)}`;
  const tq = type ? `type=${encodeURIComponent(type)}` : '';
  let d, sessions, traces;
  try {
    [d, sessions, traces] = await Promise.all([
      api(`${base}?${tq}`),
      api(`${base}/sessions?${tq}&${errorsOnly ? 'errors_only=true' : ''}`),
      api(
        `${base}/traces?${tq}&limit=50${session ? `&session_id=${encodeURIComponent(session)}` : ''}${errorsOnly ? '&errors_only=true' : ''}`,
      ),
    ]);
  } catch (e) {
    if (seq !== renderSeq) return;
    app.innerHTML = `<a class="back" href="#/">← All users</a><div class="error" role="alert"><strong>Could not load user “${esc(id)}”.</strong> ${esc(e.message)}</div>`;
    return;
  }
  if (seq !== renderSeq) return; // a newer render owns the page
  const back = `#/?range=${encodeURIComponent(p.get('range') || '30d')}`;
  const meta = Object.entries(d.metadata || {});
  const self = (extra) => {
    const q = new URLSearchParams({
      type,
      range: p.get('range') || '',
      errors: errorsOnly ? '1' : '',
      session,
      ...extra,
    });
    for (const [k, v] of [...q]) if (!v) q.delete(k);
    return `#/users/${encodeURIComponent(id)}?${q}`;
  };
  let html = `<a class="back" href="${esc(back)}">← All users</a>
  <h1 id="user-title">${esc(d.user_id)} <span class="badge">${esc(d.user_id_type)}</span></h1>
  <p class="sub">${d.user_email ? `${esc(d.user_email)} · ` : ''}active since ${esc(fmt.date(d.activated_at))}</p>
  <div class="grid2">
    <section class="panel" aria-label="Profile"><h2 style="margin-top:0">Profile</h2><dl class="kv">
      <dt>User id</dt><dd>${esc(d.user_id)}</dd><dt>Id type</dt><dd>${esc(d.user_id_type)}</dd><dt>E-mail</dt><dd>${esc(d.user_email || '—')}</dd>
      ${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</dd>`).join('') || "<dt>Metadata</dt><dd class='muted'>none sent (user.metadata)</dd>"}
    </dl></section>
    <section class="panel" aria-label="Activity, last 30 days"><h2 style="margin-top:0">Activity, last 30 days</h2>${barChart(d.activity, { id: 'activity', height: 110, value: (x) => x.traces, errored: (x) => x.errored_traces, label: (x) => x.date })}</section>
  </div>
  <section class="cards" aria-label="Lifetime">
    ${card('Traces', fmt.int(d.traces), `${fmt.int(d.errored_traces)} errored`)}
    ${card('Sessions', fmt.int(d.sessions), `${fmt.int(d.errored_sessions)} errored (${fmt.pct(d.error_rate)})`)}
    ${card('Cost', cost(d.cost_usd, d.estimated_cost_usd, d.unpriced_llm_calls), `avg ${fmt.usd(d.cost_avg_usd)} / trace`)}
    ${card('Tokens', fmt.tokens(d.total_tokens), `${fmt.tokens(d.input_tokens)} in · ${fmt.tokens(d.output_tokens)} out`)}
    ${card('Avg trace duration', fmt.ms(d.avg_latency_ms), `${fmt.int(d.llm_calls)} LLM calls`)}
    ${card('Active days', fmt.int(d.active_days), `first ${fmt.date(d.first_seen)}`)}
    ${card('Last seen', fmt.ago(d.last_seen), fmt.date(d.last_seen))}
    ${card('Eval pass rate', fmt.pct(d.eval_pass_rate), `${fmt.int(d.guardrail_triggers)} guardrail triggers`)}
  </section>
  <div class="grid2">
    <section class="panel" aria-label="Models"><h2 style="margin-top:0">Models</h2>${miniTable(
      'models',
      ['Model', 'Traces', 'Tokens', 'Cost'],
      d.models.map((m) => [
        m.priced_as ? `<span title="${esc(`priced as ${m.priced_as}`)}">${esc(m.model)}</span>` : esc(m.model),
        fmt.int(m.traces),
        fmt.tokens(m.total_tokens),
        cost(m.cost_usd, m.estimated_cost_usd, m.unpriced_calls),
      ]),
    )}</section>
    <section class="panel" aria-label="Providers"><h2 style="margin-top:0">Providers</h2>${miniTable(
      'providers',
      ['Provider', 'Traces'],
      d.providers.map((m) => [esc(m.name), fmt.int(m.traces)]),
    )}</section>
    <section class="panel" aria-label="Tools"><h2 style="margin-top:0">Tools</h2>${miniTable(
      'tools',
      ['Tool', 'Traces'],
      d.tools.map((m) => [esc(m.name), fmt.int(m.traces)]),
    )}</section>
  </div>
  <h2>Sessions</h2>
  <div class="toolbar"><button id="errors-only" aria-pressed="${errorsOnly}">Errors only</button>${session ? `<a href="${esc(self({ session: '' }))}">show traces of all sessions</a>` : ''}</div>`;
  if (!sessions.sessions.length)
    html += `<div class="empty" role="status">${errorsOnly ? 'No session of this user had an error.' : 'No sessions.'}</div>`;
  else
    html +=
      `<div class="tablewrap"><table id="sessions"><thead><tr><th>Session</th><th>First</th><th>Last</th><th class="num">Traces</th><th class="num">Errored traces</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody>` +
      sessions.sessions
        .map(
          (s) =>
            `<tr class="${s.session_id === session ? 'selected' : ''}"><td><a href="${esc(self({ session: s.session_id }))}" data-session="${esc(s.session_id)}">${esc(s.session_id)}</a>${s.errored ? ' <span class="badge err">errored</span>' : ''}</td><td>${esc(fmt.date(s.first_seen))}</td><td>${esc(fmt.date(s.last_seen))}</td><td class="num">${fmt.int(s.traces)}</td><td class="num ${s.errored_traces ? 'err' : ''}">${fmt.int(s.errored_traces)}</td><td class="num">${fmt.tokens(s.total_tokens)}</td><td class="num">${cost(s.cost_usd, s.estimated_cost_usd, s.unpriced_llm_calls)}</td></tr>`,
        )
        .join('') +
      `</tbody></table></div>`;
  html += `<h2>Traces${session ? ` of session ${esc(session)}` : ''}</h2>`;
  if (!traces.traces.length)
    html += `<div class="empty" role="status">No traces${errorsOnly ? ' with errors' : ''}.</div>`;
  else
    html +=
      `<div class="tablewrap"><table id="traces"><thead><tr><th>Trace</th><th>Session</th><th>Name</th><th>Start</th><th class="num">Duration</th><th>Status</th><th class="num">Tokens</th><th class="num">Cost</th></tr></thead><tbody>` +
      traces.traces
        .map(
          (t) =>
            `<tr><td><code title="${esc(t.trace_id)}">${esc(t.trace_id.slice(0, 12))}…</code></td><td>${esc(t.session_id)}</td><td>${esc(t.name)}</td><td>${esc(fmt.date(t.start))}</td><td class="num">${fmt.ms(t.duration_ms)}</td><td class="${t.status === 'error' ? 'err' : ''}">${esc(t.status)}</td><td class="num">${fmt.tokens(t.total_tokens)}</td><td class="num">${cost(t.cost_usd, t.estimated_cost_usd, t.unpriced_llm_calls)}</td></tr>`,
        )
        .join('') +
      `</tbody></table></div>`;
  app.innerHTML = html;
  document.getElementById('errors-only').addEventListener('click', () => {
    location.hash = self({ errors: errorsOnly ? '' : '1', session: '' });
  });
}
function miniTable(id, heads, rows) {
  if (!rows.length) return `<p class="muted">None recorded.</p>`;
  return `<table id="${id}"><thead><tr>${heads.map((h, i) => `<th class="${i ? 'num' : ''}">${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td class="${i ? 'num' : ''}">${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

// ---------- router ----------
// Renders can overlap (a click while the previous page still loads); each has a number, and only
// the newest writes the page and clears aria-busy, so a slow older response never replaces it.
let renderSeq = 0;
async function render() {
  const seq = ++renderSeq;
  const hash = location.hash;
  await pricesReady;
  const { path, params } = route();
  const m = path.match(/^\/users\/(.+)$/);
  document.getElementById('app').setAttribute('aria-busy', 'true');
  if (m) await renderUser(decodeURIComponent(m[1]), params);
  else await renderList(params);
  if (seq !== renderSeq) return;
  document.getElementById('app').setAttribute('aria-busy', 'false');
  document.body.dataset.ready = String(seq); // tests wait for it to change
  document.body.dataset.rendered = hash; // the URL state the page now shows
}
window.addEventListener('hashchange', render);
render();
