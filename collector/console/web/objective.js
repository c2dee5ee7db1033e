// The objective page: one objective's series, each series' metric over a
// chosen period with its threshold (dashed), interval band and the periods
// it was firing, and the state history from the audit trail.
import { get, query } from './api.js';
import { h, clear, date, fmtTime, fmtNum, stateLabel, modelLabel, badge, toInput, fromInput } from './dom.js';
import { lineChart, seriesFrom } from './chart.js';
import { objectiveStates, table } from './pages.js';

// The audit trail's objective_state records of one objective, oldest first.
// The trail is read in pages of 10000; a very long trail is read up to 5.
async function stateHistory(objective) {
  const out = [];
  let from = 0;
  for (let page = 0; page < 5; page++) {
    const records = (await get(`/v1/audit${query({ from_index: from, limit: 10000 })}`)).records || [];
    for (const r of records) {
      if (r.kind !== 'objective_state') continue;
      let body;
      try { body = JSON.parse(r.body); } catch (e) { continue; }
      if (body.objective === objective) out.push(Object.assign({ at: r.at, actor: r.actor, index: r.index }, body));
    }
    if (records.length < 10000) break;
    from = Number(records[records.length - 1].index) + 1;
  }
  return out;
}

// "< 0.4" -> 0.4 (the audit record keeps comparator and threshold as text).
function thresholdOf(records) {
  for (let i = records.length - 1; i >= 0; i--) {
    const m = /(-?[\d.eE+-]+)\s*$/.exec(records[i].threshold || '');
    if (m && isFinite(Number(m[1]))) return { value: Number(m[1]), text: records[i].threshold };
  }
  return null;
}

// Periods the series was firing, from its state changes.
function firingWindows(records, end) {
  const out = [];
  let since = null;
  for (const r of records) {
    if (r.to === 'OBJECTIVE_STATE_FIRING' && !since) since = date(r.at);
    else if (r.to !== 'OBJECTIVE_STATE_FIRING' && since) {
      out.push({ from: since, to: date(r.at), label: 'firing' });
      since = null;
    }
  }
  if (since) out.push({ from: since, to: end, label: 'firing' });
  return out;
}

const seriesLabel = (st) => [st.feature, st.attribute && (st.group ? `${st.attribute}=${st.group}` : st.attribute)].filter(Boolean).join(' ') || 'whole model';

export async function objectivePage(main, route) {
  const id = route.args[0] || '';
  const p = route.params;
  const to = fromInput(p.get('to') || '') || new Date();
  const from = fromInput(p.get('from') || '') || new Date(to.getTime() - 3600e3);
  const states = (await objectiveStates({ objective: id })) || [];
  const history = await stateHistory(id).catch(() => []);
  const base = `#/objective/${encodeURIComponent(id)}`;
  const chosen = p.get('series');
  const shown = states.filter((st) => !chosen || st.series === chosen);
  // About 120 points per chart.
  const fetchAll = async () => {
    const step = `${Math.max(5, Math.round((to - from) / 1000 / 120))}s`;
    const out = [];
    for (const st of shown) {
      const m = st.model || {};
      const metric = (st.last_value && st.last_value.metric) || '';
      out.push(metric ? await get(`/v1/metrics${query({ name: m.name, version: m.version, environment: m.environment,
        from: from.toISOString(), to: to.toISOString(), step, metric })}`) : null);
    }
    return out;
  };
  let fetched = await fetchAll();
  // Without a chosen start, the charts begin where the data does (read
  // again in finer steps when that is much later).
  const starts = fetched.flatMap((d) => ((d && d.points) || []).map((pt) => new Date(pt.start).getTime()));
  if (!p.get('from') && starts.length) {
    const first = Math.min(...starts) - 60e3;
    if (first > from.getTime() + (to - from) / 2) {
      from.setTime(first);
      fetched = await fetchAll();
    } else {
      from.setTime(Math.max(from.getTime(), first));
    }
  }
  const charts = [];
  for (const [i, st] of shown.entries()) {
    const m = st.model || {};
    const metric = (st.last_value && st.last_value.metric) || '';
    const own = history.filter((r) => r.series === st.series);
    const thr = thresholdOf(own.length ? own : history);
    if (!metric) {
      charts.push(h('p', { class: 'muted' }, `${seriesLabel(st)}: not evaluated yet.`));
      continue;
    }
    const series = seriesFrom(fetched[i].points, metric, (v) => (v.feature || '') === (st.feature || '') &&
      (v.attribute || '') === (st.attribute || '') && (!st.group || v.group === st.group));
    charts.push(lineChart({ title: `${metric} · ${seriesLabel(st)} · ${modelLabel(m)}${thr ? ` (must be ${thr.text})` : ''}`,
      series, threshold: thr ? thr.value : undefined, windows: firingWindows(own, to), from, to }));
  }
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
  const seriesLink = (st) => {
    const q = new URLSearchParams(p);
    q.set('series', st.series);
    return h('a', { href: `${base}?${q}` }, seriesLabel(st));
  };
  clear(main, h('p', {}, h('a', { href: '#/objectives' }, '← Objectives')),
    h('h1', { id: 'objective-title' }, `Objective ${id}`),
    chosen ? h('p', {}, `Series ${chosen} · `, h('a', { href: base }, 'all series')) : null,
    states.length ? null : h('p', { class: 'muted' }, 'No series of this objective is evaluated.'),
    table(['series', 'model', 'state', 'last value', 'since', 'nonconformity'], states.map((st) => h('tr', {},
      h('td', {}, seriesLink(st)), h('td', {}, modelLabel(st.model)),
      h('td', {}, badge('state', stateLabel(st.state).replace(/ /g, '-'), stateLabel(st.state))),
      h('td', { class: 'num' }, st.last_value ? fmtNum(st.last_value.value) : '—'),
      h('td', {}, fmtTime(st.active_since)),
      h('td', {}, st.nonconformity_id ? h('a', { href: `#/nc/${encodeURIComponent(st.nonconformity_id)}` }, st.nonconformity_id) : ''))),
    { id: 'objective-series' }),
    form, h('div', { id: 'objective-charts' }, charts),
    h('section', { class: 'card' }, h('h2', {}, 'State history'),
      history.length ? table(['when', 'series', 'from', 'to', 'value', 'threshold', 'why'],
        history.filter((r) => !chosen || r.series === chosen).slice().reverse().map((r) => h('tr', {},
          h('td', { class: 'nowrap' }, fmtTime(r.at)), h('td', {}, r.series || ''),
          h('td', {}, stateLabel(r.from)), h('td', {}, stateLabel(r.to)),
          h('td', { class: 'num' }, r.value !== undefined ? fmtNum(Number(r.value)) : '—'),
          h('td', {}, r.threshold || ''), h('td', {}, r.reason || r.decision || ''))), { id: 'state-history' })
        : h('p', { class: 'muted', id: 'state-history' }, 'No state changes on record.')));
}
