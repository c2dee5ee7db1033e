"""aims_client (agent/python/src, on PYTHONPATH) against the real aims-agent
binary (AIMS_AGENT_BIN): batches, per-event errors and warnings, NaN,
delayed labels joined to MonitoredModel's predictions, and an agent that
requires a token (refused once, not retried; accepted with the token)."""

import hashlib
import logging
import re
import tempfile
import unittest
import urllib.request

from aims_client import AimsAuthError, AimsClient, MonitoredModel
from aims_processes import start_agent

logging.getLogger("aims_client").setLevel(logging.CRITICAL)  # refusals are expected


def metric(page: str, series: str) -> float:
    """The value of the first series named as `series` with (at least) its
    labels, e.g. 'aims_agent_events_total{outcome="accepted"}'; -1 if none."""
    name, _, labels = series.partition("{")
    wanted = set(filter(None, labels.rstrip("}").split(",")))
    for match in re.finditer(r"^" + re.escape(name) + r"(?:\{(.*)\})? (\S+)$",
                             page, re.M):
        if wanted <= set(filter(None, (match.group(1) or "").split(","))):
            return float(match.group(2))
    return -1.0


class AgentTest(unittest.TestCase):
    flags: tuple = ()

    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.agent = start_agent(self.dir.name, "agent", "--model_name=py",
                                 "--model_version=v1", "--collector=127.0.0.1:1",
                                 "--grace_period=0s",
                                 # One window for the test: labels meet their
                                 # predictions in it.
                                 "--window=1h",
                                 *self.flags)
        self.url = "http://127.0.0.1:%d" % self.agent.port("http")

    def tearDown(self) -> None:
        self.agent.stop()
        self.dir.cleanup()

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics") as resp:
            return resp.read().decode()


class RealAgentTest(AgentTest):
    def test_batches_reach_the_agent_and_errors_are_counted(self) -> None:
        with AimsClient(self.url, batch_size=64, flush_interval=0.05) as client:
            for i in range(1000):
                client.record({"prediction": i % 2, "features": {"x": i}})
            client.record({"prediction": 1, "score": "high"})  # wrong type
            # Accepted: an unknown field is ignored and comes back as a warning.
            client.record({"prediction": 1, "featurez": {}})  # misspelt
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["accepted"], 1001)
        self.assertEqual(client.stats["rejected"], 1)
        self.assertEqual(client.last_errors[-1]["field"], "score")
        self.assertEqual(client.stats["warnings"], 1)
        self.assertEqual(client.last_warnings[-1]["field"], "featurez")
        page = self.metrics()
        self.assertEqual(metric(page, 'aims_agent_events_total{outcome="accepted"}'), 1001)
        self.assertEqual(metric(page, 'aims_agent_events_total{outcome="rejected"}'), 1)
        self.assertEqual(metric(page, "aims_agent_unknown_fields_total"), 1)

    def test_nan_and_infinity_travel_as_strings(self) -> None:
        with AimsClient(self.url, batch_size=10, flush_interval=0.05) as client:
            client.record({"prediction": 1, "features": {"x": float("nan")}})
            client.record({"prediction": 1, "features": {"x": float("inf")}})
            client.record({"prediction": 1, "features": {"x": 1.5}})
            # A NaN score is refused by the agent, not by the encoder.
            client.record({"prediction": 1, "score": float("nan")})
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["accepted"], 3)
        self.assertEqual(client.stats["rejected"], 1)
        self.assertEqual(client.last_errors[-1]["field"], "score")

    def test_delayed_labels_join_the_monitored_models_predictions(self) -> None:
        class Model:
            classes_ = [0, 1]

            def predict_proba(self, X):  # type: ignore[no-untyped-def]
                return [[0.3, 0.7] if row[0] > 0 else [0.9, 0.1] for row in X]

        with AimsClient(self.url, batch_size=10, flush_interval=0.05) as client:
            model = MonitoredModel(Model(), client, ["a", "b"])
            _, ids = model.predict_proba_with_ids([[1, 2], [-1, 3], [2, float("nan")]],
                                                  attributes={"g": "x"})
            for prediction_id in ids:
                model.label(prediction_id, 1)
            client.label("never-predicted", 0)
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["accepted"], 3)
        self.assertEqual(client.label_stats["accepted"], 4)
        page = self.metrics()
        # The agent joins none: all four go to the collector's central join,
        # the three predictions stay pending for their join records.
        self.assertEqual(metric(page, 'aims_agent_labels_total{outcome="forwarded"}'), 4)
        self.assertEqual(metric(page, "aims_agent_pending_predictions"), 3)


TOKEN = "aims_python-test-token"


class TokenAgentTest(AgentTest):
    flags = ("--intake_token_sha256=" + hashlib.sha256(TOKEN.encode()).hexdigest(),)

    def test_without_the_token_one_request_is_refused_and_raised(self) -> None:
        client = AimsClient(self.url, batch_size=10, flush_interval=0.05, max_retries=5)
        for i in range(10):
            client.record({"prediction": 1})
        with self.assertRaises(AimsAuthError) as raised:
            client.flush(10)
        client.close()
        self.assertEqual(raised.exception.status, 401)
        self.assertEqual(client.stats["failed"], 10)
        self.assertEqual(client.stats["retries"], 0)
        page = self.metrics()
        self.assertEqual(
            metric(page, 'aims_agent_requests_refused_total{reason="unauthenticated"}'), 1)
        self.assertEqual(metric(page, 'aims_agent_events_total{outcome="accepted"}'), 0)

    def test_with_the_token_events_and_labels_are_accepted(self) -> None:
        with AimsClient(self.url, token=TOKEN, flush_interval=0.05) as client:
            client.record({"prediction_id": "p-1", "prediction": 1})
            client.label("p-1", 1)
        self.assertEqual((client.stats["accepted"], client.label_stats["accepted"]), (1, 1))
        self.assertEqual(
            metric(self.metrics(), 'aims_agent_labels_total{outcome="forwarded"}'), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
