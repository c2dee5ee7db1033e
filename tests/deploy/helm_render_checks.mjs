// Renders the Helm chart helm/aims with helm-render (helm_render/main.go: Go
// text/template with sprig, as Helm) for one case of values, then checks what
// came out: the coalesced values against values.schema.json (as Helm does
// before rendering), every rendered object with validate_manifests.mjs
// (Kubernetes and Prometheus Operator schemas, aims' rules), and the case's
// own assertions (each one a bug the chart once had). Case "renderer" tests
// helm-render itself on a fixture chart with known output; case "sidecar"
// renders the chart's agent sidecar template inside a model's chart.
//
// node helm_render_checks.mjs HELM_RENDER SOURCE_DIR OUT_DIR CASE
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const [renderer, src, outDir, caseName] = process.argv.slice(2);
if (!caseName) {
  console.error("usage: helm_render_checks.mjs HELM_RENDER SOURCE_DIR OUT_DIR CASE");
  process.exit(2);
}
const chart = path.join(src, "helm/aims");
const valuesDir = path.join(src, "tests/deploy/helm-values");
const testdata = path.join(src, "tests/deploy/testdata");
mkdirSync(outDir, { recursive: true });

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
const expectTrue = (name, cond, why) => check(name, cond ? [] : [why]);

// Runs helm-render; { ok, stderr, manifest, notes, values, objects }.
function render(name, args, chartDir = chart) {
  const out = path.join(outDir, `helm-${name}.yaml`);
  const notesOut = path.join(outDir, `helm-${name}.NOTES.txt`);
  const valuesOut = path.join(outDir, `helm-${name}.values.json`);
  const r = spawnSync(renderer, ["--chart", chartDir, "--out", out, "--notes-out", notesOut, "--values-out", valuesOut, ...args],
    { encoding: "utf8" });
  const result = { ok: r.status === 0, stderr: (r.stderr || "") + (r.error ? String(r.error) : ""), out };
  if (result.ok) {
    result.manifest = readFileSync(out, "utf8");
    result.notes = readFileSync(notesOut, "utf8");
    result.values = JSON.parse(readFileSync(valuesOut, "utf8"));
    result.objects = parseAllDocuments(result.manifest).map((d) => d.toJS()).filter((o) => o);
  }
  console.log(`helm-render ${args.join(" ")} -> ${result.ok ? out : "error: " + result.stderr.trim()}`);
  return result;
}

// validate_manifests.mjs on a rendered file; true when it passes.
function validate(file, extra) {
  const r = spawnSync(process.execPath, [path.join(here, "validate_manifests.mjs"), ...extra, file], { encoding: "utf8" });
  process.stdout.write(r.stdout.split("\n").map((l) => (l ? "  | " + l : l)).join("\n"));
  return { ok: r.status === 0, output: r.stdout };
}

const ajv = new Ajv({ strict: true, allErrors: true });
const schema = ajv.compile(JSON.parse(readFileSync(path.join(chart, "values.schema.json"), "utf8")));
function schemaErrors(values) {
  return schema(values) ? [] : schema.errors.map((e) => `${e.instancePath || "/"} ${e.message}`);
}

