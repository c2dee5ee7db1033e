"""Wraps a scikit-learn style model so every prediction reaches aims-agent.

Run an agent first, e.g.:
    build/agent/aims-agent --model_name=iris --model_version=v1 --task=multiclass
then:
    python3 agent/python/examples/sklearn_wrapper.py [--agent http://127.0.0.1:9465]

Uses scikit-learn's LogisticRegression on the iris data when scikit-learn is
installed (Debian: python3-sklearn), else a tiny rule-based model with the
same predict / predict_proba interface.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from aims_client import AimsClient, MonitoredModel  # noqa: E402


class ThresholdModel:
    """Stand-in estimator: class 1 when petal length > 2.5."""
    classes_ = [0, 1]

    def predict(self, X):
        return [1 if row[2] > 2.5 else 0 for row in X]

    def predict_proba(self, X):
        return [[0.1, 0.9] if row[2] > 2.5 else [0.8, 0.2] for row in X]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", default="http://127.0.0.1:9465")
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    try:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        X, y = load_iris(return_X_y=True)
        model = LogisticRegression(max_iter=500).fit(X, y)
        rows = [list(X[random.randrange(len(X))]) for _ in range(args.rows)]
    except ImportError:
        model = ThresholdModel()
        rows = [[random.uniform(4, 8), random.uniform(2, 4.5),
                 random.uniform(1, 7), random.uniform(0.1, 2.5)]
                for _ in range(args.rows)]
    with AimsClient(args.agent, batch_size=100) as client:
        monitored = MonitoredModel(
            model, client, names,
            attributes_fn=lambda i, row: {"site": "north" if i % 2 else "south"})
        for start in range(0, len(rows), 50):
            monitored.predict_proba(rows[start:start + 50])
    print("sent", client.stats)
    return 0 if client.stats["failed"] == 0 and client.stats["dropped"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
