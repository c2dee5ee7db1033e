// Small DOM helpers: elements built from data with textContent only (never
// innerHTML), so nothing a model, agent or person wrote can run as script.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Timestamps as the collector prints them (RFC 3339) -> Date, or null for
// the zero time.
export function date(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  return isNaN(d) || d.getTime() <= 0 ? null : d;
}

export function fmtTime(ts) {
  const d = ts instanceof Date ? ts : date(ts);
  if (!d) return '—';
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function fmtNum(v, digits = 3) {
  if (v === undefined || v === null || !isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toFixed(digits)).toString();
}

export function age(ts, now = new Date()) {
  const d = date(ts);
  if (!d) return '—';
  let s = Math.max(0, (now - d) / 1000);
  if (s < 120) return `${Math.round(s)} s`;
  s /= 60;
  if (s < 120) return `${Math.round(s)} min`;
  s /= 60;
  if (s < 48) return `${Math.round(s)} h`;
  return `${Math.round(s / 24)} d`;
}

// "NONCONFORMITY_STAGE_CAUSE_ANALYSED" -> "cause analysed".
export function enumLabel(v, prefix) {
  if (!v) return '—';
  return String(v).replace(prefix, '').toLowerCase().replace(/_/g, ' ');
}

export const stageLabel = (v) => enumLabel(v, 'NONCONFORMITY_STAGE_');
export const severityLabel = (v) => enumLabel(v, 'SEVERITY_');
export const stateLabel = (v) => enumLabel(v, 'OBJECTIVE_STATE_');

export function modelLabel(m) {
  if (!m) return '—';
  return `${m.name} ${m.version} (${m.environment})`;
}

// A value/label pair as a badge whose colour comes from the style sheet.
export function badge(kind, value, label) {
  return h('span', { class: `badge ${kind}-${String(value).toLowerCase()}` }, label);
}

// Downloads `text` as a file named `name`.
export function download(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A "datetime-local" input's value for `d` in UTC and back.
export function toInput(d) { return d.toISOString().slice(0, 16); }
export function fromInput(v) { return v ? new Date(`${v}:00Z`) : null; }
