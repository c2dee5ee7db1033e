"""Unit tests of aims_client (agent/python/src, on PYTHONPATH) against an
in-process stub of the agent's intake: what is sent (events, labels,
headers, ids, attributes, DataFrame rows) and how refusals are handled (no
retry on 4xx, backoff on 5xx, 429 and connection errors)."""

import logging
import math
import os
import re
import time
import unittest
from typing import Any, Dict, List

import aims_client
from aims_client import AimsAuthError, AimsClient, AimsRequestError, MonitoredModel
from stub_agent import StubAgent

try:
    import numpy
except ImportError:  # the client needs neither numpy nor pandas
    numpy = None
try:
    import pandas
except ImportError:
    pandas = None

FAST = {"flush_interval": 0.02, "backoff": 0.01}
logging.getLogger("aims_client").setLevel(logging.CRITICAL)  # refusals are expected


class StubTest(unittest.TestCase):
    def setUp(self) -> None:
        self.stub = StubAgent()
        self.addCleanup(self.stub.close)


class RefusalsAndRetriesTest(StubTest):
    def test_401_fails_fast_without_retry_and_flush_raises(self) -> None:
        self.stub.answers = [(401, {}, {"error": "a bearer token is required"})]
        client = AimsClient(self.stub.url, max_retries=5, **FAST)
        for i in range(10):
            client.record({"prediction": 1})
        start = time.monotonic()
        with self.assertRaises(AimsAuthError) as raised:
            client.flush(10)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertEqual(len(self.stub.posts("/v1/events")), 1)  # no retry
        self.assertEqual(client.stats["failed"], 10)
        self.assertEqual(client.stats["retries"], 0)
        self.assertEqual(raised.exception.status, 401)
        self.assertIn("a bearer token is required", str(raised.exception))
        self.assertIn("token=", str(raised.exception))
        # Raised once; the client goes on.
        client.record({"prediction": 1})
        self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["accepted"], 1)
        client.close()

    def test_other_4xx_is_not_retried_and_close_raises(self) -> None:
        self.stub.answers = [(413, {}, {"error": "body: 99 bytes, limit 1"})]
        client = AimsClient(self.stub.url, **FAST)
        client.label("p-1", 1)
        with self.assertRaises(AimsRequestError) as raised:
            client.close()
        self.assertNotIsInstance(raised.exception, AimsAuthError)
        self.assertEqual(raised.exception.status, 413)
        self.assertEqual(len(self.stub.requests), 1)
        self.assertEqual(client.label_stats["failed"], 1)

    def test_400_listing_refused_items_is_accounted_not_raised(self) -> None:
        self.stub.answers = [(400, {}, {"accepted": 0, "rejected": 1, "errors": [
            {"index": 0, "field": "score", "reason": "must be a probability"}]})]
        with AimsClient(self.stub.url, **FAST) as client:
            client.record({"prediction": 1, "score": 7})
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["rejected"], 1)
        self.assertEqual(client.last_errors[-1]["field"], "score")
        self.assertEqual(len(self.stub.requests), 1)

    def test_503_and_429_are_retried_after_retry_after(self) -> None:
        self.stub.answers = [(503, {"Retry-After": "0.05"}, {"error": "shutting down"}),
                             (429, {"Retry-After": "0.05"}, None)]
        with AimsClient(self.stub.url, batch_size=100, **FAST) as client:
            for i in range(100):
                client.record({"prediction": i % 2})
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["retries"], 2)
        self.assertEqual(client.stats["accepted"], 100)
        self.assertEqual(client.stats["failed"], 0)
        self.assertEqual(len(self.stub.posts("/v1/events")), 3)

    def test_5xx_gives_up_after_max_retries_without_raising(self) -> None:
        self.stub.answers = [(500, {}, {"error": "boom"})] * 3
        with AimsClient(self.stub.url, max_retries=2, **FAST) as client:
            client.record({"prediction": 1})
            self.assertTrue(client.flush(10))
        self.assertEqual(len(self.stub.requests), 3)
        self.assertEqual(client.stats["retries"], 2)
        self.assertEqual(client.stats["failed"], 1)

    def test_connection_errors_back_off_exponentially(self) -> None:
        # Nothing listens on port 1: each attempt fails at once.
        client = AimsClient("http://127.0.0.1:1", max_retries=3, flush_interval=0.02,
                            backoff=0.05)
        client.record({"prediction": 1})
        start = time.monotonic()
        self.assertTrue(client.flush(10))
        elapsed = time.monotonic() - start
        self.assertGreaterEqual(elapsed, 0.05 + 0.1 + 0.2)  # 3 waits, doubling
        self.assertEqual(client.stats["retries"], 3)
        self.assertEqual(client.stats["failed"], 1)
        client.close()

    def test_full_queue_drops_and_counts_without_blocking(self) -> None:
        client = AimsClient("http://127.0.0.1:1", batch_size=10, max_queue=50,
                            flush_interval=10, max_retries=0)
        start = time.monotonic()
        results = [client.record({"prediction": 1}) for _ in range(500)]
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertGreaterEqual(client.stats["dropped"], 440)
        self.assertEqual(results.count(True) + client.stats["dropped"], 500)
        client.close(timeout=5)


