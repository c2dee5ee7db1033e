// Runs the real aims-collector with the arguments of a rendered collector
// StatefulSet (kustomize base or Helm chart), so the flag combination the
// manifests produce is one the collector accepts and serves as intended:
//  - every path under a volume mount is moved under a temporary root and the
//    volume provided there: ConfigMaps with their data (the plan), a tokens
//    Secret with a fresh admin token (`aimsctl token create`), a TLS Secret
//    with a CA, a server certificate for 127.0.0.1 and a client certificate
//    (openssl), empty directories for the PVC and emptyDirs;
//  - the listen ports are swapped for free ones (hosts kept), and $(VAR)
//    in args expanded from the container's env as the kubelet does;
//  - with --fleet_etcd (fleet mode), a real etcd (Debian etcd-server) on
//    free loopback ports takes the place of the rendered etcd address, and
//    --fleet_token_file's Secret holds the admin token;
// then asserts: /healthz and /readyz answer 200; with --auth_tokens_file,
// /v1/models answers 401 without the token and aimsctl is refused without it
// and served with it; with TLS, aimsctl needs the CA, and with
// --tls_client_ca_file a client certificate; in fleet mode, the collector
// is a member in etcd under its advertised pod DNS name and sees itself
// (aims_fleet_members 1), and leaves etcd when stopped; SIGTERM stops it
// with 0.
//
// node run_rendered_collector.mjs RENDERED.yaml AIMS_COLLECTOR AIMSCTL
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";

const [rendered, collectorBin, aimsctl] = process.argv.slice(2);
if (!aimsctl) {
  console.error("usage: run_rendered_collector.mjs RENDERED.yaml AIMS_COLLECTOR AIMSCTL");
  process.exit(2);
}
let passed = 0;
let failed = 0;
function check(name, ok, why) {
  if (ok) {
    console.log(`ok   ${name}`);
    passed++;
  } else {
    console.log(`FAIL ${name}: ${why}`);
    failed++;
  }
}

const objects = parseAllDocuments(readFileSync(rendered, "utf8")).map((d) => d.toJS()).filter((o) => o);
const sts = objects.find((o) => o.kind === "StatefulSet" &&
  o.spec.template.spec.containers.some((c) => (c.image || "").includes("aims-collector")));
