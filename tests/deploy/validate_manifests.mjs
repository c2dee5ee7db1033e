// Validates rendered Kubernetes manifests (multi-document YAML) offline:
//  1. every object against the JSON schema of its kind: kubernetes-models for
//     the built-in kinds, @kubernetes-models/prometheus-operator for
//     ServiceMonitor and PodMonitor;
//  2. no unknown fields (what `kubectl apply --validate=strict` would refuse),
//     read from the packages' TypeScript declarations;
//  3. aims' own rules: hardened securityContext, probes, resources, the
//     collector's flags (one replica, or a fleet: each collector advertising
//     its pod's stable DNS name), the agent as a native sidecar with its
//     identity from the downward API, etcd members that can form their
//     cluster, Services, monitors and disruption budgets that select something.
//
// node validate_manifests.mjs [--expect KIND/NAME ...] [--secure|--insecure]
//                             [--extract-plan OUT] [--expect-errors] FILE...
// --secure: the collectors need tokens (--auth_tokens_file from a Secret) and
// a NetworkPolicy admitting only named peers, the agents send tokens
// (--collector_token_file from a Secret): the secure defaults. --insecure:
// the same check must fail (an opt-out overlay really opts out).
// --expect-errors inverts the result: every document must be refused with the
// error named in its annotation aims-test/expect-error (a fixture of
// deliberate mistakes, showing that each check can fail).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = path.join(here, "node_modules");

// ---------------------------------------------------------------------------
// Kind -> model class (schema validation) and TypeScript declaration file.

function modelModule(apiVersion) {
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  if (group === "monitoring.coreos.com") {
    return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  }
  return `kubernetes-models/${apiVersion}`;
}

async function modelClass(apiVersion, kind) {
  let mod;
  try {
    mod = await import(modelModule(apiVersion));
  } catch (e) {
    throw new Error(`no schema for apiVersion ${apiVersion}`);
  }
  if (typeof mod[kind] !== "function") {
    throw new Error(`no schema for kind ${kind} in ${apiVersion}`);
  }
  return mod[kind];
}

// ---------------------------------------------------------------------------
// A small reader of the generated .d.ts files: interfaces, type aliases,
// imports and re-exports, and a parser of the type expressions they use
// (object literals, index signatures, Array<T>, unions, references).

const declCache = new Map();

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

function tokenize(text) {
  const tokens = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[A-Za-z_$][\w$]*|-?\d+(?:\.\d+)?|[{}()<>\[\]:;,?|&=.])/gy;
  let m;
  while ((m = re.exec(text)) !== null) tokens.push(m[1]);
  return tokens;
}

class TypeParser {
  constructor(tokens) {
    this.t = tokens;
    this.i = 0;
  }
  peek() {
    return this.t[this.i];
  }
  next() {
    return this.t[this.i++];
  }
  expect(tok) {
    const got = this.next();
    if (got !== tok) throw new Error(`d.ts: expected ${tok}, got ${got}`);
  }
  type() {
    const members = [this.postfix()];
    while (this.peek() === "|" || this.peek() === "&") {
      this.next();
      members.push(this.postfix());
    }
    return members.length === 1 ? members[0] : { k: "union", of: members };
  }
  postfix() {
    let t = this.primary();
    while (this.peek() === "[" && this.t[this.i + 1] === "]") {
      this.i += 2;
      t = { k: "array", of: t };
    }
    return t;
  }
  primary() {
    const tok = this.next();
    if (tok === "{") return this.objectBody();
    if (tok === "(") {
      const t = this.type();
      this.expect(")");
      return t;
    }
    if (tok.startsWith('"') || tok.startsWith("'") || /^-?\d/.test(tok)) {
      return { k: "prim" };
    }
    // Identifier, maybe qualified, generic or indexed.
    let name = tok;
    while (this.peek() === ".") {
      this.next();
      name += "." + this.next();
    }
    let args = [];
    if (this.peek() === "<") {
      this.next();
      args.push(this.type());
      while (this.peek() === ",") {
        this.next();
        args.push(this.type());
      }
      this.expect(">");
    }
    while (this.peek() === "[" && this.t[this.i + 1] !== "]") {
      // Indexed access (IDeployment["apiVersion"]): a primitive here.
      this.next();
      this.type();
      this.expect("]");
      name = null;
    }
    if (name === null) return { k: "prim" };
    if (name === "Array" && args.length === 1) return { k: "array", of: args[0] };
    if (["string", "number", "boolean", "any", "unknown", "null", "undefined", "object", "true", "false"].includes(name)) {
      return { k: "prim" };
    }
    return { k: "ref", name };
  }
  // After "{": members up to the matching "}".
  objectBody() {
    const props = new Map();
    let index = null;
    while (this.peek() !== "}") {
      if (this.peek() === "[") {
        // [key: string]: T
        this.next();
        this.next();
        this.expect(":");
        this.type();
        this.expect("]");
        this.expect(":");
        index = this.type();
      } else {
        let key = this.next();
        if (key.startsWith('"') || key.startsWith("'")) key = key.slice(1, -1);
        if (this.peek() === "?") this.next();
        this.expect(":");
        props.set(key, this.type());
      }
      if (this.peek() === ";" || this.peek() === ",") this.next();
    }
    this.expect("}");
    return { k: "object", props, index };
  }
}

