// Overview, nonconformity register and nonconformity detail.
import { get, post, query, ApiError } from './api.js';
import {
  h, clear, date, fmtTime, fmtNum, age, stageLabel, severityLabel, stateLabel, modelLabel,
  badge, download, fromInput,
} from './dom.js';
import { csvLine, unansweredText } from './text.js';
import { lineChart, seriesFrom } from './chart.js';
import { can } from './app.js';

export const ENDINGS = ['NONCONFORMITY_STAGE_CLOSED', 'NONCONFORMITY_STAGE_INVALID',
  'NONCONFORMITY_STAGE_RISK_ACCEPTED'];
export const isOpen = (nc) => !ENDINGS.includes(nc.stage);

// The objectives route comes with the workflow; an older collector lacks it.
export async function objectiveStates(params = {}) {
  try {
    return (await get(`/v1/objectives${query(params)}`)).states || [];
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

function table(headers, rows, attrs = {}) {
  return h('div', { class: 'table-wrap' }, h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'none')))));
}

function modelLink(m) {
  return h('a', { href: `#/model/${encodeURIComponent(m.name)}/${encodeURIComponent(m.version)}/${encodeURIComponent(m.environment)}` },
    modelLabel(m));
}

export function ncLink(nc) {
  return h('a', { href: `#/nc/${encodeURIComponent(nc.id)}` }, nc.title || nc.objective_id || nc.id);
}

// Fleet mode: an alert naming the collectors a page's listings lack.
function incomplete(...responses) {
  const text = unansweredText(...responses);
  return text ? h('p', { class: 'error', role: 'alert', id: 'incomplete' }, text) : null;
}

const AGE_BUCKETS = [['< 1 h', 3600e3], ['< 1 day', 86400e3], ['< 7 days', 7 * 86400e3], ['older', Infinity]];
const SEVERITIES = ['SEVERITY_CRITICAL', 'SEVERITY_WARNING', 'SEVERITY_INFO'];

export async function overviewPage(main) {
  const [models, agents, ncs, states] = await Promise.all([
    get('/v1/models'), get('/v1/agents'), get('/v1/nonconformities'), objectiveStates()]);
  const open = (ncs.nonconformities || []).filter(isOpen);
  const now = Date.now();
  const grid = SEVERITIES.map((sev) => {
    const mine = open.filter((n) => n.severity === sev);
    return h('tr', {}, h('th', {}, badge('sev', severityLabel(sev), severityLabel(sev))),
      AGE_BUCKETS.map(([, limit], i) => {
        const lower = i ? AGE_BUCKETS[i - 1][1] : 0;
        const n = mine.filter((x) => { const a = now - date(x.opened_at); return a >= lower && a < limit; }).length;
        return h('td', { class: n ? 'num strong' : 'num muted' }, n);
      }),
      h('td', { class: 'num' }, mine.length));
  });
  const byState = new Map();
  for (const st of states || []) byState.set(st.state, (byState.get(st.state) || 0) + 1);
  const list = agents.agents || [];
  const silent = list.filter((a) => !a.connected && !a.left_reason);
  const lost = list.reduce((sum, a) => sum + Number(a.gap_count || 0), 0);
  clear(main,
    h('h1', {}, 'Overview'),
    incomplete(models, agents, ncs),
    h('section', { class: 'cards' },
      h('div', { class: 'card stat', id: 'stat-open' }, h('div', { class: 'big' }, open.length), 'open nonconformities'),
      h('div', { class: 'card stat' }, h('div', { class: 'big' }, (models.models || []).length), 'models'),
      h('div', { class: `card stat ${silent.length ? 'warn' : ''}`, id: 'stat-silent' },
        h('div', { class: 'big' }, silent.length), 'silent agents'),
      h('div', { class: `card stat ${lost ? 'warn' : ''}`, id: 'stat-lost' },
        h('div', { class: 'big' }, lost), 'lost windows')),
    h('h2', {}, 'Open nonconformities by severity and age'),
    table(['severity', ...AGE_BUCKETS.map(([l]) => l), 'total'], grid, { id: 'open-by-age' }),
    h('h2', {}, 'Objectives by state'),
    states === null ? h('p', { class: 'muted' }, 'This collector does not serve objective states.')
      : h('div', { class: 'chips', id: 'objective-states' }, [...byState.entries()].sort().map(([st, n]) =>
        h('a', { href: `#/objectives?state=${st}` }, badge('state', stateLabel(st).replace(/ /g, '-'), `${stateLabel(st)}: ${n}`)))),
    h('h2', {}, 'Models'),
    table(['model', 'agents', 'events', 'last window'], (models.models || []).map((m) =>
      h('tr', {}, h('td', {}, modelLink(m.model)), h('td', { class: 'num' }, m.agent_count),
        h('td', { class: 'num' }, m.event_count), h('td', {}, fmtTime(m.last_window_end))))),
    h('h2', {}, 'Monitoring coverage'),
    table(['agent (pod)', 'model', 'connected', 'last seen', 'lost windows', 'left'], list.map((a) =>
      h('tr', { class: !a.connected && !a.left_reason ? 'row-warn' : '' },
        h('td', {}, (a.agent && (a.agent.pod || a.agent.agent_id)) || '—'), h('td', {}, modelLabel(a.model)),
        h('td', {}, a.connected ? 'yes' : 'no'), h('td', {}, fmtTime(a.last_seen)),
        h('td', { class: 'num' }, a.gap_count), h('td', {}, a.left_reason || '')))));
}

