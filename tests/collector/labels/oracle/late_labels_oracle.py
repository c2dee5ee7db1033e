"""Oracle for the collector's central label join: per-window accuracy with
delayed labels credited to the prediction's window, by scikit-learn.

Writes a seeded scenario as JSON for
tests/collector/labels/late_labels_oracle_test.cc: windows of predictions
(3 classes), then a stream of label deliveries in arrival order with delays
of up to two days - some labels before their prediction's report reaches the
collector, some delivered twice, some corrected later - and the expected
accuracy of each window: sklearn's accuracy_score over the window's
predictions that have a label, each with its last delivered label.

Run with Debian's interpreter (python3-sklearn):
    /usr/bin/python3 tests/collector/labels/oracle/late_labels_oracle.py OUT
"""

import json
import sys

import numpy as np
from sklearn.metrics import accuracy_score

rng = np.random.default_rng(20261206)
CLASSES = ["a", "b", "c"]
WINDOWS = 6
PER_WINDOW = 300

windows = []
for w in range(WINDOWS):
    preds = []
    for i in range(PER_WINDOW):
        preds.append({"id": f"w{w}-{i}", "prediction": str(rng.choice(CLASSES))})
    windows.append(preds)

# Deliveries: (arrival seconds after the first window, id, label). 90 % of
# predictions get a label, right with probability 0.7 + 0.04 * window.
deliveries = []
for w, preds in enumerate(windows):
    p_right = 0.7 + 0.04 * w
    for p in preds:
        if rng.random() < 0.1:
            continue
        truth = p["prediction"] if rng.random() < p_right else str(
            rng.choice([c for c in CLASSES if c != p["prediction"]]))
        # Some labels arrive before the report (negative: before the
        # window's report is written, see reports_at).
        delay = float(rng.uniform(-50, 2 * 86400))
        arrival = w * 60 + 60 + delay
        deliveries.append([arrival, p["id"], truth])
        if rng.random() < 0.1:  # delivered twice
            deliveries.append([arrival + float(rng.uniform(1, 3600)), p["id"],
                               truth])
        if rng.random() < 0.1:  # corrected later
            other = str(rng.choice([c for c in CLASSES if c != truth]))
            deliveries.append([arrival + float(rng.uniform(3600, 7200)),
                               p["id"], other])
deliveries.sort(key=lambda d: d[0])

final = {}
for _, pid, label in deliveries:
    final[pid] = label

expected = []
for preds in windows:
    y_true = [final[p["id"]] for p in preds if p["id"] in final]
    y_pred = [p["prediction"] for p in preds if p["id"] in final]
    expected.append({"accuracy": float(accuracy_score(y_true, y_pred)),
                     "labelled": len(y_true)})

# Each window's report reaches the collector 60 s after the window ends.
json.dump({"windows": windows,
           "reports_at": [w * 60 + 120 for w in range(WINDOWS)],
           "deliveries": deliveries,
           "expected": expected}, open(sys.argv[1], "w"))