function resolveDecl(fromFile, spec) {
  let base;
  if (spec.startsWith(".")) base = path.resolve(path.dirname(fromFile), spec);
  else base = path.join(nodeModules, spec);
  for (const candidate of [base + ".d.ts", path.join(base, "index.d.ts")]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

function readDecl(file) {
  if (declCache.has(file)) return declCache.get(file);
  const text = stripComments(readFileSync(file, "utf8"));
  const decl = { file, imports: new Map(), aliases: new Map(), types: new Map() };
  declCache.set(file, decl);
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    for (const part of m[1].split(",")) {
      const [orig, local] = part.trim().split(/\s+as\s+/);
      if (orig) decl.imports.set((local || orig).trim(), { spec: m[2], name: orig.trim() });
    }
  }
  for (const m of text.matchAll(/export\s*\{([^}]*)\}\s*;/g)) {
    for (const part of m[1].split(",")) {
      const [orig, exported] = part.trim().split(/\s+as\s+/);
      if (orig && exported) decl.aliases.set(exported.trim(), orig.trim());
    }
  }
  for (const m of text.matchAll(/export\s+interface\s+([\w$]+)(?:\s+extends\s+([^{]+))?\s*\{/g)) {
    const parser = new TypeParser(tokenize(text.slice(m.index + m[0].length)));
    const body = parser.objectBody();
    body.extends = m[2] ? m[2].split(",").map((s) => s.trim().replace(/<.*$/, "")) : [];
    decl.types.set(m[1], body);
  }
  for (const m of text.matchAll(/export\s+(?:declare\s+)?type\s+([\w$]+)\s*=\s*([^;]+);/g)) {
    decl.types.set(m[1], new TypeParser(tokenize(m[2])).type());
  }
  return decl;
}

// The type named `name` as seen from `decl`: { type, decl } or null (unknown:
// not checked further, e.g. TypeMeta of @kubernetes-models/base).
function lookup(decl, name) {
  const local = decl.aliases.get(name) || name;
  if (decl.types.has(local)) return { type: decl.types.get(local), decl };
  const imp = decl.imports.get(name);
  if (!imp) return null;
  const file = resolveDecl(decl.file, imp.spec);
  if (!file) return null;
  return lookup(readDecl(file), imp.name);
}

// Every field of `value` must be declared by `type`; recurses.
function unknownFields(value, type, decl, at, errors) {
  if (value === null || value === undefined || type === undefined) return;
  switch (type.k) {
    case "prim":
      return;
    case "array":
      if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, type.of, decl, `${at}[${i}]`, errors));
      return;
    case "union": {
      // Only unions with exactly one structured member are followed.
      const structured = type.of.filter((t) => t.k !== "prim");
      if (structured.length === 1) unknownFields(value, structured[0], decl, at, errors);
      return;
    }
    case "ref": {
      const found = lookup(decl, type.name);
      if (found) unknownFields(value, found.type, found.decl, at, errors);
      return;
    }
    case "object": {
      if (typeof value !== "object" || Array.isArray(value)) return;
      const props = new Map(type.props);
      for (const parent of type.extends || []) {
        const found = lookup(decl, parent);
        if (found && found.type.k === "object") for (const [k, v] of found.type.props) props.set(k, v);
        if (parent === "TypeMeta") {
          props.set("apiVersion", { k: "prim" });
          props.set("kind", { k: "prim" });
        }
      }
      for (const [key, v] of Object.entries(value)) {
        if (props.has(key)) unknownFields(v, props.get(key), decl, `${at}.${key}`, errors);
        else if (type.index) unknownFields(v, type.index, decl, `${at}.${key}`, errors);
        else errors.push(`${at}.${key}: unknown field`);
      }
      return;
    }
  }
}

