// Text helpers without the DOM (tests/console/text_test.mjs runs them in
// Node): CSV lines, line diffs, and the note on a fleet listing that lacks
// a collector.

// One CSV line (RFC 4180 quoting) of `cells`.
export function csvLine(cells) {
  return cells.map((c) => {
    const v = c === undefined || c === null ? '' : String(c);
    return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  }).join(',');
}

// Lines of `a` and `b` as a list of [' ' | '-' | '+', line] (LCS).
export function diffLines(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push([' ', x[i]]); i++; j++; } else if (L[i + 1][j] >= L[i][j + 1]) out.push(['-', x[i++]]);
    else out.push(['+', y[j++]]);
  }
  while (i < n) out.push(['-', x[i++]]);
  while (j < m) out.push(['+', y[j++]]);
  return out;
}

// Fleet mode: the sentence naming the collectors that did not answer any of
// `responses` (listings), whose entries a page lacks; '' when all answered.
export function unansweredText(...responses) {
  const names = [...new Set(responses.flatMap((r) => (r && r.unanswered_collectors) || []))];
  if (!names.length) return '';
  return `Collector ${names.join(', ')} did not answer: this page lacks the entries ${names.length > 1 ? 'they hold' : 'it holds'}.`;
}
