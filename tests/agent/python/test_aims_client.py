"""Tests of agent/python/aims_client.py: against the real aims-agent binary
(path in AIMS_AGENT_BIN) and, for retry behaviour that a real agent cannot be
made to show on cue, against a stub server that answers 429 first."""

import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "agent", "python"))
from aims_client import AimsClient, MonitoredModel  # noqa: E402


def metric(page, series):
    """The value of the first series named as `series` with (at least) its
    labels, e.g. 'aims_agent_events_total{outcome="accepted"}'."""
    name, _, labels = series.partition("{")
    wanted = set(filter(None, labels.rstrip("}").split(",")))
    for match in re.finditer(r"^" + re.escape(name) + r"(?:\{(.*)\})? (\S+)$", page, re.M):
        if wanted <= set(filter(None, (match.group(1) or "").split(","))):
            return float(match.group(2))
    return -1.0


class RealAgentTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        ports = os.path.join(self.dir.name, "ports")
        self.agent = subprocess.Popen(
            [os.environ["AIMS_AGENT_BIN"], "--model_name=py", "--model_version=v1",
             "--http_listen=127.0.0.1:0", "--grpc_listen=",
             "--collector=127.0.0.1:1", "--grace_period=0s",
             "--data_dir=" + self.dir.name,
             "--ports_file=" + ports],
            stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        self.port = 0
        while time.time() < deadline and not self.port:
            if os.path.exists(ports):
                for line in open(ports):
                    name, port = line.split()
                    if name == "http":
                        self.port = int(port)
            time.sleep(0.02)
        self.assertTrue(self.port, "agent did not start")
        self.url = "http://127.0.0.1:%d" % self.port

    def tearDown(self):
        self.agent.terminate()
        self.agent.wait(30)
        self.dir.cleanup()

    def metrics(self):
        with urllib.request.urlopen(self.url + "/metrics") as resp:
            return resp.read().decode()

    def test_batches_reach_the_agent_and_errors_are_counted(self):
        with AimsClient(self.url, batch_size=64, flush_interval=0.05) as client:
            for i in range(1000):
                client.record({"prediction": i % 2, "features": {"x": i}})
            client.record({"prediction": 1, "score": "high"})  # wrong type
            # Accepted: an unknown field is ignored and comes back as a
            # warning.
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

    def test_nan_and_infinity_travel_as_strings(self):
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

    def test_monitored_model_records_every_row(self):
        class Model:
            classes_ = [0, 1]

            def predict_proba(self, X):
                return [[0.3, 0.7] if row[0] > 0 else [0.9, 0.1] for row in X]

        with AimsClient(self.url, batch_size=10, flush_interval=0.05) as client:
            model = MonitoredModel(Model(), client, ["a", "b"],
                                   attributes_fn=lambda i, row: {"g": str(i % 2)})
            probabilities = model.predict_proba([[1, 2], [-1, 3], [2, float("nan")]])
            self.assertEqual(probabilities[1], [0.9, 0.1])
            self.assertTrue(client.flush(10))
        self.assertEqual(client.stats["accepted"], 3)
        self.assertEqual(client.stats["rejected"], 0)


class Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429 to the first two posts, then accepts."""
    calls = 0
    events = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Flaky.calls += 1
        if Flaky.calls <= 2:
            self.send_response(429)
            self.send_header("Retry-After", "0.05")
            self.end_headers()
            return
        Flaky.events += len(body)
        answer = json.dumps({"accepted": len(body), "rejected": 0, "errors": []}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


class RetryAndBoundTest(unittest.TestCase):
    def test_429_is_retried_after_retry_after(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d" % server.server_address[1]
            with AimsClient(url, batch_size=100, flush_interval=0.05) as client:
                for i in range(100):
                    client.record({"prediction": 1})
                self.assertTrue(client.flush(10))
            self.assertEqual(client.stats["retries"], 2)
            self.assertEqual(client.stats["accepted"], 100)
            self.assertEqual(Flaky.events, 100)
        finally:
            server.shutdown()

    def test_full_queue_drops_and_counts_without_blocking(self):
        # Nothing listens on port 1: sends fail, the queue fills.
        client = AimsClient("http://127.0.0.1:1", batch_size=10, max_queue=50,
                            flush_interval=10, max_retries=0)
        start = time.monotonic()
        results = [client.record({"prediction": 1}) for _ in range(500)]
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertGreaterEqual(client.stats["dropped"], 440)
        self.assertEqual(results.count(True) + client.stats["dropped"], 500)
        client.close(timeout=5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