function declOfKind(apiVersion, kind) {
  const dir = path.join(nodeModules, modelModule(apiVersion));
  const file = path.join(dir, `${kind}.d.ts`);
  if (!existsSync(file)) return null;
  const decl = readDecl(file);
  const name = `I${kind}`;
  if (!decl.types.has(name)) return null;
  return { type: decl.types.get(name), decl };
}

// ---------------------------------------------------------------------------
// aims' own rules.

const HARDENED = {
  runAsNonRoot: true,
  runAsUser: 65532,
  readOnlyRootFilesystem: true,
  allowPrivilegeEscalation: false,
};

function podSpecOf(obj) {
  if (["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(obj.kind)) {
    return obj.spec?.template?.spec;
  }
  if (obj.kind === "Pod") return obj.spec;
  return undefined;
}

function envFieldRef(container, name) {
  return (container.env || []).find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
}

function probePath(probe) {
  return probe?.httpGet?.path;
}

function checkContainer(c, where, podSpec, errors) {
  const sc = c.securityContext || {};
  for (const [k, v] of Object.entries(HARDENED)) {
    if (sc[k] !== v) errors.push(`${where}.securityContext.${k}: ${JSON.stringify(sc[k])}, want ${JSON.stringify(v)}`);
  }
  if (!(sc.capabilities?.drop || []).includes("ALL")) {
    errors.push(`${where}.securityContext.capabilities.drop: must contain ALL`);
  }
  const seccomp = sc.seccompProfile?.type || podSpec.securityContext?.seccompProfile?.type;
  if (seccomp !== "RuntimeDefault") errors.push(`${where}: seccompProfile ${seccomp}, want RuntimeDefault`);
  const r = c.resources || {};
  if (!r.requests?.cpu || !r.requests?.memory) errors.push(`${where}.resources.requests: cpu and memory required`);
  if (!r.limits?.memory) errors.push(`${where}.resources.limits.memory: required`);
  const image = c.image || "";
  if (/aims-(collector|agent)/.test(image)) {
    if (probePath(c.livenessProbe) !== "/healthz") errors.push(`${where}.livenessProbe: want httpGet /healthz`);
    if (probePath(c.readinessProbe) !== "/readyz") errors.push(`${where}.readinessProbe: want httpGet /readyz`);
    if (!/:[\w][\w.-]*$/.test(image.split("/").pop())) errors.push(`${where}.image: ${image} has no tag`);
  }
}

function checkCollector(obj, c, podSpec, all, errors) {
  const where = `${obj.kind}/${obj.metadata.name} container ${c.name}`;
  const args = c.args || [];
  for (const want of [
    "--grpc_listen=0.0.0.0:4317",
    "--http_listen=0.0.0.0:9464",
    "--data_dir=/var/lib/aims",
    "--plan=/etc/aims/plan.yaml",
  ]) {
    if (!args.includes(want)) errors.push(`${where}.args: missing ${want}`);
  }
  if (obj.kind !== "StatefulSet") errors.push(`${where}: the collector must be a StatefulSet`);
  const fleet = args.some((a) => a.startsWith("--fleet_etcd="));
  if (fleet) checkFleetCollector(obj, c, all, errors);
  else if (obj.spec?.replicas !== 1) {
    errors.push(`${obj.kind}/${obj.metadata.name}.spec.replicas: ${obj.spec?.replicas}, want 1 (more only in fleet mode, --fleet_etcd)`);
  }
  const mounts = new Map((c.volumeMounts || []).map((m) => [m.mountPath, m.name]));
  const claims = (obj.spec?.volumeClaimTemplates || []).map((t) => t.metadata?.name);
  if (!claims.includes(mounts.get("/var/lib/aims"))) {
    errors.push(`${where}: /var/lib/aims must be a volumeClaimTemplate's PVC`);
  }
  const planVolume = (podSpec.volumes || []).find((v) => v.name === mounts.get("/etc/aims"));
  const cmName = planVolume?.configMap?.name;
  const cm = all.find((o) => o.kind === "ConfigMap" && o.metadata?.name === cmName);
  if (!cm) errors.push(`${where}: /etc/aims must mount a ConfigMap of this set (found ${cmName})`);
  else if (typeof cm.data?.["plan.yaml"] !== "string") errors.push(`ConfigMap/${cmName}: no plan.yaml`);
}

const flagValue = (args, name) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

// A pod's stable DNS name: $(VAR).<governing service>.<namespace>.svc, VAR
// the pod's name from the downward API; null when `value` is not one.
function podDnsName(obj, c, value, all, errors, what) {
  const m = /^\$\((\w+)\)\.([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$/.exec(value || "");
  if (!m) {
    errors.push(`${what} ${value}: want $(POD_NAME_VAR).<spec.serviceName>.<namespace>.svc (the pod's stable DNS name)`);
    return;
  }
  if (envFieldRef(c, m[1]) !== "metadata.name") errors.push(`${what}: $(${m[1]}) is not the pod's name (env fieldRef metadata.name)`);
  if (m[2] !== obj.spec?.serviceName) errors.push(`${what}: ${m[2]} is not spec.serviceName ${obj.spec?.serviceName}`);
  if (obj.metadata.namespace && m[3] !== obj.metadata.namespace) errors.push(`${what}: namespace ${m[3]}, the set's is ${obj.metadata.namespace}`);
  const svc = all.find((o) => o.kind === "Service" && o.metadata?.name === obj.spec?.serviceName);
  if (!svc || svc.spec?.clusterIP !== "None") errors.push(`${what}: spec.serviceName ${obj.spec?.serviceName} is no headless Service of this set`);
  else if (!selects(svc.spec.selector, obj.spec?.template?.metadata?.labels)) errors.push(`${what}: Service/${svc.metadata.name} does not select these pods`);
}

// Fleet mode: every collector advertises its own pod's DNS name on the gRPC
// port (agents are redirected there), and etcd is reachable: a Service of
// the set with that port, or an address outside the set.
function checkFleetCollector(obj, c, all, errors) {
  const where = `${obj.kind}/${obj.metadata.name} container ${c.name}`;
  const args = c.args || [];
  const advertise = flagValue(args, "fleet_advertise");
  if (!advertise) {
    errors.push(`${where}: --fleet_etcd without --fleet_advertise`);
    return;
  }
  const [host, port] = advertise.split(/:(?=\d+$)/);
  if (port !== "4317") errors.push(`${where}: --fleet_advertise port ${port}, want the container's gRPC port 4317`);
  podDnsName(obj, c, host, all, errors, `${where}: --fleet_advertise`);
  const [etcdHost, etcdPort] = flagValue(args, "fleet_etcd").split(/:(?=\d+$)/);
  const labels = etcdHost.split(".");
  const svc = all.find((o) => o.kind === "Service" && o.metadata?.name === labels[0]);
  if (svc) {
    if (labels.length > 1 && obj.metadata.namespace && labels[1] !== obj.metadata.namespace) {
      errors.push(`${where}: --fleet_etcd ${etcdHost} is in namespace ${labels[1]}, Service/${labels[0]} in ${obj.metadata.namespace}`);
    }
    if (!(svc.spec.ports || []).some((p) => String(p.port) === etcdPort)) errors.push(`${where}: --fleet_etcd port ${etcdPort} is not a port of Service/${labels[0]}`);
  } else if (!etcdPort) errors.push(`${where}: --fleet_etcd ${etcdHost} has no port`);
}

// etcd members that can form their cluster: started in parallel (a member
// waits for a quorum before it is ready), named by their pods, each in
// --initial-cluster under its stable DNS name, data on a PVC.
function checkEtcd(obj, c, podSpec, all, errors) {
  const where = `${obj.kind}/${obj.metadata.name} container ${c.name}`;
  const args = c.args || [];
  if (obj.kind !== "StatefulSet") return errors.push(`${where}: etcd must be a StatefulSet`);
  const n = obj.spec?.replicas ?? 1;
  if (n % 2 !== 1) errors.push(`${obj.kind}/${obj.metadata.name}.spec.replicas: ${n}, want an odd number (a majority must survive)`);
  if (obj.spec?.podManagementPolicy !== "Parallel") {
    errors.push(`${obj.kind}/${obj.metadata.name}.spec.podManagementPolicy: ${obj.spec?.podManagementPolicy}, want Parallel (members wait for each other)`);
  }
  const name = flagValue(args, "name");
  if (!/^\$\(\w+\)$/.test(name || "") || envFieldRef(c, name.slice(2, -1)) !== "metadata.name") errors.push(`${where}: --name ${name}: want $(VAR) of the pod's name`);
  const peer = /^http:\/\/(.+):2380$/.exec(flagValue(args, "initial-advertise-peer-urls") || "");
  if (!peer) errors.push(`${where}: --initial-advertise-peer-urls: want http://<pod DNS name>:2380`);
  else podDnsName(obj, c, peer[1], all, errors, `${where}: --initial-advertise-peer-urls`);
  const ns = obj.metadata.namespace;
  const want = [...Array(n).keys()].map((i) => `${obj.metadata.name}-${i}=http://${obj.metadata.name}-${i}.${obj.spec.serviceName}.${ns}.svc:2380`).join(",");
  if (flagValue(args, "initial-cluster") !== want) errors.push(`${where}: --initial-cluster ${flagValue(args, "initial-cluster")}, want ${want}`);
  const mounts = new Map((c.volumeMounts || []).map((m) => [m.mountPath, m.name]));
  const claims = (obj.spec?.volumeClaimTemplates || []).map((t) => t.metadata?.name);
  if (!claims.includes(mounts.get(flagValue(args, "data-dir")))) errors.push(`${where}: --data-dir must be on a volumeClaimTemplate's PVC`);
}

const isEtcd = (o) => (podSpecOf(o)?.containers || []).some((c) => /(^|\/)etcd:/.test(c.image || ""));

function checkAgent(obj, c, isInit, podSpec, errors) {
  const where = `${obj.kind}/${obj.metadata.name} container ${c.name}`;
  if (!isInit || c.restartPolicy !== "Always") {
    errors.push(`${where}: must be a native sidecar (initContainers with restartPolicy: Always)`);
  }
  const want = {
    AIMS_POD: "metadata.name",
    AIMS_POD_NAMESPACE: "metadata.namespace",
    AIMS_AGENT_ID: "metadata.uid",
  };
  for (const [name, field] of Object.entries(want)) {
    if (envFieldRef(c, name) !== field) errors.push(`${where}.env.${name}: want fieldRef ${field}`);
  }
  const args = c.args || [];
  if (!args.includes("--http_listen=0.0.0.0:9465")) {
    errors.push(`${where}.args: --http_listen=0.0.0.0:9465 needed for kubelet probes`);
  }
  for (const flag of ["--model_name=", "--task=", "--collector=", "--data_dir="]) {
    if (!args.some((a) => a.startsWith(flag))) errors.push(`${where}.args: missing ${flag}...`);
  }
  if (!args.some((a) => a.startsWith("--model_version=")) && !envFieldRef(c, "AIMS_MODEL_VERSION")) {
    errors.push(`${where}: no model version (--model_version or AIMS_MODEL_VERSION)`);
  }
  const dataDir = args.find((a) => a.startsWith("--data_dir="))?.split("=")[1];
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === dataDir);
  const volume = (podSpec.volumes || []).find((v) => v.name === mount?.name);
  if (!volume?.emptyDir) errors.push(`${where}: --data_dir must be on an emptyDir volume`);
}

function selects(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);
}

function checkPolicy(obj, all, errors) {
  const podSpec = podSpecOf(obj);
  if (podSpec) {
    const psc = podSpec.securityContext || {};
    if (psc.runAsNonRoot !== true) errors.push(`spec.securityContext.runAsNonRoot: want true`);
    if (psc.seccompProfile?.type !== "RuntimeDefault") errors.push(`spec.securityContext.seccompProfile: want RuntimeDefault`);
    const groups = [
      [podSpec.initContainers || [], true],
      [podSpec.containers || [], false],
    ];
    for (const [list, isInit] of groups) {
      for (const c of list) {
        const where = `${isInit ? "initContainers" : "containers"}[${c.name}]`;
        checkContainer(c, where, podSpec, errors);
        if ((c.image || "").includes("aims-collector")) checkCollector(obj, c, podSpec, all, errors);
        if ((c.image || "").includes("aims-agent")) checkAgent(obj, c, isInit, podSpec, errors);
        if (/(^|\/)etcd:/.test(c.image || "")) checkEtcd(obj, c, podSpec, all, errors);
      }
    }
    const sel = obj.spec?.selector?.matchLabels;
    if (sel && !selects(sel, obj.spec?.template?.metadata?.labels)) {
      errors.push(`spec.selector does not match the pod template's labels`);
    }
  }
  if (obj.kind === "Service") {
    const pods = all.filter((o) => podSpecOf(o) && selects(obj.spec?.selector, o.spec?.template?.metadata?.labels));
    if (pods.length === 0) errors.push(`selector matches no workload of this set`);
  }
  if (obj.kind === "PodDisruptionBudget") {
    const pods = all.filter((o) => podSpecOf(o) && selects(obj.spec?.selector?.matchLabels, o.spec?.template?.metadata?.labels));
    if (pods.length !== 1) errors.push(`selector matches ${pods.length} workloads, want exactly 1`);
    else if (isEtcd(pods[0]) && !(obj.spec?.minAvailable > (pods[0].spec?.replicas ?? 1) / 2)) {
      errors.push(`minAvailable ${obj.spec?.minAvailable} of ${pods[0].spec?.replicas} etcd members is no majority (a drain could break the quorum)`);
    }
  }
  if (obj.kind === "ServiceMonitor") {
    const services = all.filter((o) => o.kind === "Service" && selects(obj.spec?.selector?.matchLabels, o.metadata?.labels));
    if (services.length !== 1) {
      errors.push(`selector matches ${services.length} Services (${services.map((s) => s.metadata.name)}), want exactly 1`);
    } else {
      for (const ep of obj.spec.endpoints || []) {
        if (!(services[0].spec.ports || []).some((p) => p.name === ep.port)) {
          errors.push(`endpoint port ${ep.port} is not a port of Service/${services[0].metadata.name}`);
        }
      }
    }
  }
  if (obj.kind === "ServiceMonitor" || obj.kind === "PodMonitor") {
    const endpoints = obj.spec?.endpoints || obj.spec?.podMetricsEndpoints || [];
    for (const ep of endpoints) {
      const job = (ep.relabelings || []).find((r) => r.targetLabel === "job")?.replacement;
      const want = obj.kind === "ServiceMonitor" ? "aims-collector" : "aims-agent";
      if (job !== want) errors.push(`job label ${job}, want ${want} (deploy/prometheus/aims-rules.yml)`);
      if (ep.path !== "/metrics") errors.push(`path ${ep.path}, want /metrics`);
    }
  }
  if (obj.kind === "PodMonitor") {
    const pods = all.filter((o) => podSpecOf(o) && selects(obj.spec?.selector?.matchLabels, o.spec?.template?.metadata?.labels));
    for (const p of pods) {
      const spec = podSpecOf(p);
      const ports = [...(spec.initContainers || []), ...(spec.containers || [])].flatMap((c) => c.ports || []);
      for (const ep of obj.spec.podMetricsEndpoints || []) {
        if (!ports.some((port) => port.name === ep.port)) errors.push(`port ${ep.port} is not a container port of ${p.kind}/${p.metadata.name}`);
      }
    }
  }
}

// --secure: every collector requires tokens from a Secret, and a NetworkPolicy
// of the set admits only named peers to it (no rule without `from`, none
// admitting every namespace's every pod); every agent sends a token from a
// Secret.
function checkSecure(all) {
  const errors = [];
  const collectors = all.filter((o) => o.kind === "StatefulSet" &&
    (podSpecOf(o)?.containers || []).some((c) => (c.image || "").includes("aims-collector")));
  // Agents send a token from a Secret (the collector requires one).
  const agents = [];
  for (const o of all) {
    const spec = podSpecOf(o);
    for (const c of [...(spec?.initContainers || []), ...(spec?.containers || [])]) {
      if ((c.image || "").includes("aims-agent")) agents.push([o, spec, c]);
    }
  }
  for (const [o, spec, c] of agents) {
    const where = `${o.kind}/${o.metadata.name} container ${c.name}`;
    const file = (c.args || []).find((a) => a.startsWith("--collector_token_file="))?.split("=")[1];
    const mount = (c.volumeMounts || []).filter((m) => file?.startsWith(m.mountPath + "/"))
      .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    const volume = (spec.volumes || []).find((v) => v.name === mount?.name);
    if (!file) errors.push(`${where}: no --collector_token_file (the collector requires tokens)`);
    else if (!volume?.secret?.secretName) errors.push(`${where}: ${file} is not on a Secret volume`);
  }
  if (collectors.length === 0 && agents.length === 0) errors.push("neither a collector nor an agent");
  for (const sts of collectors) {
    const spec = podSpecOf(sts);
    const c = spec.containers.find((x) => (x.image || "").includes("aims-collector"));
    const tokens = (c.args || []).find((a) => a.startsWith("--auth_tokens_file="))?.split("=")[1];
    const where = `StatefulSet/${sts.metadata.name}`;
    if (!tokens) {
      errors.push(`${where}: no --auth_tokens_file (any pod that reaches it may act under any --actor)`);
    } else {
      // The deepest mount holding the file (/etc/aims/auth inside /etc/aims).
      const mount = (c.volumeMounts || []).filter((m) => tokens.startsWith(m.mountPath + "/"))
        .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
      const volume = (spec.volumes || []).find((v) => v.name === mount?.name);
      if (!volume?.secret?.secretName) errors.push(`${where}: ${tokens} is not on a Secret volume`);
      else if (volume.secret.optional) errors.push(`${where}: the tokens Secret must not be optional`);
    }
    errors.push(...policyErrors(sts, all));
  }
  // etcd speaks plaintext without authentication: it needs a policy too.
  for (const sts of all.filter((o) => o.kind === "StatefulSet" && isEtcd(o))) errors.push(...policyErrors(sts, all));
  return errors;
}

// A NetworkPolicy of the set selects the workload's pods and admits only
// named peers on named ports.
function policyErrors(sts, all) {
  const errors = [];
  const where = `StatefulSet/${sts.metadata.name}`;
  const labels = sts.spec?.template?.metadata?.labels;
  const policies = all.filter((o) => o.kind === "NetworkPolicy" && selects(o.spec?.podSelector?.matchLabels, labels) &&
    (o.spec?.podSelector?.matchLabels && Object.keys(o.spec.podSelector.matchLabels).length > 0));
  if (policies.length === 0) errors.push(`${where}: no NetworkPolicy selects its pods`);
  for (const np of policies) {
    if (!(np.spec.policyTypes || []).includes("Ingress")) errors.push(`NetworkPolicy/${np.metadata.name}: policyTypes lacks Ingress`);
    (np.spec.ingress || []).forEach((rule, i) => {
      if (!rule.from || rule.from.length === 0) errors.push(`NetworkPolicy/${np.metadata.name}.spec.ingress[${i}]: admits every source`);
      for (const peer of rule.from || []) {
        const empty = (sel) => sel !== undefined && Object.keys(sel.matchLabels || {}).length === 0 && (sel.matchExpressions || []).length === 0;
        if (empty(peer.namespaceSelector) && (peer.podSelector === undefined || empty(peer.podSelector))) {
          errors.push(`NetworkPolicy/${np.metadata.name}.spec.ingress[${i}]: admits every pod of every namespace`);
        }
      }
      if (!rule.ports || rule.ports.length === 0) errors.push(`NetworkPolicy/${np.metadata.name}.spec.ingress[${i}]: no ports (admits all)`);
    });
  }
  return errors;
}

// ---------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  const files = [];
  const expect = [];
  let extractPlan = null;
  let expectErrors = false;
  let secure = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--expect") expect.push(argv[++i]);
    else if (argv[i] === "--secure") secure = true;
    else if (argv[i] === "--insecure") secure = "refused";
    else if (argv[i] === "--extract-plan") extractPlan = argv[++i];
    else if (argv[i] === "--expect-errors") expectErrors = true;
    else files.push(argv[i]);
  }
  if (files.length === 0) {
    console.error("usage: validate_manifests.mjs [--expect KIND/NAME] [--secure|--insecure] [--extract-plan OUT] [--expect-errors] FILE...");
    process.exit(2);
  }
  const objects = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length) {
        objects.push({ file, parseError: doc.errors.map((e) => e.message).join("; ") });
        continue;
      }
      const obj = doc.toJS();
      if (obj !== null && obj !== undefined) objects.push({ file, obj });
    }
  }
  const all = objects.filter((o) => o.obj).map((o) => o.obj);
  let failed = 0;
  let passed = 0;
  for (const { file, obj, parseError } of objects) {
    const id = obj ? `${obj.kind}/${obj.metadata?.name}` : `(document in ${file})`;
    const errors = [];
    if (parseError) {
      errors.push(`YAML: ${parseError}`);
    } else if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) {
      errors.push("apiVersion, kind and metadata.name are required");
    } else {
      try {
        const Model = await modelClass(obj.apiVersion, obj.kind);
        new Model(obj).validate();
      } catch (e) {
        errors.push(`schema: ${e.message}`);
      }
      const declared = declOfKind(obj.apiVersion, obj.kind);
      if (declared) unknownFields(obj, declared.type, declared.decl, "", errors);
      else errors.push(`no type declaration for ${obj.apiVersion} ${obj.kind}`);
      checkPolicy(obj, all, errors);
    }
    if (expectErrors) {
      // The fixture names the error it is for in an annotation.
      const want = obj?.metadata?.annotations?.["aims-test/expect-error"];
      const hit = errors.find((e) => want === undefined || e.includes(want));
      if (!want) {
        console.log(`FAIL ${id}: fixture without an aims-test/expect-error annotation`);
        failed++;
      } else if (!hit) {
        console.log(`FAIL ${id}: expected an error containing '${want}', got: ${errors.join("; ") || "none"}`);
        failed++;
      } else {
        console.log(`ok   ${id}: rejected as expected: ${hit}`);
        passed++;
      }
    } else if (errors.length) {
      for (const e of errors) console.log(`FAIL ${id}: ${e}`);
      failed++;
    } else {
      console.log(`ok   ${id} (${obj.apiVersion})`);
      passed++;
    }
  }
  for (const want of expect) {
    const [kind, name] = want.split("/");
    const found = all.some((o) => o.kind === kind && (o.metadata?.name === name || (name.endsWith("*") && o.metadata?.name?.startsWith(name.slice(0, -1)))));
    if (found) passed++;
    else {
      console.log(`FAIL expected object ${want} is missing`);
      failed++;
    }
  }
  if (secure === "refused") {
    // An opt-out set: the secure-defaults check must find what is missing.
    const errors = checkSecure(all);
    if (errors.length) {
      console.log(`ok   --insecure: not secure, as opted out (${errors.join("; ")})`);
      passed++;
    } else {
      console.log("FAIL --insecure: the set passes --secure; it does not opt out");
      failed++;
    }
  } else if (secure) {
    const errors = checkSecure(all);
    for (const e of errors) console.log(`FAIL --secure: ${e}`);
    if (errors.length) failed++;
    else {
      console.log("ok   --secure: collectors require tokens behind a NetworkPolicy, agents send tokens, from Secrets");
      passed++;
    }
  }
  if (extractPlan) {
    const cms = all.filter((o) => o.kind === "ConfigMap" && typeof o.data?.["plan.yaml"] === "string");
    if (cms.length !== 1) {
      console.log(`FAIL --extract-plan: ${cms.length} ConfigMaps with plan.yaml, want 1`);
      failed++;
    } else {
      writeFileSync(extractPlan, cms[0].data["plan.yaml"]);
      console.log(`wrote ConfigMap/${cms[0].metadata.name} plan.yaml to ${extractPlan}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

await main();
