"""Measures aims-agent's resource use at a steady event rate.

Starts a real aims-collector and aims-agent (from --build), sends events with
--features numeric features at --rate events/s in batches of --batch for
--seconds, and reports the agent's CPU (utime+stime from /proc, as a share of
one core) and resident memory (VmRSS at the end, VmHWM peak) as JSON.

    python3 tests/bench/agent_budget.py --build build --rate 1000 --features 25
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request


def wait_port(path, name, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            for line in open(path):
                key, port = line.split()
                if key == name:
                    return int(port)
        time.sleep(0.02)
    raise RuntimeError("no %s port in %s" % (name, path))


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def memory(pid):
    values = {}
    for line in open("/proc/%d/status" % pid):
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--window", default="10s")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="aims-budget-")
    collector = subprocess.Popen(
        [os.path.join(args.build, "collector/aims-collector"), "--grpc_listen=127.0.0.1:0",
         "--http_listen=127.0.0.1:0", "--data_dir=" + tmp + "/c",
         "--ports_file=" + tmp + "/c.ports"], stderr=subprocess.DEVNULL)
    grpc_port = wait_port(tmp + "/c.ports", "grpc")
    agent = subprocess.Popen(
        [os.path.join(args.build, "agent/aims-agent"), "--model_name=budget",
         "--model_version=v1", "--collector=127.0.0.1:%d" % grpc_port,
         "--http_listen=127.0.0.1:0", "--grpc_listen=", "--window=" + args.window,
         "--data_dir=" + tmp + "/a", "--ports_file=" + tmp + "/a.ports"],
        stderr=subprocess.DEVNULL)
    port = wait_port(tmp + "/a.ports", "http")
    url = "http://127.0.0.1:%d/v1/events" % port
    rng = random.Random(1)
    names = ["f%d" % i for i in range(args.features)]

    def batch():
        return json.dumps([{
            "prediction": rng.random() < 0.3, "score": rng.random(),
            "features": {n: rng.gauss(0, 1) for n in names},
            "attributes": {"gender": rng.choice(["f", "m"])},
            "latency_ms": rng.expovariate(1 / 20.0)} for _ in range(args.batch)]).encode()

    interval = args.batch / args.rate
    time.sleep(1.0)
    cpu0, t0 = cpu_seconds(agent.pid), time.monotonic()
    sent, next_at = 0, t0
    while time.monotonic() - t0 < args.seconds:
        body = batch()
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            resp.read()
        sent += args.batch
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    elapsed = time.monotonic() - t0
    cpu = cpu_seconds(agent.pid) - cpu0
    mem = memory(agent.pid)
    agent.terminate()
    agent.wait(30)
    collector.terminate()
    collector.wait(30)
    print(json.dumps({
        "rate_events_per_s": round(sent / elapsed, 1),
        "features": args.features,
        "seconds": round(elapsed, 1),
        "agent_cpu_share_of_one_core": round(cpu / elapsed, 4),
        "agent_rss_bytes": mem.get("VmRSS"),
        "agent_peak_rss_bytes": mem.get("VmHWM"),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