// --- register ---

const STAGES = ['OPEN', 'ACKNOWLEDGED', 'CAUSE_ANALYSED', 'ACTION_RECORDED', 'EFFECTIVENESS_REVIEWED',
  'CLOSED', 'INVALID', 'RISK_ACCEPTED'].map((x) => `NONCONFORMITY_STAGE_${x}`);

const COLUMNS = [
  ['opened', (n) => n.opened_at],
  ['severity', (n) => SEVERITIES.length - SEVERITIES.indexOf(n.severity)],
  ['stage', (n) => STAGES.indexOf(n.stage)],
  ['title', (n) => n.title || n.objective_id],
  ['model', (n) => modelLabel(n.model)],
  ['objective', (n) => n.objective_id],
  ['owner', (n) => n.owner],
  ['due', (n) => n.due_at || ''],
];

function select(id, label, options, value) {
  return h('label', {}, label, h('select', { id, name: id },
    h('option', { value: '' }, 'any'), options.map(([v, l]) => h('option', { value: v, selected: v === value }, l))));
}

export async function registerPage(main, route) {
  const p = route.params;
  const listed = await get('/v1/nonconformities');
  const all = listed.nonconformities || [];
  const models = [...new Set(all.map((n) => modelLabel(n.model)))].sort();
  const objectives = [...new Set(all.map((n) => n.objective_id))].sort();
  const owners = [...new Set(all.map((n) => n.owner).filter(Boolean))].sort();
  const from = fromInput(p.get('from') || '');
  const to = fromInput(p.get('to') || '');
  const rows = all.filter((n) =>
    (!p.get('model') || modelLabel(n.model) === p.get('model')) &&
    (!p.get('objective') || n.objective_id === p.get('objective')) &&
    (!p.get('stage') || (p.get('stage') === 'open' ? isOpen(n) : n.stage === p.get('stage'))) &&
    (!p.get('severity') || n.severity === p.get('severity')) &&
    (!p.get('owner') || n.owner === p.get('owner')) &&
    (!from || date(n.opened_at) >= from) && (!to || date(n.opened_at) <= to));
  const sort = p.get('sort') || 'opened';
  const desc = p.get('dir') !== 'asc';
  const key = (COLUMNS.find(([c]) => c === sort) || COLUMNS[0])[1];
  rows.sort((a, b) => { const x = key(a); const y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1); });
  const form = h('form', { id: 'filters', class: 'filters' },
    select('model', 'Model', models.map((m) => [m, m]), p.get('model')),
    select('objective', 'Objective', objectives.map((o) => [o, o]), p.get('objective')),
    select('stage', 'Stage', [['open', 'not ended'], ...STAGES.map((s) => [s, stageLabel(s)])], p.get('stage')),
    select('severity', 'Severity', SEVERITIES.map((s) => [s, severityLabel(s)]), p.get('severity')),
    select('owner', 'Owner', owners.map((o) => [o, o]), p.get('owner')),
    h('label', {}, 'Opened from', h('input', { type: 'datetime-local', name: 'from', value: p.get('from') || '' })),
    h('label', {}, 'to', h('input', { type: 'datetime-local', name: 'to', value: p.get('to') || '' })),
    h('button', { type: 'submit' }, 'Filter'),
    h('button', { type: 'button', id: 'export-csv', onclick: () => exportCsv(rows) }, 'Export CSV'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    if (p.get('sort')) q.set('sort', p.get('sort'));
    if (p.get('dir')) q.set('dir', p.get('dir'));
    location.hash = `#/register?${q}`;
  });
  const head = COLUMNS.map(([c]) => {
    const q = new URLSearchParams(p);
    q.set('sort', c);
    q.set('dir', c === sort && desc ? 'asc' : 'desc');
    return h('th', {}, h('a', { href: `#/register?${q}`, class: c === sort ? 'sorted' : '' },
      c, c === sort ? (desc ? ' ▼' : ' ▲') : ''));
  });
  const now = new Date();
  clear(main, h('h1', {}, 'Nonconformities'), incomplete(listed), form,
    h('p', { class: 'muted', id: 'register-count' }, `${rows.length} of ${all.length} nonconformities`),
    h('div', { class: 'table-wrap' }, h('table', { id: 'register' }, h('thead', {}, h('tr', {}, head)),
      h('tbody', {}, rows.map((n) => h('tr', { 'data-id': n.id },
        h('td', {}, fmtTime(n.opened_at), h('div', { class: 'muted small' }, age(n.opened_at, now))),
        h('td', {}, badge('sev', severityLabel(n.severity), severityLabel(n.severity))),
        h('td', {}, badge('stage', stageLabel(n.stage).replace(/ /g, '-'), stageLabel(n.stage))),
        h('td', {}, ncLink(n)), h('td', {}, modelLabel(n.model)), h('td', {}, n.objective_id),
        h('td', {}, n.owner || '—'),
        h('td', { class: isOpen(n) && date(n.due_at) && date(n.due_at) < now ? 'overdue' : '' }, fmtTime(n.due_at))))))));
}

