#!/usr/bin/python3
"""The inhibit rule of deploy/alertmanager/alertmanager.yml in the real
Alertmanager (Debian prometheus-alertmanager, on a free loopback port):
a nonconformity alert (AimsObjectiveFailed) stays active while one collector
is down (AimsCollectorDown: in fleet mode the others evaluate its models),
and is suppressed while every collector is down (AimsCollectorsAllDown).
amtool tests routes, not inhibition; this tests the latter.

Usage: inhibit_check.py SOURCE_DIR
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

failures = []


def check(name, ok, why=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + why}")
    if not ok:
        failures.append(name)


def api(port, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/{path}", data,
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


def alert(labels):
    return {"labels": labels, "annotations": {"summary": "inhibit_check"}}


def state(port, alertname):
    """(state, fingerprints of the alerts inhibiting it, its fingerprint)."""
    for a in api(port, "alerts"):
        if a["labels"]["alertname"] == alertname:
            return a["status"]["state"], a["status"]["inhibitedBy"], a["fingerprint"]
    return None, None, None


def main(src):
    root = tempfile.mkdtemp(prefix="aims-inhibit-check-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.path.join(root, "alertmanager.log"), "w")
    am = subprocess.Popen(["prometheus-alertmanager",
                           f"--config.file={os.path.join(src, 'deploy/alertmanager/alertmanager.yml')}",
                           f"--storage.path={root}", f"--web.listen-address=127.0.0.1:{port}",
                           "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                api(port, "status")
                break
            except OSError:
                time.sleep(0.2)
        nc = {"alertname": "AimsObjectiveFailed", "objective": "accuracy", "model": "credit",
              "model_version": "v1", "environment": "prod", "severity": "critical"}
        api(port, "alerts", [alert(nc), alert({"alertname": "AimsCollectorDown", "job": "aims-collector",
                                               "instance": "c1:9464", "severity": "critical", "team": "sre"})])
        st, by, _ = state(port, "AimsObjectiveFailed")
        check("one collector down (AimsCollectorDown): the nonconformity alert stays active", st == "active", f"{st} by {by}")
        api(port, "alerts", [alert({"alertname": "AimsCollectorsAllDown", "job": "aims-collector",
                                    "severity": "critical", "team": "sre"})])
        st, by, _ = state(port, "AimsObjectiveFailed")
        all_down = state(port, "AimsCollectorsAllDown")[2]
        check("every collector down (AimsCollectorsAllDown): the nonconformity alert is suppressed by it",
              st == "suppressed" and by == [all_down], f"{st} by {by}, AimsCollectorsAllDown is {all_down}")
        st, by, _ = state(port, "AimsCollectorDown")
        check("AimsCollectorDown itself is not suppressed", st == "active", f"{st} by {by}")
    except OSError as e:
        check("Alertmanager answers", False, f"{e}\n{open(os.path.join(root, 'alertmanager.log')).read()[-2000:]}")
    finally:
        am.terminate()
        am.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    main(sys.argv[1])
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)
