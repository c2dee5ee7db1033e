#!/usr/bin/python3
"""Fleet mode where SREs work: the collectors' dashboard and the fleet rules
against a real fleet, as tests/integration/prometheus_test.cc checks the
other dashboards and rules against a single collector (whose exposition has
no aims_fleet_* series, hence this separate check).

Starts etcd (Debian etcd-server), two collectors in fleet mode and the real
Prometheus on free loopback ports, then:
 - deploy/grafana/collectors.json: every panel has a unit and the datasource
   variable, ids are unique, panels do not overlap;
 - every query of it and every expression of aims-fleet-rules.yml names
   series and labels the collectors export (job, instance and namespace are
   target labels); they and aims-rules.yml's expressions run in Prometheus
   (which loads both files); every panel shows data;
 - the fleet's alert expressions say what they mean: nothing while both
   collectors run; after SIGKILL of one, AimsFleetCollectorLost's is 1 and
   AimsCollectorsAllDown's empty; after SIGKILL of the other too,
   AimsCollectorsAllDown's is 2 (nonconformity alerts held) and
   AimsFleetCollectorLost's empty.
Usage: fleet_check.py SOURCE_DIR AIMS_COLLECTOR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

TARGET_LABELS = {"job", "instance", "namespace"}

failures = []


def check(name, ok, why=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + why}")
    if not ok:
        failures.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.2)
    return what()


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def query(port, promql):
    """(ok, [(labels, value)]) of an instant query."""
    data = urllib.parse.urlencode({"query": promql}).encode()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/query", data, timeout=10) as r:
            body = json.load(r)
    except OSError as e:
        return False, str(e)
    if body.get("status") != "success":
        return False, body
    return True, [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]


def families(page):
    """Exposition text -> {family: labels seen}."""
    out = {}
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            out.setdefault(line.split()[2], set())
        elif line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            if name not in out:
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix) and name[: -len(suffix)] in out:
                        name = name[: -len(suffix)]
            out.setdefault(name, set()).update(re.findall(r'([a-zA-Z_]\w*)="', line.split(" ")[0]))
    return out


def promql_use(expr):
    """Series names with the labels their selectors match, and grouping labels."""
    unquoted = re.sub(r'"[^"]*"', '""', expr)
    names = {}
    for m in re.finditer(r"\b((?:aims|process)_[a-z0-9_]+|up)\b(\s*\{([^}]*)\})?", unquoted):
        names.setdefault(m.group(1), set())
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", expr):
        if m.group(1) in names:
            names[m.group(1)].update(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(2)))
    grouping = set()
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        grouping.update(label.strip() for label in m.group(1).split(",") if label.strip())
    return names, grouping


def check_dashboard_structure(dashboard):
    ids = [p["id"] for p in dashboard["panels"]]
    check("collectors.json: panel ids are unique", len(ids) == len(set(ids)), str(ids))
    for p in dashboard["panels"]:
        where = f"collectors.json: {p['title']}"
        check(f"{where}: has a unit", bool(p.get("fieldConfig", {}).get("defaults", {}).get("unit")))
        uids = {p["datasource"]["uid"]} | {t["datasource"]["uid"] for t in p["targets"]}
        check(f"{where}: uses the datasource variable", uids == {"${datasource}"}, str(uids))
    cells = {}
    for p in dashboard["panels"]:
        g = p["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                cells.setdefault((x, y), []).append(p["id"])
    overlaps = sorted({tuple(v) for v in cells.values() if len(v) > 1})
    check("collectors.json: panels do not overlap, within 24 columns",
          not overlaps and max(x for x, _ in cells) < 24, str(overlaps))


def check_names(where, expr, exported, labels):
    """Every name and label of expr is exported."""
    names, grouping = promql_use(expr)
    check(f"{where}: names a series", bool(names), expr)
    for name, selector_labels in names.items():
        if name not in exported:
            check(f"{where}: {name} is exported", False, "not in the collectors' /metrics")
            continue
        missing = selector_labels - exported[name] - TARGET_LABELS
        check(f"{where}: {name} has the labels {sorted(selector_labels)}", not missing, f"no {sorted(missing)}")
    missing = grouping - labels - TARGET_LABELS
    check(f"{where}: grouping labels {sorted(grouping)} exist", not missing, f"no series has {sorted(missing)}")


def main(src, collector_bin):
    root = tempfile.mkdtemp(prefix="aims-fleet-check-")
    procs = {}

    def start(name, args):
        log = open(os.path.join(root, f"{name}.log"), "w")
        procs[name] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    try:
        etcd_port, peer = free_port(), free_port()
        start("etcd", ["etcd", "--name=check", f"--data-dir={root}/etcd",
                       f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                       f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                       f"--listen-peer-urls=http://127.0.0.1:{peer}",
                       f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                       f"--initial-cluster=check=http://127.0.0.1:{peer}"])
        if not wait_for(lambda: http_get(f"http://127.0.0.1:{etcd_port}/health"), 30):
            check("etcd starts", False, open(f"{root}/etcd.log").read()[-2000:])
            return
        http = {}
        for name in ("c0", "c1"):
            grpc = free_port()
            start(name, [collector_bin, f"--grpc_listen=127.0.0.1:{grpc}", "--http_listen=127.0.0.1:0",
                         f"--collector_id={name}", f"--data_dir={root}/{name}", "--sync_writes=false",
                         f"--ports_file={root}/{name}.ports", f"--fleet_etcd=127.0.0.1:{etcd_port}",
                         f"--fleet_advertise=127.0.0.1:{grpc}", "--fleet_lease_ttl=2s"])
        for name in ("c0", "c1"):
            ports = wait_for(lambda: os.path.exists(f"{root}/{name}.ports") and open(f"{root}/{name}.ports").read(), 30)
            m = re.search(r"http (\d+)", ports or "")
            if not m:
                check(f"collector {name} starts", False, open(f"{root}/{name}.log").read()[-2000:])
                return
            http[name] = int(m.group(1))
        members = lambda: all(re.search(r"^aims_fleet_members 2$", http_get(f"http://127.0.0.1:{p}/metrics") or "", re.M)
                              for p in http.values())
        check("both collectors see both (aims_fleet_members 2)", wait_for(members, 30))

        exported, labels = {}, set()
        for p in http.values():
            for name, ls in families(http_get(f"http://127.0.0.1:{p}/metrics")).items():
                exported.setdefault(name, set()).update(ls)
                labels.update(ls)
        exported["up"] = set()

        prom = free_port()
        rules = [os.path.join(src, "deploy/prometheus", f) for f in ("aims-rules.yml", "aims-fleet-rules.yml")]
        with open(f"{root}/prometheus.yml", "w") as f:
            yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                            "rule_files": rules,
                            "scrape_configs": [{"job_name": "aims-collector", "static_configs": [
                                {"targets": [f"127.0.0.1:{p}" for p in http.values()]}]}]}, f)
        start("prometheus", ["prometheus", f"--config.file={root}/prometheus.yml",
                             f"--storage.tsdb.path={root}/tsdb", f"--web.listen-address=127.0.0.1:{prom}"])
        up = wait_for(lambda: query(prom, "sum(up) == 2 and min(aims_fleet_members) == 2")[1], 60)
        if not up:
            check("Prometheus scrapes both collectors", False, open(f"{root}/prometheus.log").read()[-2000:])
            return
        # Three scrapes at least, for rate() and increase().
        wait_for(lambda: len(query(prom, "count_over_time(up[1m]) >= 3")[1]) == 2, 30)
        rule_groups = [g for f in rules for g in yaml.safe_load(open(f))["groups"]]
        fleet_rules = {r["alert"] for g in yaml.safe_load(open(rules[1]))["groups"] for r in g["rules"]}
        check("Prometheus loaded both rule files", wait_for(
            lambda: len(json.loads(http_get(f"http://127.0.0.1:{prom}/api/v1/rules"))["data"]["groups"]) == len(rule_groups), 10))

        dashboard = json.load(open(os.path.join(src, "deploy/grafana/collectors.json")))
        check_dashboard_structure(dashboard)
        for p in dashboard["panels"]:
            where = f"collectors.json: {p['title']}"
            series = 0
            for t in p["targets"]:
                check_names(where, t["expr"], exported, labels)
                ok, result = query(prom, t["expr"])
                check(f"{where}: {t['expr']} runs", ok, str(result))
                series += len(result) if ok else 0
            check(f"{where}: shows data", series > 0, "no series")
        for g in rule_groups:
            for r in g["rules"]:
                # aims-rules.yml's names: prometheus_test.cc, with an agent.
                if r["alert"] in fleet_rules:
                    check_names(r["alert"], r["expr"], exported, labels)
                ok, result = query(prom, r["expr"])
                check(f"{r['alert']}: the expression runs", ok, str(result))

        expr = {r["alert"]: r["expr"] for g in rule_groups for r in g["rules"]}
        lost, all_down = expr["AimsFleetCollectorLost"], expr["AimsCollectorsAllDown"]
        check("both running: AimsFleetCollectorLost's expression is empty", query(prom, lost)[1] == [], str(query(prom, lost)))
        check("both running: AimsCollectorsAllDown's expression is empty", query(prom, all_down)[1] == [])

        procs["c1"].send_signal(signal.SIGKILL)
        procs["c1"].wait()
        got = wait_for(lambda: (lambda r: r if r and r[0][1] == 1 else None)(query(prom, lost)[1]), 30)
        check("c1 killed: AimsFleetCollectorLost's expression is 1 for the fleet", got and len(got) == 1 and got[0][1] == 1,
              str(query(prom, lost)))
        # c0 drops c1 when its lease expires: the member half alone says so.
        check("c1 killed: c0 drops it (aims_fleet_members 1)", wait_for(lambda: query(prom, "aims_fleet_members == 1")[1], 30))
        check("c1 killed: AimsCollectorsAllDown's expression is empty (c0 evaluates)", query(prom, all_down)[1] == [])

        procs["c0"].send_signal(signal.SIGKILL)
        procs["c0"].wait()
        got = wait_for(lambda: query(prom, all_down)[1], 30)
        check("both killed: AimsCollectorsAllDown's expression is 2 (nonconformity alerts held)",
              got and len(got) == 1 and got[0][1] == 2, str(got))
        check("both killed: AimsFleetCollectorLost's expression is empty (no member left to tell)",
              wait_for(lambda: query(prom, lost)[1] == [], 30), str(query(prom, lost)))
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if failures:
            for name in ("etcd", "c0", "c1", "prometheus"):
                path = os.path.join(root, f"{name}.log")
                if os.path.exists(path):
                    print(f"--- {name}.log (tail)\n{open(path).read()[-1500:]}")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)