function exportCsv(rows) {
  const lines = [csvLine(['id', 'opened_at', 'severity', 'stage', 'title', 'model', 'version', 'environment',
    'objective', 'owner', 'due_at', 'ticket_url', 'metric', 'value', 'threshold'])];
  for (const n of rows) {
    const v = (n.evidence && n.evidence.value) || {};
    lines.push(csvLine([n.id, n.opened_at, severityLabel(n.severity), stageLabel(n.stage), n.title,
      n.model && n.model.name, n.model && n.model.version, n.model && n.model.environment, n.objective_id,
      n.owner, date(n.due_at) ? n.due_at : '', n.ticket_url, v.metric, v.value, n.evidence && n.evidence.threshold]));
  }
  download('nonconformities.csv', `${lines.join('\r\n')}\r\n`);
}

// --- detail ---

const STEPS = [
  ['ACKNOWLEDGED', 'Acknowledge', 'What was done to contain it?'],
  ['CAUSE_ANALYSED', 'Analyse cause', 'What caused it?'],
  ['ACTION_RECORDED', 'Record action', 'Which corrective action was taken?'],
  ['EFFECTIVENESS_REVIEWED', 'Review effectiveness', 'Did the action work? On what evidence?'],
  ['CLOSED', 'Close', 'Closing remark'],
  ['INVALID', 'Mark invalid', 'Why is this not a real breach?'],
];

async function evidenceChart(nc) {
  const ev = nc.evidence || {};
  const v = ev.value || {};
  const ws = date(ev.window_start);
  const we = date(ev.window_end);
  if (!v.metric || !ws || !we || !nc.model) return h('p', { class: 'muted' }, 'No evidence window recorded.');
  // Context: at least ten minutes either side, one point per quarter window
  // (at least 5 s), so the breach reads as part of a series.
  const span = Math.max(we - ws, 600e3 / 6);
  const from = new Date(ws.getTime() - 6 * span);
  const to = new Date(Math.min(Date.now(), we.getTime() + 6 * span));
  const step = `${Math.max(5, Math.round((we - ws) / 4000))}s`;
  const m = nc.model;
  const data = await get(`/v1/metrics${query({ name: m.name, version: m.version, environment: m.environment,
    from: from.toISOString(), to: to.toISOString(), step, metric: v.metric })}`);
  // A young collector has no data that far back: begin where the data does.
  const starts = (data.points || []).map((pt) => new Date(pt.start).getTime());
  if (starts.length) from.setTime(Math.max(from.getTime(), Math.min(...starts) - (we - ws)));
  const series = seriesFrom(data.points, v.metric, (x) =>
    (x.feature || '') === (v.feature || '') && (x.attribute || '') === (v.attribute || '') &&
    (!v.group || x.group === v.group));
  // Sequential decisions judged `steps` windows of this length up to the
  // breach; interval and point decisions judged the evidence window.
  const win = Math.max(we - ws, 1e3);
  const judged = [];
  const n = ev.decision === 'sequential' ? Math.max(1, Number(ev.steps || 1)) : 1;
  for (let i = 0; i < n && we.getTime() - (i + 1) * win >= from.getTime() - win; i++) {
    judged.push({ from: new Date(ws.getTime() - i * win), to: new Date(we.getTime() - i * win) });
  }
  return lineChart({ title: `${v.metric}${v.feature ? ` of ${v.feature}` : ''}${v.group ? ` for ${v.attribute}=${v.group}` : ''} around the breach (${ev.comparator || ''} ${fmtNum(ev.threshold)} required)`,
    series, threshold: ev.threshold, windows: judged, from, to });
}