const find = (objs, kind, name) => objs.find((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
function collector(objs) {
  const sts = objs.find((o) => o.kind === "StatefulSet" && o.spec.template.spec.containers.some((x) => x.name === "collector"));
  const spec = sts?.spec?.template?.spec || {};
  const c = (spec.containers || []).find((x) => x.name === "collector") || {};
  return { sts, spec, c, args: c.args || [], volumes: spec.volumes || [], mounts: c.volumeMounts || [] };
}
const volumeAt = (col, mountPath) => col.volumes.find((v) => v.name === col.mounts.find((m) => m.mountPath === mountPath)?.name);

// A chart case: render, schema, validator (--expect each object), then asserts.
function chartCase(name, args, expectObjects, asserts, validatorArgs = ["--secure"]) {
  const r = render(name, args);
  check(`${name}: helm-render`, r.ok ? [] : [r.stderr.trim()]);
  if (!r.ok) return;
  check(`${name}: coalesced values valid under values.schema.json`, schemaErrors(r.values));
  const v = validate(r.out, [...validatorArgs, ...expectObjects.flatMap((e) => ["--expect", e])]);
  check(`${name}: validate_manifests.mjs ${validatorArgs.join(" ")} passes on every object`, v.ok ? [] : ["see above"]);
  asserts(r);
}

const base = ["Service/aims-collector", "Service/aims-collector-headless", "StatefulSet/aims-collector", "ConfigMap/aims-collector-plan"];
const staleTls = /do not serve TLS/i;

const cases = {
  renderer() {
    const dir = path.join(testdata, "render-chart");
    const common = ["--release", "rel", "--namespace", "ns"];
    let r = render("fixture", [...common, "-f", path.join(dir, "override.yaml")], dir);
    expectTrue("renderer: fixture output is Helm's (expected.yaml)", r.ok && r.manifest === readFileSync(path.join(dir, "expected.yaml"), "utf8"),
      r.ok ? `differs from expected.yaml:\n${r.manifest}` : r.stderr);
    expectTrue("renderer: NOTES.txt rendered apart (expected-notes.txt)", r.ok && r.notes === readFileSync(path.join(dir, "expected-notes.txt"), "utf8"),
      r.ok ? `got ${JSON.stringify(r.notes)}` : r.stderr);
    r = render("fixture-crd", [...common, "--api-versions", "monitoring.coreos.com/v1"], dir);
    expectTrue("renderer: --api-versions reaches .Capabilities.APIVersions.Has (expected-crd.yaml)",
      r.ok && r.manifest === readFileSync(path.join(dir, "expected-crd.yaml"), "utf8"), r.ok ? `got:\n${r.manifest}` : r.stderr);
    r = render("fixture-required", ["-f", path.join(dir, "fail.yaml")], dir);
    expectTrue("renderer: required fails the render with its message", !r.ok && r.stderr.includes("fixture: name is required"), `ok=${r.ok} ${r.stderr}`);
    r = render("fixture-old-kube", ["--kube-version", "v1.28.5"], dir);
    expectTrue("renderer: Chart.yaml kubeVersion refuses Kubernetes 1.28", !r.ok && r.stderr.includes("incompatible with Kubernetes v1.28.5"), `ok=${r.ok} ${r.stderr}`);
    r = render("fixture-eks", ["--kube-version", "v1.29.1-eks-1a2b3c"], dir);
    expectTrue("renderer: kubeVersion admits a managed cluster's v1.29.1-eks-...", r.ok, r.stderr);
  },

  defaults() {
    chartCase("defaults", [], [...base, "NetworkPolicy/aims-collector"], (r) => {
      const col = collector(r.objects);
      expectTrue("defaults: tokens required (--auth_tokens_file)", col.args.includes("--auth_tokens_file=/etc/aims/auth/tokens.yaml"), col.args.join(" "));
      expectTrue("defaults: tokens from Secret aims-collector-tokens", volumeAt(col, "/etc/aims/auth")?.secret?.secretName === "aims-collector-tokens",
        JSON.stringify(volumeAt(col, "/etc/aims/auth")));
      expectTrue("defaults: NOTES says how to create the tokens Secret", r.notes.includes("create secret generic aims-collector-tokens"), r.notes);
      expectTrue("defaults: no ServiceMonitor without monitoring.coreos.com/v1", !find(r.objects, "ServiceMonitor"), "rendered one");
      expectTrue("defaults: NOTES says why there is no ServiceMonitor", r.notes.includes("does not serve monitoring.coreos.com/v1"), r.notes);
      expectTrue("defaults: NOTES has no stale TLS claim", !staleTls.test(r.notes), r.notes);
      expectTrue("defaults: no TLS flags without tls.enabled", !col.args.some((a) => a.startsWith("--tls_")), col.args.join(" "));
      const np = find(r.objects, "NetworkPolicy");
      const peers = (np?.spec?.ingress || []).map((rule) => JSON.stringify(rule.from));
      expectTrue("defaults: NetworkPolicy admits agents, Prometheus and operators only", peers.length === 3 &&
        peers[0].includes("aims.io/monitored") && peers[1].includes("prometheus") && peers[2].includes("aims.io/operator"), peers.join(" | "));
      const names = new Set(r.objects.map((o) => o.metadata?.labels?.["app.kubernetes.io/name"]));
      expectTrue("defaults: app.kubernetes.io/name is aims-collector, as in deploy/k8s/base", names.size === 1 && names.has("aims-collector"), [...names].join(","));
      // The single collector of deploy/k8s/base: nothing of fleet mode.
      const kinds = r.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      expectTrue("defaults: exactly the single collector's five objects (no etcd, no PodDisruptionBudget)",
        JSON.stringify(kinds) === JSON.stringify(["ConfigMap/aims-collector-plan", "NetworkPolicy/aims-collector", "Service/aims-collector",
          "Service/aims-collector-headless", "StatefulSet/aims-collector"]), kinds.join(" "));
      expectTrue("defaults: one replica, started OrderedReady, no --fleet_ flag, no affinity",
        col.sts.spec.replicas === 1 && col.sts.spec.podManagementPolicy === "OrderedReady" && !col.args.some((a) => a.startsWith("--fleet_")) &&
        col.spec.affinity === undefined, JSON.stringify({ replicas: col.sts.spec.replicas, policy: col.sts.spec.podManagementPolicy, args: col.args }));
      expectTrue("defaults: NOTES says nothing of a fleet", !/fleet/i.test(r.notes), r.notes);
    });
  },

  "fleet-etcd"() {
    chartCase("fleet-etcd", ["-f", path.join(valuesDir, "fleet-etcd.yaml")], [...base, "NetworkPolicy/aims-collector",
      "PodDisruptionBudget/aims-collector", "StatefulSet/aims-collector-etcd", "Service/aims-collector-etcd",
      "Service/aims-collector-etcd-headless", "PodDisruptionBudget/aims-collector-etcd", "NetworkPolicy/aims-collector-etcd"], (r) => {
      const col = collector(r.objects);
      // podManagementPolicy is immutable: as the single collector's, so
      // that `helm upgrade` to a fleet works.
      expectTrue("fleet-etcd: three collectors, podManagementPolicy OrderedReady as with one", col.sts.spec.replicas === 3 &&
        col.sts.spec.podManagementPolicy === "OrderedReady", JSON.stringify(col.sts.spec));
      for (const flag of ["--fleet_etcd=aims-collector-etcd.aims.svc:2379",
        "--fleet_advertise=$(AIMS_COLLECTOR_ID).aims-collector-headless.aims.svc:4317", "--fleet_lease_ttl=15s"]) {
        expectTrue(`fleet-etcd: collector args have ${flag}`, col.args.includes(flag), col.args.join(" "));
      }
      const anti = col.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
      expectTrue("fleet-etcd: collectors prefer different nodes", anti?.topologyKey === "kubernetes.io/hostname" &&
        anti.labelSelector.matchLabels["app.kubernetes.io/component"] === "collector", JSON.stringify(col.spec.affinity));
      const etcd = find(r.objects, "StatefulSet", "aims-collector-etcd");
      const eSpec = etcd.spec.template.spec;
      const eAnti = eSpec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0];
      expectTrue("fleet-etcd: three etcd members, one per node (required anti-affinity on their own labels)", etcd.spec.replicas === 3 &&
        eAnti?.topologyKey === "kubernetes.io/hostname" && eAnti.labelSelector.matchLabels["app.kubernetes.io/component"] === "etcd",
        JSON.stringify(eSpec.affinity));
      expectTrue("fleet-etcd: etcd's PodDisruptionBudget keeps 2 of 3", find(r.objects, "PodDisruptionBudget", "aims-collector-etcd")?.spec?.minAvailable === 2,
        JSON.stringify(find(r.objects, "PodDisruptionBudget", "aims-collector-etcd")?.spec));
      expectTrue("fleet-etcd: at most one collector disrupted at once", find(r.objects, "PodDisruptionBudget", "aims-collector")?.spec?.maxUnavailable === 1,
        JSON.stringify(find(r.objects, "PodDisruptionBudget", "aims-collector")?.spec));
      // The collectors reach each other and etcd's client port, nothing else does.
      const np = find(r.objects, "NetworkPolicy", "aims-collector");
      expectTrue("fleet-etcd: the collectors' NetworkPolicy admits the other collectors on gRPC", (np.spec.ingress || []).some((rule) =>
        rule.from?.[0]?.podSelector?.matchLabels?.["app.kubernetes.io/component"] === "collector" && !rule.from[0].namespaceSelector &&
        rule.ports.map((p) => p.port).join() === "grpc"), JSON.stringify(np.spec.ingress));
      const enp = find(r.objects, "NetworkPolicy", "aims-collector-etcd");
      const clientFrom = (enp.spec.ingress || []).filter((rule) => rule.ports.some((p) => p.port === "client"))
        .map((rule) => rule.from[0].podSelector.matchLabels["app.kubernetes.io/component"]).sort();
      expectTrue("fleet-etcd: etcd's client port admits the collectors and etcd members only", clientFrom.join() === "collector,etcd", clientFrom.join());
      const services = r.objects.filter((o) => o.kind === "Service" && o.metadata.name.startsWith("aims-collector-etcd"));
      const ownSelectors = services.every((svc) => svc.spec.selector["app.kubernetes.io/component"] === "etcd");
      const collectorSvcs = r.objects.filter((o) => o.kind === "Service" && !o.metadata.name.includes("etcd"));
      expectTrue("fleet-etcd: etcd's Services select etcd only, the collector's Services the collectors only",
        ownSelectors && collectorSvcs.every((svc) => svc.spec.selector["app.kubernetes.io/component"] === "collector"),
        JSON.stringify(r.objects.filter((o) => o.kind === "Service").map((s) => s.spec.selector)));
      expectTrue("fleet-etcd: no --fleet_token_file without fleet.tokenSecretName, and NOTES says replication needs it",
        !col.args.some((a) => a.startsWith("--fleet_token_file")) && r.notes.includes("fleet.tokenSecretName is empty"), r.notes);
      expectTrue("fleet-etcd: NOTES says how to check the members", r.notes.includes("aims_fleet_members 3") &&
        r.notes.includes("rollout status statefulset/aims-collector-etcd"), r.notes);
      expectTrue("fleet-etcd: NOTES says to scrape every collector pod, not the Service",
        r.notes.includes("each collector pod, aims-collector-N.aims-collector-headless:9464/metrics (N = 0..2)"), r.notes);
      // `helm upgrade` from the defaults: Kubernetes refuses changes to a
      // StatefulSet's spec beyond these fields.
      const single = render("fleet-etcd-upgrade-from", []);
      const mutable = ["replicas", "template", "updateStrategy", "minReadySeconds", "persistentVolumeClaimRetentionPolicy", "ordinals"];
      const frozen = (sts) => JSON.stringify(Object.fromEntries(Object.entries(sts.spec).filter(([k]) => !mutable.includes(k)).sort()));
      expectTrue("fleet-etcd: the collectors' StatefulSet differs from the single one's only in fields an update may change",
        single.ok && frozen(collector(single.objects).sts) === frozen(col.sts), single.ok ? `${frozen(collector(single.objects).sts)}\n${frozen(col.sts)}` : single.stderr);
      // Without NetworkPolicies the plaintext etcd is open: --secure says so.
      const open = path.join(outDir, "helm-fleet-etcd-open.values.yaml");
      writeFileSync(open, "networkPolicy: {enabled: false}\n");
      const o = render("fleet-etcd-open", ["-f", path.join(valuesDir, "fleet-etcd.yaml"), "-f", open]);
      const v = o.ok && validate(o.out, ["--secure"]);
      expectTrue("fleet-etcd: validate_manifests.mjs --secure refuses an etcd without a NetworkPolicy",
        v && !v.ok && v.output.includes("StatefulSet/aims-collector-etcd: no NetworkPolicy selects its pods"), v ? "it passed" : o.stderr);
    });
  },

  "fleet-external"() {
    chartCase("fleet-external", ["-f", path.join(valuesDir, "fleet-external.yaml"), "--release", "prod", "--namespace", "ml"],
      ["StatefulSet/prod-aims-collector", "PodDisruptionBudget/prod-aims-collector", "Service/prod-aims-collector-headless"], (r) => {
        const col = collector(r.objects);
        expectTrue("fleet-external: five collectors on the existing etcd, advertising their pods in namespace ml",
          col.sts.spec.replicas === 5 && col.args.includes("--fleet_etcd=etcd-client.etcd.svc:2379") &&
          col.args.includes("--fleet_advertise=$(AIMS_COLLECTOR_ID).prod-aims-collector-headless.ml.svc:4317"), col.args.join(" "));
        expectTrue("fleet-external: --fleet_token_file from Secret aims-fleet-token", col.args.includes("--fleet_token_file=/etc/aims/fleet/token") &&
          volumeAt(col, "/etc/aims/fleet")?.secret?.secretName === "aims-fleet-token", JSON.stringify(volumeAt(col, "/etc/aims/fleet")));
        expectTrue("fleet-external: NOTES does not ask for a fleet token", !r.notes.includes("fleet.tokenSecretName is empty"), r.notes);
        expectTrue("fleet-external: no etcd of the chart", !r.objects.some((o) => o.metadata.name.includes("etcd")),
          r.objects.map((o) => o.metadata.name).join(" "));
      });
  },

  "fleet-refused"() {
    const defaults = parseAllDocuments(readFileSync(path.join(chart, "values.yaml"), "utf8"))[0].toJS();
    let r = render("replicas-without-fleet", ["-f", path.join(valuesDir, "replicas-without-fleet.yaml")]);
    expectTrue("fleet-refused: three collectors without fleet mode fail the render", !r.ok && r.stderr.includes("collector.replicas > 1 needs fleet.enabled"),
      `ok=${r.ok} ${r.stderr}`);
    const wrong = [
      ["collector.replicas: 3 without fleet.enabled", (v) => (v.collector.replicas = 3), "collector.replicas > 1 needs fleet.enabled"],
      ["fleet.enabled without etcd", (v) => (v.fleet.enabled = true), "needs fleet.etcd.endpoint"],
      ["fleet.etcd.endpoint and deploy together", (v) => Object.assign(v.fleet, { enabled: true, etcd: { ...v.fleet.etcd, deploy: true, endpoint: "etcd:2379" } }), "not both"],
      ["fleet.etcd.deploy without fleet.enabled", (v) => (v.fleet.etcd.deploy = true), "fleet.etcd.deploy needs fleet.enabled"],
      ["4 etcd members", (v) => Object.assign(v.fleet, { enabled: true, etcd: { ...v.fleet.etcd, deploy: true, replicas: 4 } }), null],
      ["fleet.leaseTtl: 1d", (v) => Object.assign(v.fleet, { enabled: true, leaseTtl: "1d", etcd: { ...v.fleet.etcd, deploy: true } }), null],
    ];
    for (const [what, mutate, message] of wrong) {
      const v = structuredClone(defaults);
      mutate(v);
      expectTrue(`fleet-refused: values.schema.json refuses ${what}`, schemaErrors(v).length > 0, "accepted");
      if (!message) continue;
      // helm-render checks no schema: the templates refuse it themselves.
      const file = path.join(outDir, `helm-fleet-refused-${what.replace(/\W+/g, "-")}.json`);
      writeFileSync(file, JSON.stringify({ collector: v.collector, fleet: v.fleet }));
      r = render(`fleet-refused-${what.replace(/\W+/g, "-")}`, ["-f", file]);
      expectTrue(`fleet-refused: the templates refuse ${what}`, !r.ok && r.stderr.includes(message), `ok=${r.ok} ${r.stderr}`);
    }
    const v = structuredClone(defaults);
    Object.assign(v.fleet, { enabled: true, etcd: { ...v.fleet.etcd, endpoint: "etcd:2379" } });
    v.collector.replicas = 7;
    expectTrue("fleet-refused: values.schema.json accepts seven collectors on an existing etcd", schemaErrors(v).length === 0, schemaErrors(v).join("; "));
  },

  mtls() {
    // Without tokens the validator's --secure rule must fail (it can fail).
    chartCase("mtls", ["-f", path.join(valuesDir, "mtls.yaml")], [...base, "NetworkPolicy/aims-collector"], (r) => {
      const col = collector(r.objects);
      for (const flag of ["--tls_cert_file=/etc/aims/tls/tls.crt", "--tls_key_file=/etc/aims/tls/tls.key", "--tls_client_ca_file=/etc/aims/tls/ca.crt"]) {
        expectTrue(`mtls: collector args have ${flag} without a tokens Secret`, col.args.includes(flag), col.args.join(" "));
      }
      expectTrue("mtls: Secret aims-tls mounted at /etc/aims/tls", volumeAt(col, "/etc/aims/tls")?.secret?.secretName === "aims-tls", JSON.stringify(col.volumes));
      expectTrue("mtls: no --auth_tokens_file with auth.enabled: false", !col.args.some((a) => a.startsWith("--auth_tokens_file")), col.args.join(" "));
      expectTrue("mtls: NOTES tells agents to present certificates", r.notes.includes("--collector_cert_file"), r.notes);
      expectTrue("mtls: NOTES warns that tokens are off", r.notes.includes("auth.enabled is false"), r.notes);
      expectTrue("mtls: NOTES has no stale TLS claim", !staleTls.test(r.notes), r.notes);
      const v = validate(r.out, ["--secure"]);
      expectTrue("mtls: validate_manifests.mjs --secure refuses a collector without tokens", !v.ok && v.output.includes("no --auth_tokens_file"), "it passed");
    }, []);
  },

  "mtls-without-tls"() {
    const values = path.join(valuesDir, "mtls-without-tls.yaml");
    const r = render("mtls-without-tls", ["-f", values]);
    expectTrue("mtls-without-tls: helm-render fails instead of dropping mTLS", !r.ok && r.stderr.includes("tls.requireClientCertificates needs tls.enabled"), `ok=${r.ok} ${r.stderr}`);
    // The same values, coalesced by hand, are refused by the schema too.
    const defaults = parseAllDocuments(readFileSync(path.join(chart, "values.yaml"), "utf8"))[0].toJS();
    defaults.tls.requireClientCertificates = true;
    expectTrue("mtls-without-tls: values.schema.json refuses them", schemaErrors(defaults).length > 0, "accepted");
  },

  tokens() {
    chartCase("tokens", ["-f", path.join(valuesDir, "tokens.yaml")], [...base, "NetworkPolicy/aims-collector"], (r) => {
      const col = collector(r.objects);
      expectTrue("tokens: --auth_tokens_file from Secret my-tokens", col.args.includes("--auth_tokens_file=/etc/aims/auth/tokens.yaml") &&
        volumeAt(col, "/etc/aims/auth")?.secret?.secretName === "my-tokens", JSON.stringify(volumeAt(col, "/etc/aims/auth")));
      expectTrue("tokens: NOTES names Secret my-tokens", r.notes.includes("create secret generic my-tokens"), r.notes);
      expectTrue("tokens: no mTLS flag without tls", !col.args.some((a) => a.startsWith("--tls_client_ca_file")), col.args.join(" "));
    });
  },

  "monitors-with-crd"() {
    chartCase("monitors-with-crd", ["-f", path.join(valuesDir, "monitors.yaml"), "--api-versions", "monitoring.coreos.com/v1"],
      [...base, "ServiceMonitor/aims-collector", "PodMonitor/aims-collector-agents"], (r) => {
        expectTrue("monitors-with-crd: ServiceMonitor keeps its labels", find(r.objects, "ServiceMonitor")?.metadata?.labels?.release === "kube-prometheus-stack",
          JSON.stringify(find(r.objects, "ServiceMonitor")?.metadata?.labels));
        expectTrue("monitors-with-crd: NOTES does not say there is no ServiceMonitor", !r.notes.includes("No ServiceMonitor"), r.notes);
      });
  },

  "monitors-without-crd"() {
    chartCase("monitors-without-crd", ["-f", path.join(valuesDir, "monitors.yaml")], base, (r) => {
      const kinds = r.objects.map((o) => o.kind);
      expectTrue("monitors-without-crd: neither ServiceMonitor nor PodMonitor (the install would fail)",
        !kinds.includes("ServiceMonitor") && !kinds.includes("PodMonitor"), kinds.join(","));
      expectTrue("monitors-without-crd: NOTES says to scrape the Service", r.notes.includes("Scrape aims-collector:9464/metrics"), r.notes);
    });
  },

  "name-override"() {
    chartCase("name-override", ["-f", path.join(valuesDir, "name-override.yaml"), "--release", "prod", "--namespace", "ml"],
      ["StatefulSet/prod-monitor-collector", "Service/prod-monitor-collector", "ConfigMap/prod-monitor-collector-plan"], (r) => {
        const names = new Set(r.objects.flatMap((o) => [o.metadata?.labels?.["app.kubernetes.io/name"],
          o.spec?.selector?.matchLabels?.["app.kubernetes.io/name"] ?? o.spec?.selector?.["app.kubernetes.io/name"],
          o.spec?.template?.metadata?.labels?.["app.kubernetes.io/name"]]).filter((x) => x));
        expectTrue("name-override: app.kubernetes.io/name is monitor-collector on objects, selectors and pods",
          names.size === 1 && names.has("monitor-collector"), [...names].join(","));
        expectTrue("name-override: networkPolicy.enabled: false renders none", !find(r.objects, "NetworkPolicy"), "rendered one");
        expectTrue("name-override: NOTES names the release's collector", r.notes.includes("prod-monitor-collector.ml.svc:4317"), r.notes);
      }, []);
  },

  "old-kubernetes"() {
    const r = render("old-kubernetes", ["--kube-version", "v1.28.9"]);
    expectTrue("old-kubernetes: the chart refuses Kubernetes 1.28 (no native sidecars)", !r.ok && r.stderr.includes("kubeVersion: >=1.29.0-0"), `ok=${r.ok} ${r.stderr}`);
  },

  sidecar() {
    const dir = path.join(testdata, "sidecar-chart");
    const r = render("sidecar", ["--release", "credit", "--namespace", "models", "--with-template", path.join(chart, "templates/_sidecar.tpl")], dir);
    check("sidecar: helm-render", r.ok ? [] : [r.stderr.trim()]);
    if (!r.ok) return;
    const v = validate(r.out, ["--secure", "--expect", "Deployment/credit"]);
    check("sidecar: validate_manifests.mjs passes (native sidecar, identity, probes)", v.ok ? [] : ["see above"]);
    const pod = find(r.objects, "Deployment")?.spec?.template?.spec || {};
    const agent = (pod.initContainers || []).find((c) => c.name === "aims-agent") || {};
    const mount = (agent.volumeMounts || []).find((m) => m.mountPath === "/etc/aims-agent/token");
    const volume = (pod.volumes || []).find((x) => x.name === mount?.name);
    expectTrue("sidecar: tokenSecretName gives --collector_token_file from that Secret",
      (agent.args || []).includes("--collector_token_file=/etc/aims-agent/token/token") && volume?.secret?.secretName === "model-aims-agent-token",
      JSON.stringify({ args: agent.args, volume }));
  },
};

if (!cases[caseName]) {
  console.error(`unknown case ${caseName}; cases: ${Object.keys(cases).join(", ")}`);
  process.exit(2);
}
cases[caseName]();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
