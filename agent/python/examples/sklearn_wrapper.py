"""A scikit-learn model monitored by aims, with delayed labels.

A binary classifier (breast cancer data) serves predictions through
MonitoredModel; the ground truth arrives later and is sent with label().
Start a binary agent first (docs/python.md), then:

    pip install ./agent/python
    build/agent/aims-agent --model_name=cancer --model_version=v1 --task=binary \
        --collector=127.0.0.1:50051
    python3 agent/python/examples/sklearn_wrapper.py --agent http://127.0.0.1:9465

The aims-specific lines are between the `aims:` markers (tests/python checks
that there are fewer than 15 and that the example reaches accuracy).
"""

import argparse
import os
import time
from typing import Any, List, Tuple

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import aims_client  # aims:


def train() -> Tuple[Any, Any, Any, List[str]]:
    """A model, the rows it will serve with their ground truth, feature names."""
    data = load_breast_cancer()
    X_train, X_live, y_train, y_live = train_test_split(
        data.data, data.target, test_size=200, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    return model, X_live, y_live, [n.replace(" ", "_") for n in data.feature_names]


def main() -> None:
    parser = argparse.ArgumentParser(description="aims-client with scikit-learn")
    parser.add_argument("--agent", default="http://127.0.0.1:9465")
    parser.add_argument("--label_delay", type=float, default=2.0,
                        help="seconds before the ground truth arrives")
    args = parser.parse_args()
    model, X_live, y_live, names = train()

    # aims: begin
    token = os.environ.get("AIMS_INTAKE_TOKEN")  # when the agent requires one
    with aims_client.AimsClient(args.agent, token=token) as client:
        monitored = aims_client.MonitoredModel(model, client, feature_names=names)
        ids = []
        for start in range(0, len(X_live), 20):  # requests of 20 rows
            site = "north" if start % 40 else "south"  # an attribute, not a feature
            _, batch_ids = monitored.predict_proba_with_ids(
                X_live[start:start + 20], attributes={"site": site})
            ids += batch_ids
        time.sleep(args.label_delay)  # ... until the ground truth is known
        for prediction_id, truth in zip(ids, y_live):
            client.label(prediction_id, int(truth))
    print("events", client.stats, "labels", client.label_stats)
    # aims: end


if __name__ == "__main__":
    main()