function actions(nc, rerender) {
  const comment = h('textarea', { id: 'comment', rows: 3, placeholder: 'Comment (recorded in the audit trail)' });
  const out = h('div', { id: 'action-result', role: 'alert' });
  const run = async (path, body, done) => {
    out.className = 'muted';
    out.textContent = 'Sending…';
    try {
      const updated = await post(`/v1/nonconformities/${encodeURIComponent(nc.id)}/${path}`, body);
      await rerender(updated, done);
    } catch (e) {
      out.className = 'error';
      out.textContent = `Refused: ${e.message}`;
    }
  };
  const step = ([to, label, hint]) => h('button', {
    class: `step ${to === 'INVALID' ? 'danger' : ''}`, id: `do-${to.toLowerCase()}`, title: hint,
    onclick: () => run('transition', { to: `NONCONFORMITY_STAGE_${to}`, comment: comment.value },
      `${label}: done.`),
  }, label);
  const until = h('input', { type: 'date', id: 'accept-until' });
  const owner = h('input', { id: 'owner', placeholder: 'new owner', value: nc.owner || '' });
  const due = h('input', { type: 'date', id: 'due', value: date(nc.due_at) ? nc.due_at.slice(0, 10) : '' });
  const ticket = h('input', { id: 'ticket', type: 'url', placeholder: 'https://…', value: nc.ticket_url || '' });
  const update = (body, done) => run('update', Object.assign({ comment: comment.value }, body), done);
  return h('section', { class: 'card actions' },
    h('h2', {}, 'Clause 10.2 actions'),
    can('work') ? null : h('p', { class: 'notice' }, 'Your role may not work nonconformities; the collector will refuse these actions.'),
    comment,
    h('div', { class: 'buttons' }, STEPS.map(step)),
    h('div', { class: 'inline-form' },
      h('label', {}, 'Accept the risk until ', until),
      h('button', { id: 'do-risk_accepted', onclick: () => run('transition', {
        to: 'NONCONFORMITY_STAGE_RISK_ACCEPTED', comment: comment.value,
        acceptedUntil: until.value ? `${until.value}T23:59:59Z` : undefined }, 'Risk accepted.') }, 'Accept risk'),
      can('accept-risk') ? null : h('span', { class: 'muted small' }, 'needs the risk_owner or admin role')),
    h('div', { class: 'inline-form' },
      h('label', {}, 'Owner ', owner), h('button', { id: 'do-owner', onclick: () => update({ owner: owner.value }, 'Owner set.') }, 'Reassign'),
      h('label', {}, 'Due ', due), h('button', { id: 'do-due', onclick: () => update({ dueAt: due.value ? `${due.value}T23:59:59Z` : undefined }, 'Due date set.') }, 'Set due date'),
      h('label', {}, 'Ticket ', ticket), h('button', { id: 'do-ticket', onclick: () => update({ ticketUrl: ticket.value }, 'Ticket linked.') }, 'Link ticket')),
    out);
}

