// The console's charts, drawn as SVG by hand: no charting library, so no
// third-party code in the binary and nothing to fetch (docs/console.md).
//
// lineChart: metric values over time, each series a line with its interval
// band; optional threshold line and shaded windows (the windows judged).
// intervalChart: one value per category with its interval (fairness per
// group, drift per feature), with an optional threshold.
import { s, h, fmtNum, fmtTime } from './dom.js';

const W = 760;
const H = 230;
const M = { left: 56, right: 16, top: 16, bottom: 34 };

function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v === undefined || v === null || !isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 0.5 * (Math.abs(lo) || 1), hi + 0.5 * (Math.abs(hi) || 1)];
  const pad = (hi - lo) * 0.08;
  return [lo - pad, hi + pad];
}

function ticks(lo, hi, n = 5) {
  const step = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step)));
  const nice = [1, 2, 5, 10].map((m) => m * mag).find((m) => m >= step) || step;
  const out = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi + 1e-12; v += nice) out.push(v);
  return out;
}

function legend(series) {
  return h('div', { class: 'legend' }, series.map((ser, i) =>
    h('span', { class: `key c${i % 6}` }, ser.label)));
}

// opts: {series: [{label, points: [{t: Date, v, lo, hi, bf}]}], threshold,
// windows: [{from: Date, to: Date, label}], from: Date, to: Date, title}
export function lineChart(opts) {
  const series = opts.series.filter((ser) => ser.points.length);
  const all = series.flatMap((ser) => ser.points);
  const t0 = (opts.from || new Date(Math.min(...all.map((p) => p.t)))).getTime();
  const t1 = (opts.to || new Date(Math.max(...all.map((p) => p.t)))).getTime();
  const ys = all.flatMap((p) => [p.v, p.lo, p.hi]);
  if (opts.threshold !== undefined && opts.threshold !== null) ys.push(opts.threshold);
  const [y0, y1] = extent(ys);
  const x = (t) => M.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': opts.title || 'chart' });
  for (const w of opts.windows || []) {
    const a = Math.max(x(w.from.getTime()), M.left);
    const b = Math.min(x(w.to.getTime()), W - M.right);
    if (b > a) {
      svg.append(s('rect', { class: 'window', x: a, y: M.top, width: Math.max(2, b - a),
        height: H - M.top - M.bottom }, s('title', {}, `${w.label || 'judged window'} ${fmtTime(w.from)} – ${fmtTime(w.to)}`)));
    }
  }
  for (const v of ticks(y0, y1)) {
    svg.append(s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }));
    svg.append(s('text', { class: 'tick', x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  const span = t1 - t0;
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (span * i) / 4;
    const d = new Date(t);
    const label = span > 2 * 86400e3 ? d.toISOString().slice(5, 16).replace('T', ' ')
      : d.toISOString().slice(11, span < 600e3 ? 19 : 16);
    svg.append(s('text', { class: 'tick', x: x(t), y: H - M.bottom + 18, 'text-anchor': 'middle' }, label));
  }
  svg.append(s('line', { class: 'axis', x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom }));
  svg.append(s('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom }));
  series.forEach((ser, i) => {
    const pts = ser.points.slice().sort((a, b) => a.t - b.t);
    const banded = pts.filter((p) => isFinite(p.lo) && isFinite(p.hi) && p.hi > p.lo);
    if (banded.length > 1) {
      const top = banded.map((p) => `${x(p.t)},${y(p.hi)}`);
      const bottom = banded.slice().reverse().map((p) => `${x(p.t)},${y(p.lo)}`);
      svg.append(s('polygon', { class: `band c${i % 6}`, points: top.concat(bottom).join(' ') }));
    }
    svg.append(s('polyline', { class: `line c${i % 6}`, points: pts.map((p) => `${x(p.t)},${y(p.v)}`).join(' ') }));
    for (const p of pts) {
      svg.append(s('circle', { class: `dot c${i % 6}${p.bf ? ' backfilled' : ''}`, cx: x(p.t), cy: y(p.v),
        r: p.bf ? 3.5 : 2.5 },
        s('title', {}, `${ser.label} ${fmtTime(new Date(p.t))}: ${fmtNum(p.v)}` +
          (isFinite(p.lo) && p.hi > p.lo ? ` [${fmtNum(p.lo)}, ${fmtNum(p.hi)}]` : '') +
          (p.bf ? ' (backfilled)' : ''))));
    }
  });
  if (opts.threshold !== undefined && opts.threshold !== null) {
    svg.append(s('line', { class: 'threshold', x1: M.left, x2: W - M.right,
      y1: y(opts.threshold), y2: y(opts.threshold) }));
    svg.append(s('text', { class: 'threshold-label', x: W - M.right - 4, y: y(opts.threshold) - 5,
      'text-anchor': 'end' }, `threshold ${fmtNum(opts.threshold)}`));
  }
  if (!series.length) {
    svg.append(s('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' },
      'no values in this period'));
  }
  return h('figure', { class: 'figure' }, opts.title ? h('figcaption', {}, opts.title) : null,
    svg, series.length > 1 ? legend(series) : null);
}

// opts: {items: [{label, v, lo, hi}], threshold, title}
export function intervalChart(opts) {
  const items = opts.items;
  const rowH = 24;
  const height = M.top + M.bottom + Math.max(1, items.length) * rowH;
  const left = 300;
  const ys = items.flatMap((it) => [it.v, it.lo, it.hi]);
  if (opts.threshold !== undefined && opts.threshold !== null) ys.push(opts.threshold);
  const [x0, x1] = extent(ys);
  const x = (v) => left + ((v - x0) / (x1 - x0)) * (W - left - M.right);
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart', role: 'img',
    'aria-label': opts.title || 'chart' });
  for (const v of ticks(x0, x1)) {
    svg.append(s('line', { class: 'grid', x1: x(v), x2: x(v), y1: M.top, y2: height - M.bottom }));
    svg.append(s('text', { class: 'tick', x: x(v), y: height - M.bottom + 16, 'text-anchor': 'middle' }, fmtNum(v)));
  }
  items.forEach((it, i) => {
    const cy = M.top + i * rowH + rowH / 2;
    svg.append(s('text', { class: 'tick', x: left - 8, y: cy + 4, 'text-anchor': 'end' }, it.label));
    if (isFinite(it.lo) && isFinite(it.hi) && it.hi > it.lo) {
      svg.append(s('line', { class: 'interval', x1: x(it.lo), x2: x(it.hi), y1: cy, y2: cy }));
    }
    svg.append(s('circle', { class: `dot ${it.bad ? 'bad' : 'c0'}`, cx: x(it.v), cy, r: 4 },
      s('title', {}, `${it.label}: ${fmtNum(it.v)}` + (it.hi > it.lo ? ` [${fmtNum(it.lo)}, ${fmtNum(it.hi)}]` : ''))));
  });
  if (opts.threshold !== undefined && opts.threshold !== null) {
    svg.append(s('line', { class: 'threshold', x1: x(opts.threshold), x2: x(opts.threshold),
      y1: M.top, y2: height - M.bottom }));
  }
  return h('figure', { class: 'figure' }, opts.title ? h('figcaption', {}, opts.title) : null, svg);
}