class RequestsTest(StubTest):
    def test_token_and_headers_are_sent(self) -> None:
        with AimsClient(self.stub.url, token="s3cret", headers={"X-Tenant": "a"},
                        **FAST) as client:
            client.record({"prediction": 1})
        headers = self.stub.requests[0]["headers"]
        self.assertEqual(headers["Authorization"], "Bearer s3cret")
        self.assertEqual(headers["X-Tenant"], "a")
        self.assertEqual(headers["User-Agent"], "aims-client/" + aims_client.__version__)
        with self.assertRaises(ValueError):
            AimsClient(self.stub.url, token="t", headers={"authorization": "x"})

    def test_labels_go_to_the_label_endpoint_after_their_predictions(self) -> None:
        with AimsClient(self.stub.url, flush_interval=5) as client:
            client.record({"prediction_id": "p-1", "prediction": 1})
            client.label("p-1", 0)
            client.label(7, "yes", timestamp=1700000000.5)
            client.record({"prediction_id": "p-2", "prediction": 0})
        paths = [r["path"] for r in self.stub.requests]
        self.assertEqual(paths, ["/v1/events", "/v1/labels", "/v1/events"])
        self.assertEqual(self.stub.items("/v1/labels"), [
            {"prediction_id": "p-1", "label": 0},
            {"prediction_id": 7, "label": "yes", "timestamp": 1700000000.5}])
        self.assertEqual(client.label_stats["accepted"], 2)
        self.assertEqual(client.stats["accepted"], 2)
        with self.assertRaises(TypeError):
            client.label(None, 1)  # type: ignore[arg-type]

    def test_nan_and_infinity_travel_as_strings(self) -> None:
        with AimsClient(self.stub.url, **FAST) as client:
            client.record({"features": {"x": float("nan"), "y": -math.inf, "z": 1.5}})
        self.assertEqual(self.stub.items("/v1/events")[0]["features"],
                         {"x": "NaN", "y": "-Infinity", "z": 1.5})


class Binary:
    classes_ = [0, 1]

    def predict(self, X: Any) -> List[int]:
        return [1 if row[0] > 0 else 0 for row in X]

    def predict_proba(self, X: Any) -> List[List[float]]:
        return [[0.25, 0.75] if row[0] > 0 else [0.875, 0.125] for row in X]


class Multiclass:
    classes_ = ["a", "b", "c"]

    def predict_proba(self, X: Any) -> List[List[float]]:
        return [[0.5, 0.25, 0.25] if row[0] > 0 else [0.125, 0.125, 0.75] for row in X]


