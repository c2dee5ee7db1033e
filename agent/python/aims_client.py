"""Client for the aims-agent sidecar, for Python model servers (stdlib only).

    from aims_client import AimsClient

    client = AimsClient("http://127.0.0.1:9465")
    client.record({"prediction_id": "p-1", "features": {"age": 42},
                   "prediction": 1, "score": 0.83,
                   "attributes": {"gender": "female"}, "latency_ms": 12.5})
    ...
    client.close()          # flushes what is queued

`record()` never blocks and never raises: events go to a bounded in-memory
queue that a background thread sends in batches (JSON array, POST /v1/events)
every `flush_interval` seconds or as soon as `batch_size` events wait. When
the agent answers 429/503 the batch is retried after its Retry-After; when
the queue is full new events are dropped and counted in `stats["dropped"]`,
so a slow or absent agent never slows the model server down. Per-event
errors reported by the agent are counted in `stats["rejected"]` and the last
few are kept in `last_errors`; warnings (unknown fields, which the agent
ignores) in `stats["warnings"]` and `last_warnings`. NaN and infinities are
sent as "NaN", "Infinity", "-Infinity" (JSON has no literal for them); the
agent counts them as non-finite values of their feature. The field
reference is docs/events.md.

`MonitoredModel` wraps a scikit-learn style estimator so that every
`predict` / `predict_proba` call is recorded.
"""

import collections
import json
import math
import threading
import time
import urllib.error
import urllib.request
import uuid

__all__ = ["AimsClient", "MonitoredModel"]


class AimsClient:
    """Batches inference events to an aims-agent. Thread-safe."""

    def __init__(self, url="http://127.0.0.1:9465", batch_size=500,
                 flush_interval=1.0, max_queue=10000, timeout=5.0,
                 max_retries=5):
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("need 1 <= batch_size <= max_queue")
        self._endpoint = url.rstrip("/") + "/v1/events"
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._timeout = timeout
        self._max_retries = max_retries
        self._queue = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._in_flight = 0
        self.stats = {"recorded": 0, "sent": 0, "accepted": 0, "rejected": 0,
                      "dropped": 0, "retries": 0, "failed": 0,
                      "warnings": 0}
        self.last_errors = collections.deque(maxlen=20)
        self.last_warnings = collections.deque(maxlen=20)
        self._thread = threading.Thread(target=self._run, name="aims-client",
                                        daemon=True)
        self._thread.start()

    def record(self, event):
        """Queues one event (a dict as in docs/events.md). Never blocks."""
        with self._cond:
            if self._closing or len(self._queue) >= self._max_queue:
                self.stats["dropped"] += 1
                return False
            self._queue.append(event)
            self.stats["recorded"] += 1
            if len(self._queue) >= self._batch_size:
                self._cond.notify()
            return True

    def flush(self, timeout=None):
        """Waits until everything queued so far was sent (or gave up)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify()
            while self._queue or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def close(self, timeout=10.0):
        """Flushes and stops the background thread."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _run(self):
        while True:
            with self._cond:
                if not self._queue and not self._closing:
                    self._cond.wait(self._flush_interval)
                if not self._queue:
                    if self._closing:
                        return
                    continue
                batch = [self._queue.popleft()
                         for _ in range(min(self._batch_size, len(self._queue)))]
                self._in_flight = len(batch)
            try:
                self._send(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def _send(self, batch):
        try:
            body = json.dumps(batch, separators=(",", ":"), allow_nan=False)
        except ValueError:
            # NaN or infinity somewhere: JSON has no literal for them, so
            # they travel as proto3's strings ("NaN", "Infinity").
            body = json.dumps(_finite_json(batch), separators=(",", ":"))
        body = body.encode()
        for attempt in range(self._max_retries + 1):
            request = urllib.request.Request(
                self._endpoint, data=body, method="POST",
                headers={"Content-Type": "application/json"})
            retry_after = 0.2 * (2 ** attempt)
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                    self._account(batch, json.loads(resp.read() or b"{}"))
                    return
            except urllib.error.HTTPError as err:
                if err.code in (429, 503):
                    retry_after = float(err.headers.get("Retry-After") or retry_after)
                elif err.code == 400:
                    # Every event was refused: they will never be accepted.
                    self._account(batch, _json_or_empty(err.read()))
                    return
                else:
                    self.last_errors.append({"http_status": err.code})
            except (urllib.error.URLError, OSError, ValueError) as err:
                self.last_errors.append({"error": str(err)})
            if attempt < self._max_retries:
                with self._cond:
                    self.stats["retries"] += 1
                time.sleep(min(retry_after, 30.0))
        with self._cond:
            self.stats["failed"] += len(batch)

    def _account(self, batch, answer):
        with self._cond:
            self.stats["sent"] += len(batch)
            self.stats["accepted"] += int(answer.get("accepted", 0))
            self.stats["rejected"] += int(answer.get("rejected", 0))
            for error in answer.get("errors", [])[:5]:
                self.last_errors.append(error)
            warnings = answer.get("warnings", [])
            self.stats["warnings"] += len(warnings)
            for warning in warnings[:5]:
                self.last_warnings.append(warning)


def _json_or_empty(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return {}


class MonitoredModel:
    """Wraps an estimator with predict / predict_proba and records each row.

    `feature_names` names the columns of X (lists or tuples of rows; numpy
    arrays work too). `attributes_fn(row_index, row)` may return the row's
    sensitive attributes; they are recorded, never given to the model.
    """

    def __init__(self, model, client, feature_names, positive_class=1,
                 attributes_fn=None):
        self._model = model
        self._client = client
        self._features = list(feature_names)
        self._positive = positive_class
        self._attributes_fn = attributes_fn

    def predict(self, X):
        start = time.perf_counter()
        predictions = self._model.predict(X)
        latency_ms = (time.perf_counter() - start) * 1e3 / max(1, len(X))
        self._record(X, predictions, None, latency_ms)
        return predictions

    def predict_proba(self, X):
        start = time.perf_counter()
        probabilities = self._model.predict_proba(X)
        latency_ms = (time.perf_counter() - start) * 1e3 / max(1, len(X))
        classes = list(getattr(self._model, "classes_", range(len(probabilities[0]))))
        positive = classes.index(self._positive) if self._positive in classes else -1
        predictions = [classes[max(range(len(p)), key=lambda i: p[i])]
                       for p in probabilities]
        scores = [float(p[positive]) if positive >= 0 else None for p in probabilities]
        self._record(X, predictions, scores, latency_ms)
        return probabilities

    def _record(self, X, predictions, scores, latency_ms):
        for i, row in enumerate(X):
            prediction = predictions[i]
            if hasattr(prediction, "item"):
                prediction = prediction.item()
            event = {
                "prediction_id": str(uuid.uuid4()),
                "timestamp": time.time(),
                "features": {name: _plain(value)
                             for name, value in zip(self._features, row)},
                "prediction": prediction,
                "latency_ms": latency_ms,
            }
            if scores is not None and scores[i] is not None:
                event["score"] = scores[i]
            if self._attributes_fn is not None:
                event["attributes"] = self._attributes_fn(i, row)
            self._client.record(event)


def _plain(value):
    """numpy scalars to plain Python values."""
    if hasattr(value, "item"):
        value = value.item()
    return value


def _finite_json(value):
    """A copy of `value` with NaN and infinities as "NaN", "Infinity" and
    "-Infinity", which the agent reads as those numbers (docs/events.md)."""
    if isinstance(value, float) and not math.isfinite(value):
        if value != value:
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value
