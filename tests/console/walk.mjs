// Walks the aims console in headless chromium as a viewer and as a
// compliance officer, asserting what each page shows, and keeps a PNG of
// every page (laptop 1366x800, tablet 820x1180) in $AIMS_SHOTS.
// Every step runs; each failure is printed and the walk exits 1 at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const url = process.env.AIMS_URL;
const shots = process.env.AIMS_SHOTS;
const viewerToken = process.env.AIMS_VIEWER_TOKEN;
const officerToken = process.env.AIMS_OFFICER_TOKEN;
const riskToken = process.env.AIMS_RISK_TOKEN;
const LAPTOP = { width: 1366, height: 800 };
const TABLET = { width: 820, height: 1180, isMobile: true, hasTouch: true };
const failures = [];

// AIMS_BROWSER=firefox drives Debian's firefox-esr over WebDriver BiDi.
const firefox = process.env.AIMS_BROWSER === 'firefox';
const browser = await puppeteer.launch(firefox
  ? { browser: 'firefox', executablePath: process.env.AIMS_FIREFOX || '/usr/bin/firefox-esr', headless: true }
  : {
    executablePath: process.env.AIMS_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
const page = await browser.newPage();
await page.setViewport(LAPTOP);
const consoleErrors = [];
// Refusals (401, 403, 409) are part of the walk; a missing file or a
// server error is not. The browser's own "Failed to load resource" lines
// carry no URL, so answers are checked here instead.
page.on('console', (m) => {
  if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
});
page.on('response', (r) => {
  if (r.status() === 404 || r.status() >= 500) consoleErrors.push(`${r.status()} ${r.url()}`);
});
page.on('pageerror', (e) => consoleErrors.push(String(e)));

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`);
    await shot(`failed-${name.replace(/\W+/g, '-')}`).catch(() => {});
  }
}

async function shot(name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/${name}.png` });
}

// Waits until `selector`'s text matches `re`; returns the text. 30 s: the
// suite under ASan, beside the fleet tests, answers far slower than a person
// would accept, but it answers.
async function textOf(selector, re, timeout = 30000) {
  await page.waitForFunction((sel, src) => {
    const el = document.querySelector(sel);
    return el && new RegExp(src, 'i').test(el.textContent);
  }, { timeout }, selector, re.source);
  return page.$eval(selector, (el) => el.textContent);
}

// Sets a form field's value as a person would (date inputs take no portable
// typing), firing its input and change events.
async function fill(selector, value) {
  await page.$eval(selector, (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    el.dispatchEvent(new Event('change', { bubbles: true }));
  }, value);
}

async function go(hash, ready) {
  await page.goto(`${url}/${hash}`);
  // A hash change keeps the document: wait for the new page, not the old
  // one's copy of `ready` (detail pages share their buttons' ids).
  await page.waitForFunction((h) => document.getElementById('main').dataset.route === h,
    { timeout: 30000 }, new URL(`${url}/${hash}`).hash);
  await page.waitForSelector(ready, { timeout: 30000 });
}

// Waits until the page of the current hash is drawn: a page drawn from a
// link (not go()) may still be loading, and its first nodes be replaced.
async function settled() {
  await page.waitForFunction(() => {
    const main = document.getElementById('main');
    return main.dataset.route === location.hash && !main.hasAttribute('aria-busy');
  }, { timeout: 30000 });
}

async function signIn(token, who) {
  await page.goto(`${url}/`);
  await page.waitForSelector('#signin');
  await page.type('#token', token);
  await page.click('#signin button[type=submit]');
  await textOf('#whoami', new RegExp(who));
  // The token is never shown back nor kept in the page.
  const html = await page.content();
  if (html.includes(token)) throw new Error('the token appears in the page');
}

async function signOut() {
  await page.click('#signout');
  await textOf('#signin-status', /signed out/);
}

let first = '';
let second = '';

await step('unauthenticated: only the sign-in page', async () => {
  await page.goto(`${url}/#/register`);
  await page.waitForSelector('#signin');
  if (await page.$eval('#nav', (n) => !n.hidden)) throw new Error('navigation shown before sign-in');
  if (await page.$('#register')) throw new Error('the register is shown before sign-in');
  await shot('signin');
});

await step('a wrong token is refused with a message', async () => {
  await page.type('#token', 'aims_not-a-real-token-at-all-0000000000');
  await page.click('#signin button[type=submit]');
  await textOf('#signin-status', /invalid token/);
});