class MonitoredModelTest(StubTest):
    def events(self) -> List[Dict[str, Any]]:
        return self.stub.items("/v1/events")

    def test_ids_are_returned_and_labels_carry_them(self) -> None:
        with AimsClient(self.stub.url, **FAST) as client:
            model = MonitoredModel(Binary(), client, ["a", "b"])
            y, ids = model.predict_with_ids([[1, 2], [-1, 3]])
            self.assertEqual(y, [1, 0])
            self.assertEqual(model.last_prediction_ids, ids)
            self.assertEqual(len(set(ids)), 2)
            probabilities = model.predict_proba([[1, 0]], prediction_ids=["req-9"])
            self.assertEqual(probabilities, [[0.25, 0.75]])
            self.assertEqual(model.last_prediction_ids, ["req-9"])
            with self.assertRaises(ValueError):
                model.predict([[1, 2]], prediction_ids=["x", "y"])
            client.flush(10)
            model.label(ids[1], 1)
        events = self.events()
        self.assertEqual([e["prediction_id"] for e in events], ids + ["req-9"])
        self.assertEqual(events[0]["features"], {"a": 1, "b": 2})
        self.assertEqual(events[0]["prediction"], 1)
        self.assertNotIn("score", events[0])
        self.assertEqual(events[2]["score"], 0.75)
        self.assertEqual(self.stub.items("/v1/labels"),
                         [{"prediction_id": ids[1], "label": 1}])

    def test_binary_score_is_the_positive_class_and_multiclass_sends_probabilities(self) -> None:
        with AimsClient(self.stub.url, **FAST) as client:
            MonitoredModel(Binary(), client, ["x"], positive_class=0).predict_proba([[1]])
            MonitoredModel(Multiclass(), client, ["x"]).predict_proba([[-1]])
        binary, multi = self.events()
        self.assertEqual((binary["prediction"], binary["score"]), (1, 0.25))
        self.assertEqual(multi["prediction"], "c")
        self.assertEqual(multi["probabilities"], {"a": 0.125, "b": 0.125, "c": 0.75})
        self.assertNotIn("score", multi)

    def test_attributes_per_call_and_from_a_function_of_row_and_index(self) -> None:
        seen = []

        def attributes_fn(row: Dict[str, Any], index: int) -> Dict[str, Any]:
            seen.append((row, index))
            return {"band": "high" if row["income"] > 10 else "low", "site": "fn"}

        with AimsClient(self.stub.url, **FAST) as client:
            model = MonitoredModel(Binary(), client, ["income"], attributes_fn=attributes_fn)
            model.predict([[5], [50]], attributes={"site": "north"})
            model.predict([[5], [50]], attributes=[{"gender": "f"}, None])
            with self.assertRaises(ValueError):
                model.predict([[5]], attributes=[{}, {}])
        self.assertEqual(seen[:2], [({"income": 5}, 0), ({"income": 50}, 1)])
        self.assertEqual([e["attributes"] for e in self.events()], [
            {"band": "low", "site": "north"}, {"band": "high", "site": "north"},
            {"band": "low", "site": "fn", "gender": "f"}, {"band": "high", "site": "fn"}])
        for event in self.events():
            self.assertEqual(list(event["features"]), ["income"])  # not given to the model

    @unittest.skipIf(numpy is None, "numpy is not installed")
    def test_numpy_rows_and_the_models_feature_names(self) -> None:
        class Named(Binary):
            feature_names_in_ = numpy.array(["u", "v"])

            def predict(self, X: Any) -> Any:
                return numpy.array(super().predict(X), dtype=numpy.int64)

        with AimsClient(self.stub.url, **FAST) as client:
            MonitoredModel(Named(), client).predict(numpy.array([[1.5, 2], [-1, numpy.nan]]))
            with self.assertRaises(ValueError):  # 3 names, rows of 2
                MonitoredModel(Binary(), client, ["a", "b", "c"]).predict(numpy.zeros((1, 2)))
        first, second = self.events()[:2]
        self.assertEqual(first["features"], {"u": 1.5, "v": 2.0})
        self.assertEqual(second["features"], {"u": -1.0, "v": "NaN"})
        self.assertEqual((first["prediction"], second["prediction"]), (1, 0))

    @unittest.skipIf(pandas is None, "pandas is not installed")
    def test_dataframe_rows_and_columns(self) -> None:
        frame = pandas.DataFrame({"age": [30, 41, 52], "city": ["a", None, "c"],
                                  "score": [0.5, float("nan"), 2.0]},
                                 index=[10, 20, 30])
        frame["n"] = pandas.array([1, None, 3], dtype="Int64")

        class FrameModel:
            def predict(self, X: Any) -> Any:
                return pandas.Series((X["age"] > 40).astype(int).to_numpy(), index=X.index)

        with AimsClient(self.stub.url, **FAST) as client:
            y, ids = MonitoredModel(FrameModel(), client).predict_with_ids(
                frame, attributes=[{"g": "x"}, {"g": "y"}, {"g": "z"}])
        self.assertEqual(list(y), [0, 1, 1])
        events = self.events()
        self.assertEqual([e["prediction_id"] for e in events], ids)
        self.assertEqual([e["features"] for e in events], [
            {"age": 30, "city": "a", "score": 0.5, "n": 1},
            {"age": 41, "city": None, "score": "NaN", "n": None},
            {"age": 52, "city": "c", "score": 2.0, "n": 3}])
        self.assertEqual([e["prediction"] for e in events], [0, 1, 1])
        self.assertEqual(events[2]["attributes"], {"g": "z"})


class PackageTest(unittest.TestCase):
    def test_version_matches_pyproject(self) -> None:
        pyproject = os.path.join(os.path.dirname(aims_client.__file__), "..", "..",
                                 "pyproject.toml")
        with open(pyproject) as f:
            version = re.search(r'^version = "(.*)"$', f.read(), re.M)
        assert version is not None
        self.assertEqual(version.group(1), aims_client.__version__)


if __name__ == "__main__":
    unittest.main(verbosity=2)
