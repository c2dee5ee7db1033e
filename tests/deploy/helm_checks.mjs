// Offline checks of the Helm chart helm/aims that need no rendering (the
// rendered chart is checked by helm_render_checks.mjs); what is checked:
//  - Chart.yaml: apiVersion v2, name, SemVer version, appVersion, type;
//  - values.yaml is valid under values.schema.json (JSON Schema draft-07, ajv
//    strict mode), and deliberately wrong values documents are rejected;
//  - every .Values.a.b path used in templates exists in values.yaml;
//  - template actions are balanced: {{ }} pairs, and if/range/with/define/
//    block each closed by an end, else only inside if/range/with;
//  - every include/template name is defined;
//  - the chart agrees with deploy/k8s/base: the same plan text, and the image
//    tags equal to the chart's appVersion.
//  - the same template checks find the mistakes planted in BROKEN_CHART_DIR.
// node helm_checks.mjs CHART_DIR KUSTOMIZE_BASE_DIR EXAMPLE_DIR PLAN_OUT [BROKEN_CHART_DIR]
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";

const [chartDir, baseDir, exampleDir, planOut, brokenDir] = process.argv.slice(2);
if (!planOut) {
  console.error("usage: helm_checks.mjs CHART_DIR KUSTOMIZE_BASE_DIR EXAMPLE_DIR PLAN_OUT [BROKEN_CHART_DIR]");
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, errors) {
  if (errors.length === 0) {
    console.log(`ok   ${name}`);
    passed++;
  } else {
    for (const e of errors) console.log(`FAIL ${name}: ${e}`);
    failed++;
  }
}

const read = (...p) => readFileSync(path.join(...p), "utf8");

// --- Chart.yaml -------------------------------------------------------------
const chart = parse(read(chartDir, "Chart.yaml"));
{
  const errors = [];
  const semver = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
  if (chart.apiVersion !== "v2") errors.push(`apiVersion ${chart.apiVersion}, want v2`);
  if (chart.name !== path.basename(path.resolve(chartDir))) errors.push(`name ${chart.name} differs from the directory`);
  if (!semver.test(String(chart.version))) errors.push(`version ${chart.version} is not SemVer 2`);
  if (typeof chart.appVersion !== "string" || !chart.appVersion) errors.push("appVersion must be a quoted string");
  if (!["application", "library"].includes(chart.type ?? "application")) errors.push(`type ${chart.type}`);
  if (!chart.description) errors.push("description is required");
  const known = ["apiVersion", "name", "version", "kubeVersion", "description", "type", "keywords", "home", "sources", "dependencies", "maintainers", "icon", "appVersion", "deprecated", "annotations"];
  for (const k of Object.keys(chart)) if (!known.includes(k)) errors.push(`unknown field ${k}`);
  check("Chart.yaml", errors);
}

// --- values against the schema ---------------------------------------------
const schema = JSON.parse(read(chartDir, "values.schema.json"));
const values = parse(read(chartDir, "values.yaml"));
const ajv = new Ajv({ strict: true, allErrors: true });
let validate;
{
  const errors = [];
  if (schema.$schema !== "http://json-schema.org/draft-07/schema#") errors.push(`$schema ${schema.$schema}, want draft-07`);
  try {
    validate = ajv.compile(schema);
  } catch (e) {
    errors.push(`schema does not compile: ${e.message}`);
  }
  check("values.schema.json compiles (draft-07, strict)", errors);
}
const describe = (errs) => (errs || []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`);
if (validate) {
  check("values.yaml is valid under values.schema.json", validate(values) ? [] : describe(validate.errors));

  // Each mutation must be refused: the schema can fail.
  const clone = () => structuredClone(values);
  const wrong = [
    ["collector.replicas: \"two\"", (v) => (v.collector.replicas = "two")],
    ["collector.replicas: 3", (v) => (v.collector.replicas = 3)],
    ["unknown top-level key colector", (v) => (v.colector = { replicas: 1 })],
    ["unknown key collector.image.tga", (v) => (v.collector.image.tga = "1")],
    ["tls.enabled without tls.secretName", (v) => (v.tls = { enabled: true, secretName: "" })],
    ["serviceMonitor.interval: 30", (v) => (v.serviceMonitor.interval = 30)],
    ["persistence.size: lots", (v) => (v.persistence.size = "lots")],
    ["plan missing", (v) => delete v.plan],
    ["auth.tokensSecretName: true", (v) => (v.auth = { enabled: true, tokensSecretName: true })],
    ["unknown key auth.tokens", (v) => (v.auth = { tokens: [] })],
    ["tls.requireClientCertificates without tls.enabled", (v) => (v.tls = { enabled: false, requireClientCertificates: true })],
    ["networkPolicy.agents without podSelector", (v) => delete v.networkPolicy.agents.podSelector],
    ["unknown key networkPolicy.prometheus.namespace", (v) => (v.networkPolicy.prometheus.namespace = "monitoring")],
  ];
  for (const [what, mutate] of wrong) {
    const v = clone();
    mutate(v);
    const ok = validate(v);
    check(`schema rejects ${what}`, ok ? ["accepted"] : []);
    if (!ok) console.log(`       (${describe(validate.errors)[0]})`);
  }
  // A documented override must stay valid.
  const v = clone();
  v.tls = { enabled: true, secretName: "aims-tls" };
  v.collector.alertmanagerUrls = ["http://alertmanager.monitoring:9093"];
  v.collector.extraArgs = ["--max_exported_series=20000"];
  v.tls.requireClientCertificates = true;
  v.auth = { enabled: true, tokensSecretName: "aims-tokens" };
  check("schema accepts tls.enabled with a secretName, a tokens Secret and extra flags", validate(v) ? [] : describe(validate.errors));
}

// --- templates ----------------------------------------------------------------
const templatesDir = path.join(chartDir, "templates");

// Actions {{ ... }} of a template, quote-aware, comments removed.
function actions(text, file, errors) {
  const out = [];
  let i = 0;
  while (true) {
    const open = text.indexOf("{{", i);
    const close = text.indexOf("}}", i);
    if (open === -1) {
      if (close !== -1) errors.push(`${file}: '}}' without '{{' at offset ${close}`);
      break;
    }
    if (close !== -1 && close < open) errors.push(`${file}: '}}' without '{{' at offset ${close}`);
    let j = open + 2;
    let body = null;
    if (/^-?\s*\/\*/.test(text.slice(j, j + 4))) {
      const end = text.indexOf("*/", j);
      if (end === -1 || !/^\s*-?\}\}/.test(text.slice(end + 2))) {
        errors.push(`${file}: unterminated comment at offset ${open}`);
        break;
      }
      i = text.indexOf("}}", end) + 2;
      continue;
    }
    let quote = null;
    for (; j < text.length; j++) {
      const c = text[j];
      if (quote) {
        if (c === "\\" && quote === '"') j++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "`") quote = c;
      else if (text.startsWith("}}", j)) {
        body = text.slice(open + 2, j);
        break;
      } else if (text.startsWith("{{", j)) break;
    }
    if (body === null) {
      errors.push(`${file}: '{{' at offset ${open} is not closed before the next '{{' or the end`);
      i = open + 2;
      continue;
    }
    out.push({ body: body.replace(/^-/, "").replace(/-$/, "").trim(), offset: open });
    i = j + 2;
  }
  return out;
}

