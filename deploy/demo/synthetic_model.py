"""Synthetic credit-scoring model traffic for the aims demo (stdlib only).

Simulates a binary classifier served by several replicas and sends every
inference to their aims agents (POST /v1/events, JSON arrays), with the true
label inline for a share of events and, with --late-labels, the label of a
further share only later (written to a file that --send-labels posts to the
collector's central label join, which credits each label to the window of
its prediction). On a schedule the traffic changes:

  baseline  the model sees the population it was trained on;
  drifted   from --drift-at: applicants' income falls ~30 %, debt ratios rise
            and the region mix shifts (input drift);
  biased    from --bias-at: the model's score for women is pushed down, so
            their selection rate falls far below men's (disparate impact) and
            its accuracy for them drops.

    python3 deploy/demo/synthetic_model.py --agents http://127.0.0.1:9465,http://127.0.0.1:9467
    python3 deploy/demo/synthetic_model.py --send-labels late.jsonl \
        --collector-http http://127.0.0.1:9464 --model credit-scoring --environment demo
"""

import argparse
import json
import math
import random
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

REGIONS = ["north", "south", "east", "west"]
EMPLOYMENT = ["salaried", "self-employed", "unemployed", "retired"]


def age_band(age):
    if age < 25:
        return "18-25"
    if age < 40:
        return "25-40"
    if age < 60:
        return "40-60"
    return "60+"


def applicant(rng, drifted):
    age = max(18, min(85, rng.gauss(42, 13)))
    income = rng.lognormvariate(math.log(48000), 0.45) * (0.7 if drifted else 1.0)
    debt_ratio = min(1.5, max(0.0, rng.gauss(0.45 if drifted else 0.32, 0.12)))
    region_weights = [0.15, 0.45, 0.25, 0.15] if drifted else [0.3, 0.25, 0.25, 0.2]
    return {
        "age": round(age, 1),
        "income": round(income, 2),
        "debt_ratio": round(debt_ratio, 3),
        "credit_history_years": round(max(0.0, min(age - 18, rng.gauss(12, 7))), 1),
        "num_accounts": max(0, int(rng.gauss(4, 2))),
        "loan_amount": round(rng.lognormvariate(math.log(15000), 0.6), 2),
        "employment": rng.choices(EMPLOYMENT, [0.6, 0.2, 0.08, 0.12])[0],
        "region": rng.choices(REGIONS, region_weights)[0],
    }


def true_logit(f):
    return (1.2 * math.log(f["income"] / 48000) - 4.0 * (f["debt_ratio"] - 0.32)
            + 0.05 * (f["credit_history_years"] - 12) + 0.4
            - (1.0 if f["employment"] == "unemployed" else 0.0))


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def event(rng, n, phase, label_fraction, late_fraction, late):
    f = applicant(rng, drifted=phase != "baseline")
    gender = rng.choice(["female", "male"])
    truth = 1 if rng.random() < sigmoid(true_logit(f)) else 0
    score = sigmoid(true_logit(f) + rng.gauss(0, 0.35))
    if phase == "biased" and gender == "female":
        score = max(0.0, score - 0.3)
    if rng.random() < 0.005:
        f[rng.choice(list(f))] = None  # a missing value now and then
    e = {
        "prediction_id": "demo-%d" % n,
        "timestamp": time.time(),
        "features": f,
        "prediction": 1 if score >= 0.5 else 0,
        "score": round(score, 4),
        "attributes": {"gender": gender, "age_band": age_band(f["age"] or 40)},
        "latency_ms": round(rng.lognormvariate(math.log(20), 0.4), 2),
        "error": rng.random() < 0.01,
    }
    draw = rng.random()  # one draw either way: the traffic stays the same
    if draw < label_fraction:
        e["label"] = truth
    elif draw < label_fraction + late_fraction:
        late.append({"prediction_id": e["prediction_id"], "label": truth})
    return e