await step('viewer signs in and sees the overview', async () => {
  await signIn(viewerToken, 'vera-viewer · viewer');
  await page.waitForSelector('#open-by-age');
  const open = Number(await page.$eval('#stat-open .big', (e) => e.textContent));
  if (!(open >= 2)) throw new Error(`open nonconformities shown: ${open}`);
  await textOf('main', /credit-scoring v1 \(demo\)/);
  await shot('overview');
});

await step('viewer: the register lists the nonconformities', async () => {
  await go('#/register', '#register');
  const ids = await page.$$eval('#register tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
  if (ids.length < 2) throw new Error(`${ids.length} rows`);
  [first, second] = ids;
  await textOf('#register-count', new RegExp(`^${ids.length} of ${ids.length}`));
  await shot('register');
});

await step('viewer: acknowledging is refused with the server\'s message', async () => {
  await go(`#/nc/${encodeURIComponent(first)}`, '#do-acknowledged');
  await textOf('#evidence-text', /the objective requires/);
  await page.type('#comment', 'trying as a viewer');
  await page.click('#do-acknowledged');
  const text = await textOf('#action-result', /Refused/);
  if (!/viewer/.test(text)) throw new Error(`message does not name the role: ${text}`);
  await textOf('#nc-stage', /^open$/);
  await shot('detail-viewer-refused');
});

await step('viewer signs out; the session ends server-side', async () => {
  await signOut();
  const status = await page.evaluate(async () => (await fetch('/v1/models')).status);
  if (status !== 401) throw new Error(`after sign-out /v1/models answered ${status}`);
});

await step('compliance officer signs in', async () => {
  await signIn(officerToken, 'carla-compliance · compliance');
});

await step('officer finds the nonconformity with the register filters', async () => {
  await go('#/register?stage=open&sort=severity', '#register');
  await page.select('#severity', await page.$eval(`#register tr[data-id="${first}"] td:nth-child(2)`,
    (td) => `SEVERITY_${td.textContent.trim().toUpperCase()}`));
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('severity=SEVERITY_'));
  await page.waitForSelector(`#register tr[data-id="${first}"]`);
  await page.click(`#register tr[data-id="${first}"] a`);
  await page.waitForFunction(() => location.hash.startsWith('#/nc/'), { timeout: 30000 });
  await settled();
  await page.waitForSelector('#do-acknowledged');
});

for (const [button, stage, comment] of [
  ['#do-acknowledged', 'acknowledged', 'contained: approvals go to manual review'],
  ['#do-cause_analysed', 'cause analysed', 'income distribution shifted after a campaign'],
  ['#do-action_recorded', 'action recorded', 'retrained on the last 30 days'],
]) {
  await step(`officer: ${stage}`, async () => {
    await settled();
    await page.type('#comment', comment);
    await page.click(button);
    await textOf('#nc-stage', new RegExp(`^${stage}$`));
    await textOf('#history', new RegExp(`carla-compliance.*${comment}`));
  });
}
const due = new Date(Date.now() + 10 * 86400e3).toISOString().slice(0, 10);
for (const [name, field, value, button, shown, change] of [
  ['reassigns the owner', '#owner', 'omar-owner@example.com', '#do-owner', '#nc-owner', 'owner'],
  ['sets the due date', '#due', due, '#do-due', '#nc-due', 'due_at'],
  ['links a ticket', '#ticket', 'https://tickets.example.com/AIMS-42', '#do-ticket', '#nc-ticket', 'ticket_url'],
]) {
  await step(`officer ${name}`, async () => {
    await settled();
    await fill(field, value);
    await fill('#comment', `${change} by the walk`);
    await page.click(button);
    await textOf(shown, new RegExp(value.replace(/[.?]/g, '\\$&')));
    await textOf('#history', new RegExp(`carla-compliance.*${change} by the walk.*${change}`));
  });
}

await step('detail page shows the evidence chart', async () => {
  await page.waitForSelector('#evidence-text');
  await page.waitForSelector('svg.chart rect.window', { timeout: 15000 });
  await page.waitForSelector('svg.chart line.threshold');
  await shot('detail');
});

