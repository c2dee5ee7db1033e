// Objectives, models (metric charts, drift per feature, fairness per group),
// audit trail, monitoring plan and reports.
import { get, query } from './api.js';
import {
  h, clear, date, fmtTime, fmtNum, stateLabel, modelLabel, badge, toInput, fromInput,
} from './dom.js';
import { lineChart, intervalChart, seriesFrom, seriesKey } from './chart.js';
import { objectiveStates, table, modelLink } from './pages.js';
import { diffLines } from './text.js';
import { can } from './app.js';

function period(p, hours = 1) {
  const to = fromInput(p.get('to') || '') || new Date();
  const from = fromInput(p.get('from') || '') || new Date(to.getTime() - hours * 3600e3);
  return { from, to };
}

// A period chooser that rewrites the hash with from/to.
function periodForm(base, p, { from, to }) {
  const f = h('input', { type: 'datetime-local', name: 'from', value: toInput(from) });
  const t = h('input', { type: 'datetime-local', name: 'to', value: toInput(to) });
  const form = h('form', { class: 'filters', id: 'period' }, h('label', {}, 'From (UTC)', f),
    h('label', {}, 'to', t), h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams(p);
    for (const [k, v] of new FormData(form)) q.set(k, v);
    location.hash = `${base}?${q}`;
  });
  return form;
}

function stepFor({ from, to }) {
  return `${Math.max(10, Math.round((to - from) / 1000 / 60))}s`;
}

export async function objectivesPage(main, route) {
  const states = await objectiveStates();
  if (states === null) {
    clear(main, h('h1', {}, 'Objectives'), h('p', { class: 'muted' }, 'This collector does not serve objective states.'));
    return;
  }
  const want = route.params.get('state');
  const rows = states.filter((s) => !want || s.state === want);
  clear(main, h('h1', {}, 'Objectives'),
    want ? h('p', {}, `State ${stateLabel(want)} · `, h('a', { href: '#/objectives' }, 'all')) : null,
    table(['objective', 'model', 'series', 'state', 'last value', 'since', 'nonconformity'], rows.map((s) => {
      const m = s.model || {};
      const metric = (s.last_value && s.last_value.metric) || '';
      return h('tr', {},
        h('td', {}, h('a', { href: `#/objective/${encodeURIComponent(s.objective_id)}?series=${encodeURIComponent(s.series || '')}` }, s.objective_id)),
        h('td', {}, h('a', { href: `#/model/${encodeURIComponent(m.name)}/${encodeURIComponent(m.version)}/${encodeURIComponent(m.environment)}?metric=${encodeURIComponent(metric)}` }, modelLabel(m))),
        h('td', {}, [s.feature, s.attribute && `${s.attribute}=${s.group}`].filter(Boolean).join(' ') || '—'),
        h('td', {}, badge('state', stateLabel(s.state).replace(/ /g, '-'), stateLabel(s.state))),
        h('td', { class: 'num' }, s.last_value ? `${metric} ${fmtNum(s.last_value.value)}` : '—'),
        h('td', {}, fmtTime(s.active_since)),
        h('td', {}, s.nonconformity_id ? h('a', { href: `#/nc/${encodeURIComponent(s.nonconformity_id)}` }, 'open') : ''));
    }), { id: 'objectives' }));
}

export async function modelsPage(main) {
  const models = (await get('/v1/models')).models || [];
  clear(main, h('h1', {}, 'Models'),
    table(['model', 'agents', 'reports', 'events', 'first seen', 'last window'], models.map((m) => h('tr', {},
      h('td', {}, modelLink(m.model)), h('td', { class: 'num' }, m.agent_count), h('td', { class: 'num' }, m.report_count),
      h('td', { class: 'num' }, m.event_count), h('td', {}, fmtTime(m.first_seen)), h('td', {}, fmtTime(m.last_window_end))))));
}

const FAIRNESS = /^(selection_rate|demographic_parity_ratio|equal_opportunity_difference)$/;
const DRIFT = /psi|drift|wasserstein|ks|js/;