// A value's series: its feature, or its attribute and group. A comparison
// of two groups ("female / male", "male vs female") names whichever pair is
// furthest apart in that window, so it is one series per attribute.
export function seriesKey(v) {
  const pair = / \/ | vs /.test(v.group || '');
  return [v.feature, v.attribute, pair ? '' : v.group].filter(Boolean).join(' · ');
}

// The metric's values from /v1/metrics points, one series per
// feature/attribute/group (filtered by `match` when given).
export function seriesFrom(points, metric, match) {
  const bySeries = new Map();
  for (const p of points || []) {
    const t = new Date(p.end || p.start).getTime();
    for (const v of p.values || []) {
      if (v.metric !== metric) continue;
      if (match && !match(v)) continue;
      if (v.state && v.state !== 'EVIDENCE_STATE_OK' && v.state !== 'EVIDENCE_STATE_UNSPECIFIED') continue;
      const key = seriesKey(v) || metric;
      if (!bySeries.has(key)) bySeries.set(key, { label: key, points: [] });
      // bf: some of the point's events were loaded by aimsctl backfill.
      bySeries.get(key).points.push({ t, v: v.value, lo: v.ci_low, hi: v.ci_high,
        bf: Number(p.backfilled_events || 0) > 0 });
    }
  }
  return [...bySeries.values()];
}