await step('evidence charts shade every judged window', async () => {
  const all = await page.evaluate(async () => (await (await fetch('/v1/nonconformities')).json()).nonconformities);
  for (const nc of all) {
    // Through another page, so that no chart of the last one is counted.
    await go('#/plan', '#plan-in-force');
    await go(`#/nc/${encodeURIComponent(nc.id)}`, 'svg.chart polyline');
    const ev = nc.evidence || {};
    const rects = await page.$$eval('svg.chart rect.window', (r) => r.length);
    const points = await page.$$eval('svg.chart circle.dot', (c) => c.length);
    const steps = Number(ev.steps || 0);
    const ok = ev.decision === 'sequential' && steps > 1 ? rects > 1 && rects <= steps : rects === 1;
    if (!ok) throw new Error(`${nc.id} (${ev.decision}, ${steps} steps): ${rects} shaded windows`);
    if (points < 3) throw new Error(`${nc.id}: only ${points} points around the breach`);
    console.log(`     ${nc.id} ${ev.decision} (${steps} steps): ${rects} shaded windows, ${points} points`);
  }
});

await step('officer marks another one invalid', async () => {
  await go(`#/nc/${encodeURIComponent(second)}`, '#do-invalid');
  await page.type('#comment', 'a test campaign, not real applicants');
  await page.click('#do-invalid');
  await textOf('#nc-stage', /^invalid$/);
});

await step('an order the workflow forbids is refused with a message', async () => {
  await page.type('#comment', 'closing an invalid one');
  await page.click('#do-closed');
  await textOf('#action-result', /Refused: .+/);
  await textOf('#nc-stage', /^invalid$/);
});

await step('compliance may not accept risk: refused with the message', async () => {
  await go(`#/nc/${encodeURIComponent(first)}`, '#do-risk_accepted');
  await fill('#accept-until', due);
  await fill('#comment', 'retraining scheduled; the business accepts the drift');
  await page.click('#do-risk_accepted');
  const text = await textOf('#action-result', /Refused/);
  if (!/may not accept risk.*risk_owner/.test(text)) throw new Error(`message: ${text}`);
  await textOf('#nc-stage', /^action recorded$/);
});

await step('register: sorting by a column and back', async () => {
  await go('#/register?sort=objective&dir=asc', '#register');
  const col = () => page.$$eval('#register tbody tr[data-id] td:nth-child(6)', (tds) => tds.map((td) => td.textContent));
  const up = await col();
  if (up.join('|') !== up.slice().sort().join('|')) throw new Error(`not ascending: ${up}`);
  await textOf('#register thead a.sorted', /objective ▲/);
  await page.click('#register thead a.sorted');
  await textOf('#register thead a.sorted', /objective ▼/);
  // The demo keeps raising nonconformities: the second render may list
  // more than the first, never fewer.
  const down = await col();
  if (down.join('|') !== down.slice().sort().reverse().join('|')) throw new Error(`not descending: ${down}`);
  if (!up.every((o) => down.includes(o))) throw new Error(`rows lost: ${up} then ${down}`);
});

await step('register: the CSV export has the rows shown', async () => {
  await go('#/register?stage=NONCONFORMITY_STAGE_INVALID', '#register');
  const ids = await page.$$eval('#register tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));
  let text;
  if (!firefox) {
    // Chromium saves the download into a directory the test reads.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aims-csv-'));
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: dir });
    await page.click('#export-csv');
    const file = path.join(dir, 'nonconformities.csv');
    for (let i = 0; i < 100 && !fs.existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    text = fs.readFileSync(file, 'utf8');
    fs.rmSync(dir, { recursive: true, force: true });
  } else {
    // WebDriver BiDi in puppeteer 24 sets no download directory: the test
    // reads the file the page offers (its blob and name) instead of the
    // saved copy. (The CSP rightly forbids fetching the blob: URL.)
    await page.evaluate(() => {
      const create = URL.createObjectURL;
      let blob = null;
      URL.createObjectURL = (b) => { blob = b; return create.call(URL, b); };
      const click = HTMLAnchorElement.prototype.click;
      HTMLAnchorElement.prototype.click = function () {
        if (!this.download || !blob) return click.call(this);
        const name = this.download;
        blob.text().then((t) => { window.aimsDownload = [name, t]; });
      };
    });
    await page.click('#export-csv');
    await page.waitForFunction(() => window.aimsDownload, { timeout: 10000 });
    const [name, body] = await page.evaluate(() => window.aimsDownload);
    if (name !== 'nonconformities.csv') throw new Error(`file name ${name}`);
    text = body;
  }
  const lines = text.trim().split('\r\n');
  if (!lines[0].startsWith('id,opened_at,severity,stage')) throw new Error(`header: ${lines[0]}`);
  const got = lines.slice(1).map((l) => l.split(',')[0]);
  if (got.join() !== ids.join() || !got.includes(second)) throw new Error(`CSV ids ${got} vs page ${ids}`);
  if (!lines.slice(1).every((l) => l.split(',')[3] === 'invalid')) throw new Error(`stages: ${lines.slice(1)}`);
});