export async function modelPage(main, route) {
  const [name, version, environment] = route.args;
  const p = route.params;
  const range = period(p);
  const data = await get(`/v1/metrics${query({ name, version, environment, from: range.from.toISOString(),
    to: range.to.toISOString(), step: stepFor(range) })}`);
  const points = data.points || [];
  // Without a chosen start, the charts begin where the data does.
  if (!p.get('from') && points.length) {
    const first = Math.min(...points.map((pt) => new Date(pt.start).getTime()));
    range.from = new Date(Math.max(range.from.getTime(), first - 60e3));
  }
  const metrics = new Map();
  for (const pt of points) {
    for (const v of pt.values || []) {
      const kind = v.feature ? 'feature' : v.attribute ? 'group' : 'model';
      if (!metrics.has(v.metric)) metrics.set(v.metric, kind);
    }
  }
  const chosen = p.get('metric');
  const base = `#/model/${route.args.map(encodeURIComponent).join('/')}`;
  const names = [...metrics.keys()].sort();
  const picker = h('div', { class: 'chips' }, names.map((m) => {
    const q = new URLSearchParams(p);
    q.set('metric', m);
    return h('a', { href: `${base}?${q}`, class: m === chosen ? 'chip active' : 'chip' }, m);
  }));
  const charts = [];
  const show = chosen && metrics.has(chosen) ? [chosen] : names.filter((m) => metrics.get(m) === 'model').slice(0, 6);
  for (const m of show) {
    charts.push(lineChart({ title: m, series: seriesFrom(points, m), from: range.from, to: range.to }));
  }
  // Drift per feature and fairness per group: the latest value with its
  // interval, one row per feature or group.
  const latest = (re, kind) => {
    const out = new Map();
    for (const pt of points) {
      for (const v of pt.values || []) {
        if (!re.test(v.metric) || !(kind === 'feature' ? v.feature : v.attribute)) continue;
        if (v.state && v.state !== 'EVIDENCE_STATE_OK') continue;
        const key = `${v.metric} ${seriesKey(v)}`;
        const label = kind === 'feature' || seriesKey(v).includes('·') ? key : `${v.metric} ${v.attribute} (${v.group})`;
        out.set(key, { label, v: v.value, lo: v.ci_low, hi: v.ci_high });
      }
    }
    return [...out.values()];
  };
  const drift = latest(DRIFT, 'feature');
  const fairness = latest(FAIRNESS, 'group');
  clear(main, h('p', {}, h('a', { href: '#/models' }, '← Models')),
    h('h1', {}, `${name} ${version} (${environment})`), periodForm(base, p, range),
    h('h2', {}, 'Metrics'), picker,
    h('div', { id: 'model-charts' }, charts.length ? charts : h('p', { class: 'muted' }, 'No metrics in this period.')),
    h('h2', {}, 'Drift per feature (latest in the period)'),
    drift.length ? intervalChart({ title: 'drift by feature', items: drift }) : h('p', { class: 'muted' }, 'No drift metrics in this period.'),
    h('h2', {}, 'Fairness per group with intervals (latest in the period)'),
    fairness.length ? intervalChart({ title: 'fairness by group', items: fairness }) : h('p', { class: 'muted' }, 'No fairness metrics in this period.'));
}

export async function auditPage(main, route) {
  const p = route.params;
  const from = Number(p.get('from_index') || 0);
  const limit = 200;
  // In a fleet each collector keeps its own trail: `collector` picks one.
  const member = p.get('collector') || '';
  const data = await get(`/v1/audit${query({ from_index: from, limit, collector: member })}`);
  const records = data.records || [];
  const members = data.collectors || [];
  const actor = p.get('actor') || '';
  const kind = p.get('kind') || '';
  const text = (p.get('text') || '').toLowerCase();
  const rows = records.filter((r) => (!actor || r.actor === actor) && (!kind || r.kind === kind) &&
    (!text || (r.body || '').toLowerCase().includes(text)));
  const result = h('div', { id: 'verify-result', role: 'status' });
  const verify = h('button', { id: 'verify', class: 'primary', onclick: async () => {
    result.className = 'muted';
    result.textContent = 'Checking the hash chain…';
    try {
      const v = await get('/v1/audit/verify');
      const line = (a, who) => (a.intact ? `Audit trail${who} intact: ${a.records_checked || 0} records checked.`
        : `Audit trail${who} BROKEN at record ${a.first_broken_index || 0}: ${a.detail}`);
      const fleet = v.fleet || [];
      if (!fleet.length) {
        result.className = v.intact ? 'ok' : 'error';
        result.textContent = line(v, '');
        return;
      }
      const good = fleet.every((c) => c.answered && c.audit && c.audit.intact);
      result.className = good ? 'ok' : 'error';
      clear(result, h('ul', {}, fleet.map((c) => h('li', {}, c.answered ? line(c.audit || {}, ` of ${c.address}`)
        : `Audit trail of ${c.address} NOT VERIFIED: ${c.error}`))));
    } catch (e) {
      result.className = 'error';
      result.textContent = e.message;
    }
  } }, 'Verify the hash chain');
  const form = h('form', { class: 'filters', id: 'audit-filters' },
    members.length > 1 ? h('label', {}, 'Collector', h('select', { name: 'collector' },
      members.map((m) => h('option', { value: m, selected: m === data.collector }, m)))) : null,
    h('label', {}, 'Actor', h('select', { name: 'actor' }, h('option', { value: '' }, 'any'),
      [...new Set(records.map((r) => r.actor))].sort().map((a) => h('option', { value: a, selected: a === actor }, a)))),
    h('label', {}, 'Kind', h('select', { name: 'kind' }, h('option', { value: '' }, 'any'),
      [...new Set(records.map((r) => r.kind))].sort().map((k) => h('option', { value: k, selected: k === kind }, k)))),
    h('label', {}, 'Text', h('input', { name: 'text', value: p.get('text') || '' })),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.hash = `#/audit?${q}`;
  });
  const more = records.length === limit
    ? h('a', { href: `#/audit${query({ from_index: Number(records[records.length - 1].index) + 1, collector: member })}` },
      'Next records →') : null;
  clear(main, h('h1', {}, data.collector ? `Audit trail of ${data.collector}` : 'Audit trail'), h('div', { class: 'inline-form' }, verify, result), form,
    table(['#', 'when', 'actor', 'kind', 'what'], rows.map((r) => h('tr', {},
      h('td', { class: 'num' }, r.index), h('td', {}, fmtTime(r.at)), h('td', {}, r.actor), h('td', {}, r.kind),
      h('td', { class: 'body' }, h('code', {}, r.body)))), { id: 'audit' }), more);
}