// Problems of the templates in `dir` against `vals`, by kind of check.
function templateProblems(dir, vals) {
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|tpl|txt)$/.test(f)).sort();
  const defined = new Set();
  const used = [];
  const valuePaths = [];
  const problems = { files: files.length, balance: [], includes: [], values: [], calls: 0, refs: 0 };
  for (const file of files) {
    const text = read(dir, file);
    const stack = [];
    for (const { body, offset } of actions(text, file, problems.balance)) {
      const word = body.split(/\s+/)[0];
      const line = text.slice(0, offset).split("\n").length;
      if (["if", "range", "with", "define", "block"].includes(word)) stack.push({ word, line });
      else if (word === "else") {
        if (!stack.length || !["if", "range", "with"].includes(stack[stack.length - 1].word)) {
          problems.balance.push(`${file}:${line}: else outside if/range/with`);
        }
      } else if (word === "end") {
        if (!stack.length) problems.balance.push(`${file}:${line}: end without an open block`);
        else stack.pop();
      }
      const def = body.match(/^(?:define|block)\s+"([^"]+)"/);
      if (def) defined.add(def[1]);
      for (const m of body.matchAll(/\b(?:include|template)\s+"([^"]+)"/g)) used.push({ name: m[1], file, line });
      for (const m of body.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
        valuePaths.push({ path: m[1].slice(1).split("."), file, line });
      }
    }
    for (const open of stack) problems.balance.push(`${file}:${open.line}: ${open.word} is never closed by end`);
  }
  problems.calls = used.length;
  for (const u of used) {
    if (!defined.has(u.name)) problems.includes.push(`${u.file}:${u.line}: include "${u.name}" is not defined`);
  }
  problems.refs = valuePaths.length;
  for (const { path: p, file, line } of valuePaths) {
    let node = vals;
    for (let k = 0; k < p.length; k++) {
      if (node === null || typeof node !== "object" || Array.isArray(node) || !(p[k] in node)) {
        problems.values.push(`${file}:${line}: .Values.${p.join(".")}: '${p.slice(0, k + 1).join(".")}' is not in values.yaml`);
        break;
      }
      node = node[p[k]];
    }
  }
  return problems;
}

{
  const p = templateProblems(templatesDir, values);
  check(`templates: balanced {{ }} and blocks (${p.files} files)`, p.balance);
  check(`templates: ${p.calls} include/template calls name defined templates`, p.includes);
  check(`templates: ${p.refs} .Values references exist in values.yaml`, p.values);
}

// The same checks find the mistakes planted in a broken copy (so they can fail).
if (brokenDir) {
  const p = templateProblems(path.join(brokenDir, "templates"), parse(read(brokenDir, "values.yaml")));
  for (const kind of ["balance", "includes", "values"]) {
    const want = p[kind].length;
    check(`broken templates fixture: ${kind} problems found (${want})`, want ? [] : ["none found"]);
    for (const e of p[kind]) console.log(`       (${e})`);
  }
}

// --- agreement with the kustomize manifests ----------------------------------
{
  const errors = [];
  const basePlan = read(baseDir, "plan.yaml");
  if (values.plan !== basePlan) errors.push(`values.yaml plan differs from ${baseDir}/plan.yaml`);
  const tags = [
    ...parse(read(baseDir, "kustomization.yaml")).images,
    ...parse(read(exampleDir, "kustomization.yaml")).images,
  ].filter((i) => i.name.includes("aims-project"));
  for (const image of tags) {
    if (image.newTag !== chart.appVersion) errors.push(`kustomize image ${image.name}:${image.newTag} != appVersion ${chart.appVersion}`);
  }
  const sidecar = read(templatesDir, "_sidecar.tpl");
  const m = sidecar.match(/default "ghcr\.io\/aims-project\/aims-agent:([^"]+)"/);
  if (!m || m[1] !== chart.appVersion) errors.push(`_sidecar.tpl default agent tag ${m?.[1]} != appVersion ${chart.appVersion}`);
  check("chart agrees with deploy/k8s (plan, image tags)", errors);
}

writeFileSync(planOut, values.plan);
console.log(`wrote values.yaml plan to ${planOut}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