await step('audit trail lists the actions and verifies', async () => {
  await go('#/audit', '#audit');
  await textOf('#audit', /carla-compliance/);
  await page.click('#verify');
  await textOf('#verify-result', /intact: \d+ records checked/);
  await shot('audit');
});

await step('objectives page', async () => {
  await go('#/objectives', '#objectives');
  await textOf('#objectives', /credit-gender-parity/);
  await shot('objectives');
});

await step('objective page: the metric, its threshold and the state history', async () => {
  await page.click('#objectives tbody a[href^="#/objective/credit-gender-parity"]');
  await textOf('#objective-title', /credit-gender-parity/);
  await page.waitForSelector('#objective-charts svg.chart polyline');
  await page.waitForSelector('#objective-charts svg.chart line.threshold');
  await textOf('#state-history', /\d{4}-\d\d-\d\d .*(ok|pending|firing|possible breach)/);
  await shot('objective');
});

await step('objective page is linked from a nonconformity', async () => {
  await go(`#/nc/${encodeURIComponent(first)}`, '#nc-objective');
  const objective = await page.$eval('#nc-objective', (a) => a.textContent);
  await page.click('#nc-objective');
  await textOf('#objective-title', new RegExp(objective));
  await page.waitForSelector('#objective-charts svg.chart polyline');
  // Its nonconformity opened when it fired: on record in the state history.
  await textOf('#state-history', /firing/);
});

await step('model page draws the metrics', async () => {
  await go('#/models', 'main table');
  await page.click('main table a');
  await page.waitForSelector('#model-charts svg.chart polyline');
  await textOf('main', /Drift per feature/);
  await shot('model');
});

await step('monitoring plan shows the version in force', async () => {
  await go('#/plan', '#plan-in-force');
  await textOf('#plan-in-force', /In force: \S+/);
  const rows = await page.$$eval('#plan-versions tbody tr', (r) => r.length);
  if (rows < 2) throw new Error(`${rows} plan versions listed`);
  // By default the diff compares the previous version with the one in force.
  await textOf('#diff .del', /owner: sre@example.com/);
  await textOf('#diff .add', /owner: sre-oncall@example.com/);
  await shot('plan');
});

await step('reports: the CSV and HTML report download', async () => {
  await go('#/reports', '#report-csv');
  await shot('reports');
  for (const [id, type] of [['#report-csv', 'text/csv'], ['#report-html', 'text/html']]) {
    const href = await page.$eval(id, (a) => a.getAttribute('href'));
    const got = await page.evaluate(async (h) => {
      const r = await fetch(h);
      return { status: r.status, type: r.headers.get('content-type') || '', size: (await r.text()).length };
    }, href);
    if (got.status !== 200 || !got.type.startsWith(type) || got.size < 100) {
      throw new Error(`${href}: ${got.status} ${got.type} ${got.size} bytes`);
    }
  }
});

await step('risk owner accepts the risk until a date', async () => {
  await signOut();
  await signIn(riskToken, 'rita-risk · risk_owner');
  await go(`#/nc/${encodeURIComponent(first)}`, '#do-risk_accepted');
  await fill('#accept-until', due);
  await fill('#comment', 'retraining scheduled; the business accepts the drift');
  await page.click('#do-risk_accepted');
  await textOf('#nc-stage', /^risk accepted$/);
  await textOf('#nc-risk', new RegExp(`${due}.*by rita-risk`));
  await textOf('#history', /rita-risk.*the business accepts the drift/);
});

await step('tablet: overview and detail fit the screen', async () => {
  await page.setViewport(TABLET);
  await go('#/overview', '#open-by-age');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the page is ${overflow}px wider than the tablet`);
  await shot('tablet-overview');
  await go(`#/nc/${encodeURIComponent(first)}`, '#evidence-text');
  await shot('tablet-detail');
  await page.setViewport(LAPTOP);
});

await step('no script errors and no CSP violations', async () => {
  if (consoleErrors.length) throw new Error(consoleErrors.join(' | '));
});

await browser.close();
if (failures.length) {
  console.log(`${failures.length} step(s) failed: ${failures.join('; ')}`);
  process.exit(1);
}
console.log('all steps passed');