export async function planPage(main, route) {
  const versions = (await get('/v1/plans')).versions || [];
  if (!versions.length) {
    clear(main, h('h1', {}, 'Monitoring plan'), h('p', { class: 'muted' }, 'No monitoring plan has been loaded.'));
    return;
  }
  const p = route.params;
  const inForce = versions.find((v) => v.in_force) || versions[0];
  const a = versions.find((v) => v.version === p.get('a')) || versions[1] || versions[0];
  const b = versions.find((v) => v.version === p.get('b')) || inForce;
  const pick = (name, chosen) => h('select', { name }, versions.map((v) =>
    h('option', { value: v.version, selected: v.version === chosen.version }, `${v.version} (${fmtTime(v.loaded_at)})`)));
  const form = h('form', { class: 'filters', id: 'plan-diff' }, h('label', {}, 'Compare', pick('a', a)),
    h('label', {}, 'with', pick('b', b)), h('button', { type: 'submit' }, 'Diff'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/plan?${new URLSearchParams(new FormData(form))}`;
  });
  const diff = diffLines(a.text || '', b.text || '');
  clear(main, h('h1', {}, 'Monitoring plan'),
    h('p', { id: 'plan-in-force' }, 'In force: ', h('strong', {}, inForce.version),
      `, loaded ${fmtTime(inForce.loaded_at)} by ${inForce.actor || '—'} from ${inForce.source || '—'}; ${inForce.objectives} objectives.`),
    table(['version', 'loaded', 'by', 'objectives', ''], versions.map((v) => h('tr', {},
      h('td', {}, v.version), h('td', {}, fmtTime(v.loaded_at)), h('td', {}, v.actor || '—'),
      h('td', { class: 'num' }, v.objectives), h('td', {}, v.in_force ? badge('state', 'resolved', 'in force') : ''))), { id: 'plan-versions' }),
    h('h2', {}, 'Diff'), form,
    h('pre', { class: 'diff', id: 'diff' }, diff.map(([op, line]) =>
      h('span', { class: op === '+' ? 'add' : op === '-' ? 'del' : 'same' }, `${op} ${line}\n`))),
    h('h2', {}, `Plan ${inForce.version}`), h('pre', { class: 'plan' }, inForce.text || ''));
}

export async function reportsPage(main, route) {
  const p = route.params;
  const range = period(p, 24 * 30);
  const models = (await get('/v1/models')).models || [];
  const model = p.get('model') || '';
  const form = periodForm('#/reports', p, range);
  const sel = h('select', { name: 'model', id: 'report-model' }, h('option', { value: '' }, 'all models'),
    models.map((m) => h('option', { value: m.model.name, selected: m.model.name === model }, modelLabel(m.model))));
  const table = p.get('table') || 'results';
  const tables = h('select', { name: 'table', id: 'report-table' }, ['results', 'objectives', 'trend', 'open',
    'nonconformities', 'plan', 'summary'].map((t) => h('option', { value: t, selected: t === table }, t)));
  form.prepend(h('label', {}, 'Model', sel));
  form.insertBefore(h('label', {}, 'CSV table', tables), form.querySelector('button'));
  const params = (format) => query({ format, name: model, from: range.from.toISOString(), to: range.to.toISOString(),
    table: format === 'csv' ? table : '' });
  clear(main, h('h1', {}, 'Compliance reports'),
    can('report') ? null : h('p', { class: 'notice' }, 'Your role may not get compliance reports; the collector will refuse them.'),
    h('p', {}, 'Choose a period, then open the report (ISO/IEC 42001 clauses 9.1, 9.3 and 10.2) or download it.'),
    form,
    h('div', { class: 'buttons' },
      h('a', { class: 'button primary', id: 'report-html', href: `/v1/report${params('html')}`, target: '_blank', rel: 'noopener' }, 'Open the HTML report'),
      h('a', { class: 'button', id: 'report-csv', href: `/v1/report${params('csv')}`, download: `aims-report-${table}.csv` }, `Download CSV (${table})`),
      h('a', { class: 'button', id: 'report-json', href: `/v1/report${params('json')}`, download: 'aims-report.json' }, 'Download JSON')));
}

export { date };