def post(url, batch, counts, path="/v1/events"):
    body = json.dumps(batch).encode()
    for attempt in range(5):
        request = urllib.request.Request(url + path, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                answer = json.loads(resp.read())
                counts["accepted"] += answer.get("accepted", 0)
                counts["rejected"] += answer.get("rejected", 0)
                return
        except urllib.error.HTTPError as err:
            if err.code in (429, 503):
                time.sleep(float(err.headers.get("Retry-After") or 1))
                continue
            counts["http_errors"] += 1
            return
        except (urllib.error.URLError, OSError):
            counts["http_errors"] += 1
            time.sleep(0.5 * (attempt + 1))
    counts["http_errors"] += 1


def send_labels(args):
    """Posts the labels of a --late-labels file to the collector."""
    with open(args.send_labels) as f:
        labels = [json.loads(line) for line in f if line.strip()]
    counts = {"accepted": 0, "rejected": 0, "http_errors": 0}
    path = "/v1/labels?" + urllib.parse.urlencode({"model": args.model,
                                                   "environment": args.environment})
    for i in range(0, len(labels), 1000):
        post(args.collector_http.rstrip("/"), labels[i:i + 1000], counts, path=path)
    print("labels sent=%d accepted=%d rejected=%d http_errors=%d"
          % (len(labels), counts["accepted"], counts["rejected"], counts["http_errors"]))
    return 0 if counts["accepted"] == len(labels) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", default="http://127.0.0.1:9465",
                        help="comma-separated agent base URLs, one per replica")
    parser.add_argument("--rate", type=float, default=200, help="events/s in total")
    parser.add_argument("--duration", type=float, default=60, help="seconds to run")
    parser.add_argument("--drift-at", type=float, default=20,
                        help="seconds after start when input drift begins")
    parser.add_argument("--bias-at", type=float, default=35,
                        help="seconds after start when the model turns biased")
    parser.add_argument("--label-fraction", type=float, default=0.5,
                        help="share of events that carry their true label")
    parser.add_argument("--late-label-fraction", type=float, default=0.0,
                        help="share of events whose label comes later (see --late-labels)")
    parser.add_argument("--late-labels", metavar="FILE",
                        help="write the late labels here (JSON lines) instead of sending them")
    parser.add_argument("--send-labels", metavar="FILE",
                        help="post the labels of FILE to --collector-http, then exit")
    parser.add_argument("--collector-http", default="http://127.0.0.1:9464",
                        help="the collector's HTTP address, for --send-labels")
    parser.add_argument("--model", default="credit-scoring", help="for --send-labels")
    parser.add_argument("--environment", default="demo", help="for --send-labels")
    parser.add_argument("--batch", type=int, default=50, help="events per request")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.send_labels:
        return send_labels(args)
    if args.late_label_fraction and not args.late_labels:
        parser.error("--late-label-fraction needs --late-labels FILE")

    rng = random.Random(args.seed)
    agents = [a.strip().rstrip("/") for a in args.agents.split(",") if a.strip()]
    counts = {"sent": 0, "accepted": 0, "rejected": 0, "http_errors": 0}
    start = time.monotonic()
    next_report = start + 5
    n = 0
    replica = 0
    late = []
    while True:
        elapsed = time.monotonic() - start
        if elapsed >= args.duration:
            break
        phase = ("biased" if elapsed >= args.bias_at else
                 "drifted" if elapsed >= args.drift_at else "baseline")
        batch = [event(rng, n + i, phase, args.label_fraction, args.late_label_fraction, late)
                 for i in range(args.batch)]
        n += len(batch)
        post(agents[replica % len(agents)], batch, counts)
        replica += 1
        counts["sent"] += len(batch)
        if time.monotonic() >= next_report:
            print("t=%3.0fs phase=%-8s sent=%d accepted=%d rejected=%d http_errors=%d"
                  % (elapsed, phase, counts["sent"], counts["accepted"],
                     counts["rejected"], counts["http_errors"]), file=sys.stderr)
            next_report += 5
        sleep = start + n / args.rate - time.monotonic()
        if sleep > 0:
            time.sleep(sleep)
    print("sent=%d accepted=%d rejected=%d" % (counts["sent"], counts["accepted"],
                                                counts["rejected"]))
    if args.late_labels:
        with open(args.late_labels, "w") as f:
            for label in late:
                f.write(json.dumps(label) + "\n")
        print("late labels held back=%d (%s)" % (len(late), args.late_labels))
    return 0 if counts["accepted"] == counts["sent"] else 1


if __name__ == "__main__":
    sys.exit(main())