export async function detailPage(main, route, notice) {
  const nc = await get(`/v1/nonconformities/${encodeURIComponent(route.args[0] || '')}`);
  const ev = nc.evidence || {};
  const v = ev.value || {};
  // Busy while redrawn (the evidence chart loads last and moves what is
  // below it), as draw() marks a page it draws.
  const rerender = async (updated, done) => {
    main.setAttribute('aria-busy', 'true');
    try {
      await detailPage(main, route, done);
    } finally {
      main.removeAttribute('aria-busy');
    }
  };
  const chart = h('div', { id: 'evidence-chart' }, h('p', { class: 'muted' }, 'Loading the evidence…'));
  const ticket = nc.ticket_url && /^https?:\/\//.test(nc.ticket_url)
    ? h('a', { href: nc.ticket_url, rel: 'noopener noreferrer', target: '_blank' }, nc.ticket_url) : (nc.ticket_url || '—');
  clear(main,
    h('p', {}, h('a', { href: '#/register' }, '← Nonconformities')),
    h('h1', { id: 'nc-title' }, nc.title || nc.objective_id),
    notice ? h('p', { class: 'notice', id: 'action-notice', role: 'status' }, notice) : null,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Stage'), h('dd', { id: 'nc-stage' }, badge('stage', stageLabel(nc.stage).replace(/ /g, '-'), stageLabel(nc.stage))),
      h('dt', {}, 'Severity'), h('dd', {}, badge('sev', severityLabel(nc.severity), severityLabel(nc.severity))),
      h('dt', {}, 'Model'), h('dd', {}, modelLabel(nc.model)),
      h('dt', {}, 'Objective'), h('dd', {}, h('a', { id: 'nc-objective', href: `#/objective/${encodeURIComponent(nc.objective_id)}${nc.series ? `?series=${encodeURIComponent(nc.series)}` : ''}` }, nc.objective_id), nc.plan_version ? ` (plan ${nc.plan_version.slice(0, 12)})` : ''),
      h('dt', {}, 'Opened'), h('dd', {}, `${fmtTime(nc.opened_at)} (${age(nc.opened_at)} ago)`),
      h('dt', {}, 'Owner'), h('dd', { id: 'nc-owner' }, nc.owner || '—'),
      h('dt', {}, 'Due'), h('dd', { id: 'nc-due' }, fmtTime(nc.due_at)),
      h('dt', {}, 'Ticket'), h('dd', { id: 'nc-ticket' }, ticket),
      nc.risk_accepted_until ? [h('dt', {}, 'Risk accepted until'), h('dd', { id: 'nc-risk' }, `${fmtTime(nc.risk_accepted_until)} by ${nc.risk_accepted_by || '—'}`)] : null,
      (nc.features || []).length ? [h('dt', {}, 'Features'), h('dd', {}, nc.features.join(', '))] : null,
      h('dt', {}, 'ISO/IEC 42001'), h('dd', {}, (nc.iso_references || []).join(', ') || '—'),
      h('dt', {}, 'Occurrences'), h('dd', {}, nc.occurrences || 1)),
    h('section', { class: 'card' }, h('h2', {}, 'Evidence'),
      h('p', { id: 'evidence-text' }, `${v.metric || '?'}${v.feature ? ` (${v.feature})` : ''}${v.group ? ` for ${v.attribute} = ${v.group}` : ''} was ${fmtNum(v.value)}`,
        isFinite(v.ci_low) && v.ci_high > v.ci_low ? ` (interval ${fmtNum(v.ci_low)} to ${fmtNum(v.ci_high)})` : '',
        `; the objective requires ${ev.comparator || ''} ${fmtNum(ev.threshold)}. Judged on ${v.sample_size || 0} events between ${fmtTime(ev.window_start)} and ${fmtTime(ev.window_end)}.`),
      chart,
      h('p', { class: 'small' }, 'Reports: ', (ev.report_ids || []).length ? h('code', { id: 'report-ids' }, ev.report_ids.join(', ')) : '—')),
    actions(nc, rerender),
    h('section', { class: 'card' }, h('h2', {}, 'History'),
      table(['when', 'who', 'from', 'to', 'comment'], (nc.history || []).map((t) => h('tr', {},
        h('td', { class: 'nowrap' }, fmtTime(t.at)), h('td', { class: 'nowrap' }, t.actor),
        h('td', { class: 'nowrap' }, stageLabel(t.from)), h('td', { class: 'nowrap' }, stageLabel(t.to)),
        h('td', {}, [t.comment, t.change ? h('div', { class: 'muted small' }, t.change) : null]))), { id: 'history' })));
  try {
    chart.replaceWith(await evidenceChart(nc));
  } catch (e) {
    clear(chart, h('p', { class: 'error' }, `Evidence chart: ${e.message}`));
  }
}

export { table, modelLink };