const spec = sts.spec.template.spec;
const container = spec.containers.find((c) => (c.image || "").includes("aims-collector"));
const root = mkdtempSync(path.join(os.tmpdir(), "aims-rendered-"));
const at = (p) => path.join(root, p);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.error) throw r.error;
  return r;
}
function openssl(...args) {
  const r = run("openssl", args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
}

// A CA, a server certificate for 127.0.0.1/localhost and a client
// certificate, as cert-manager's tls.crt, tls.key and ca.crt.
function makeTls(dir) {
  mkdirSync(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl("req", "-x509", ...ec, "-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.crt`, "-days", "2", "-subj", "/CN=aims test CA");
  for (const [name, cn, ext] of [["tls", "aims-collector", "subjectAltName=IP:127.0.0.1,DNS:localhost"], ["client", "aims test client", "extendedKeyUsage=clientAuth"]]) {
    openssl("req", ...ec, "-keyout", `${dir}/${name}.key`, "-out", `${dir}/${name}.csr`, "-subj", `/CN=${cn}`, "-addext", ext);
    openssl("x509", "-req", "-in", `${dir}/${name}.csr`, "-CA", `${dir}/ca.crt`, "-CAkey", `${dir}/ca.key`, "-CAcreateserial",
      "-out", `${dir}/${name}.crt`, "-days", "2", "-copy_extensions", "copy");
  }
}

const args = container.args || [];
const flag = (name) => args.find((a) => a.startsWith(`--${name}=`))?.split("=").slice(1).join("=");
let token = null;
const clientDir = at("client");
for (const m of container.volumeMounts || []) {
  const v = (spec.volumes || []).find((x) => x.name === m.name);
  const dir = at(m.mountPath);
  mkdirSync(dir, { recursive: true });
  if (v?.configMap) {
    const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === v.configMap.name);
    for (const [k, text] of Object.entries(cm?.data || {})) writeFileSync(path.join(dir, k), text);
  } else if (v?.secret && flag("auth_tokens_file")?.startsWith(m.mountPath + "/")) {
    const r = run(aimsctl, ["token", "create", "--name=ops", "--role=admin", "--json"]);
    const t = JSON.parse(r.stdout);
    token = t.token;
    writeFileSync(path.join(root, flag("auth_tokens_file")), `tokens:\n  - name: ops\n    role: admin\n    sha256: ${t.sha256}\n`);
    mkdirSync(clientDir, { recursive: true });
    writeFileSync(path.join(clientDir, "token"), token + "\n", { mode: 0o600 });
  } else if (v?.secret && flag("tls_cert_file")?.startsWith(m.mountPath + "/")) {
    makeTls(dir);
  }
}

// Fleet mode with tokens: the admin token for replication (--fleet_token_file).
if (flag("fleet_token_file") && token) {
  mkdirSync(path.dirname(path.join(root, flag("fleet_token_file"))), { recursive: true });
  writeFileSync(path.join(root, flag("fleet_token_file")), token + "\n", { mode: 0o600 });
}

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}
const mounts = (container.volumeMounts || []).map((m) => m.mountPath);
let httpPort = null;
let grpcPort = null;
// The rendered args with free ports (chosen anew for each start attempt).
async function runArgsWithFreePorts() {
  const runArgs = [];
  for (const a of args) {
    const m = a.match(/^(--(grpc|http)_listen)=(.+):(\d+)$/);
    if (m) {
      const port = await freePort();
      if (m[2] === "http") httpPort = port;
      else grpcPort = port;
      runArgs.push(`${m[1]}=${m[3]}:${port}`);
      continue;
    }
    if (a.startsWith("--fleet_etcd=")) {
      runArgs.push(`--fleet_etcd=127.0.0.1:${etcdPort}`);
      continue;
    }
    const v = a.match(/^(--\w+)=(\/.*)$/);
    if (v && mounts.some((p) => v[2] === p || v[2].startsWith(p + "/"))) runArgs.push(`${v[1]}=${path.join(root, v[2])}`);
    else runArgs.push(a.replace(/\$\((\w+)\)/g, (m, name) => env[name] ?? m));
  }
  return runArgs;
}
// The environment the manifests give (downward API values stubbed).
const env = { ...process.env };
for (const e of container.env || []) env[e.name] = e.value ?? "aims-collector-0";

// Fleet mode: a one-member etcd on loopback, and its keys under a prefix
// read through etcd's JSON gateway (/v3/kv/range; keys are base64).
let etcd = null;
let etcdPort = null;
const b64 = (t) => Buffer.from(t).toString("base64");
async function etcdKeys(prefix) {
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const r = await fetch(`http://127.0.0.1:${etcdPort}/v3/kv/range`, {
    method: "POST", body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }), signal: AbortSignal.timeout(2000),
  });
  const body = await r.json();
  return (body.kvs || []).map((kv) => Buffer.from(kv.key, "base64").toString());
}
async function startEtcd() {
  etcdPort = await freePort();
  const peer = await freePort();
  const dir = at("etcd");
  etcd = spawn("etcd", ["--name=test", `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`, `--listen-peer-urls=http://127.0.0.1:${peer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=test=http://127.0.0.1:${peer}`],
  { stdio: ["ignore", "ignore", "pipe"] });
  let etcdLog = "";
  etcd.stderr.on("data", (d) => (etcdLog += d));
  for (let i = 0; i < 100; i++) {
    try {
      await etcdKeys("/");
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`etcd did not start:\n${etcdLog.slice(-2000)}`);
}
const fleet = flag("fleet_etcd") !== undefined;

let proc = null;
let log = "";
let exited = null;
let exitPromise = null;
function start(runArgs) {
  console.log(`running aims-collector ${runArgs.join(" ")}`);
  proc = spawn(collectorBin, runArgs, { env, stdio: ["ignore", "pipe", "pipe"] });
  log = "";
  exited = null;
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  exitPromise = new Promise((resolve) => proc.on("exit", (code, signal) => resolve((exited = { code, signal }))));
}

async function get(p, headers = {}) {
  try {
    const r = await fetch(`http://127.0.0.1:${httpPort}${p}`, { headers, signal: AbortSignal.timeout(2000) });
    return r.status;
  } catch {
    return null;
  }
}
function ctl(extra) {
  return run(aimsctl, [`--collector=127.0.0.1:${grpcPort}`, ...extra, "models"], { timeout: 20000 });
}

try {
  if (fleet) await startEtcd();
  let health = null;
  // A free port can be taken by another test between the probe and the
  // collector's bind: start again on new ports (at most three times).
  for (let attempt = 1; attempt <= 3; attempt++) {
    start(await runArgsWithFreePorts());
    const deadline = Date.now() + 30000;
    while (Date.now() < deadline && !exited) {
      health = await get("/healthz");
      if (health === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (health === 200 || !exited || !/address in use/.test(log)) break;
    console.log(`a port was taken before the collector bound it; attempt ${attempt + 1}`);
  }
  check("the collector starts with the rendered args and /healthz answers 200", health === 200 && !exited,
    exited ? `exited ${JSON.stringify(exited)}:\n${log.slice(-2000)}` : `/healthz ${health}`);
  if (health === 200) {
    let ready = null;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = await get("/readyz");
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    check("/readyz answers 200", ready === 200, `got ${ready}`);

    const tls = flag("tls_cert_file") ? ["--ca_file=" + at("/etc/aims/tls/ca.crt"), "--server_name=localhost"] : [];
    const cert = flag("tls_client_ca_file") ? ["--cert_file=" + at("/etc/aims/tls/client.crt"), "--key_file=" + at("/etc/aims/tls/client.key")] : [];
    const tok = token ? [`--token_file=${path.join(clientDir, "token")}`] : [];
    let r = ctl([...tls, ...cert, ...tok]);
    check("aimsctl models is served with what the manifests ask for", r.status === 0, r.stderr.slice(-500));
    if (token) {
      check("/v1/models without a token answers 401", (await get("/v1/models")) === 401, "not 401");
      check("/v1/models with the token answers 200", (await get("/v1/models", { authorization: `Bearer ${token}` })) === 200, "not 200");
      r = ctl([...tls, ...cert]);
      check("aimsctl without a token is refused", r.status !== 0, "served");
    } else {
      check("/v1/models needs no token (no --auth_tokens_file)", (await get("/v1/models")) === 200, "not 200");
    }
    if (fleet) {
      const advertised = flag("fleet_advertise").replace(/\$\((\w+)\)/g, (m, name) => env[name] ?? m);
      let keys = [];
      for (let i = 0; i < 50 && keys.length === 0; i++) {
        keys = await etcdKeys("/aims/fleet/members/");
        if (keys.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      check(`fleet: the collector is a member in etcd as ${advertised}`, keys.join() === `/aims/fleet/members/${advertised}`, keys.join() || "no member");
      let members = null;
      for (let i = 0; i < 50 && members !== "1"; i++) {
        const page = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
        members = /^aims_fleet_members\S* (\S+)$/m.exec(page)?.[1];
        if (members !== "1") await new Promise((r) => setTimeout(r, 200));
      }
      check("fleet: it sees itself (aims_fleet_members 1)", members === "1", `aims_fleet_members ${members}`);
    }
    if (tls.length) {
      r = ctl([...cert, ...tok]);
      check("aimsctl in plaintext is refused by the TLS listener", r.status !== 0, "served");
    }
    if (cert.length) {
      r = ctl([...tls, ...tok]);
      check("aimsctl without a client certificate is refused (mTLS)", r.status !== 0, "served");
    }
  }
} finally {
  if (proc && !exited) {
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30000);
    const { code, signal } = await exitPromise;
    clearTimeout(timer);
    check("SIGTERM stops it with exit code 0", code === 0, `code ${code} signal ${signal}:\n${log.slice(-1000)}`);
    if (fleet) {
      const keys = await etcdKeys("/aims/fleet/members/");
      check("fleet: a stopped collector leaves etcd at once (its lease revoked)", keys.length === 0, keys.join());
    }
  }
  if (etcd && etcd.exitCode === null) {
    const gone = new Promise((resolve) => etcd.on("exit", resolve));
    etcd.kill("SIGTERM");
    await gone;
  }
  rmSync(root, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
