"""AimsClient: batches events and delayed labels to an aims-agent.

Thread-safe. `record()` and `label()` never block: items go to one bounded
in-memory queue that a background thread sends in order, in batches of one
kind (POST /v1/events, POST /v1/labels; docs/events.md), every
`flush_interval` seconds or as soon as `batch_size` items wait. Order is
kept, so a label sent after its prediction reaches the agent after it.

Retries: connection errors, 5xx and 429 are resent with exponential backoff
(`backoff` doubling per attempt up to `max_backoff`, or the agent's
Retry-After), at most `max_retries` times, then counted `failed`. Any other
4xx (401 without the right token, 404 wrong URL, 413 too large) can never
succeed: it is not retried, its items are counted `failed`, it is logged
once per status, and the next `flush()` or `close()` raises it
(AimsRequestError, AimsAuthError for 401/403). A 400 whose answer lists
per-item errors (every item refused) is accounted like a 200.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from typing import Any, Deque, Dict, List, Mapping, Optional, Set, Tuple, Union

from ._errors import AimsAuthError, AimsRequestError
from ._version import __version__

__all__ = ["AimsClient", "Label"]

Label = Union[str, int, float, bool]

_log = logging.getLogger("aims_client")
_KINDS = ("events", "labels")
_COUNTERS = ("recorded", "sent", "accepted", "rejected", "dropped", "retries",
             "failed", "warnings")


class AimsClient:
    """Sends inference events and delayed labels to an aims-agent.

    stats / label_stats count events / labels: recorded (queued), sent,
    accepted and rejected (by the agent, per item), dropped (queue full or
    client closed), retries (requests resent), failed (given up or refused
    whole), warnings (unknown fields). The last per-item errors and warnings
    are in last_errors and last_warnings.
    """

    def __init__(self, url: str = "http://127.0.0.1:9465", *,
                 token: Optional[str] = None,
                 headers: Optional[Mapping[str, str]] = None,
                 batch_size: int = 500, flush_interval: float = 1.0,
                 max_queue: int = 10000, timeout: float = 5.0,
                 max_retries: int = 5, backoff: float = 0.2,
                 max_backoff: float = 30.0) -> None:
        if batch_size < 1 or max_queue < batch_size:
            raise ValueError("need 1 <= batch_size <= max_queue")
        if max_retries < 0 or backoff < 0 or max_backoff < 0:
            raise ValueError("max_retries, backoff and max_backoff must be >= 0")
        self._url = url.rstrip("/")
        self._headers: Dict[str, str] = {"Content-Type": "application/json",
                                         "User-Agent": "aims-client/" + __version__}
        self._headers.update(headers or {})
        if token is not None:
            if any(k.lower() == "authorization" for k in self._headers):
                raise ValueError("give either token= or an Authorization header")
            self._headers["Authorization"] = "Bearer " + token
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._queue: Deque[Tuple[str, Mapping[str, Any]]] = collections.deque()
        self._cond = threading.Condition()
        self._closing = False
        self._in_flight = 0
        self._error: Optional[AimsRequestError] = None
        self._logged_statuses: Set[int] = set()
        self.stats: Dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.label_stats: Dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.last_errors: Deque[Dict[str, Any]] = collections.deque(maxlen=20)
        self.last_warnings: Deque[Dict[str, Any]] = collections.deque(maxlen=20)
        self._thread = threading.Thread(target=self._run, name="aims-client",
                                        daemon=True)
        self._thread.start()

    def record(self, event: Mapping[str, Any]) -> bool:
        """Queues one event (fields in docs/events.md). Never blocks or
        raises; False when it was dropped (queue full, client closed)."""
        return self._enqueue("events", event)

    def label(self, prediction_id: Union[str, int], label: Label, *,
              timestamp: Optional[float] = None) -> bool:
        """Queues the ground truth of the prediction recorded with
        `prediction_id` (a delayed label, POST /v1/labels). Never blocks;
        False when it was dropped."""
        if not isinstance(prediction_id, (str, int)) or isinstance(prediction_id, bool):
            raise TypeError("prediction_id must be a str or int, got %s"
                            % type(prediction_id).__name__)
        item: Dict[str, Any] = {"prediction_id": prediction_id, "label": _plain(label)}
        if timestamp is not None:
            item["timestamp"] = timestamp
        return self._enqueue("labels", item)

    @property
    def error(self) -> Optional[AimsRequestError]:
        """The first request refused whole since the last flush(), if any."""
        with self._cond:
            return self._error

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Waits until everything queued so far was sent or given up; False
        on timeout. Raises the first AimsRequestError (AimsAuthError on
        401/403) since the last flush, then forgets it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._queue or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(0.05, remaining))
            error, self._error = self._error, None
        if error is not None:
            raise error
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Flushes, stops the background thread, and raises as flush() does."""
        try:
            self.flush(timeout)
        finally:
            with self._cond:
                self._closing = True
                self._cond.notify_all()
            self._thread.join(timeout)

    def __enter__(self) -> "AimsClient":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        try:  # an exception is on its way: do not replace it with ours
            self.close()
        except AimsRequestError:
            pass

    def _enqueue(self, kind: str, item: Mapping[str, Any]) -> bool:
        stats = self.stats if kind == "events" else self.label_stats
        with self._cond:
            if self._closing or len(self._queue) >= self._max_queue:
                stats["dropped"] += 1
                return False
            self._queue.append((kind, item))
            stats["recorded"] += 1
            if len(self._queue) >= self._batch_size:
                self._cond.notify_all()
            return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._queue and not self._closing:
                    self._cond.wait(self._flush_interval)
                if not self._queue:
                    if self._closing:
                        return
                    continue
                # The longest run of one kind at the head, in order.
                kind = self._queue[0][0]
                batch: List[Mapping[str, Any]] = []
                while (self._queue and len(batch) < self._batch_size
                       and self._queue[0][0] == kind):
                    batch.append(self._queue.popleft()[1])
                self._in_flight = len(batch)
            try:
                self._send(kind, batch)
            except Exception:  # never let the sender thread die
                _log.exception("aims_client: sending %d %s failed", len(batch), kind)
                with self._cond:
                    self._stats(kind)["failed"] += len(batch)
            finally:
                with self._cond:
                    self._in_flight = 0
                    self._cond.notify_all()

    def _stats(self, kind: str) -> Dict[str, int]:
        return self.stats if kind == "events" else self.label_stats

    def _send(self, kind: str, batch: List[Mapping[str, Any]]) -> None:
        endpoint = "%s/v1/%s" % (self._url, kind)
        body = _encode(batch)
        for attempt in range(self._max_retries + 1):
            delay = min(self._backoff * (2 ** attempt), self._max_backoff)
            try:
                request = urllib.request.Request(endpoint, data=body, method="POST",
                                                 headers=self._headers)
                with urllib.request.urlopen(request, timeout=self._timeout) as resp:
                    self._account(kind, batch, _json_or_empty(resp.read()))
                    return
            except urllib.error.HTTPError as err:
                answer = _json_or_empty(err.read())
                if err.code == 429 or err.code >= 500:
                    delay = _retry_after(err, delay, self._max_backoff)
                    self.last_errors.append({"http_status": err.code,
                                             "error": answer.get("error", "")})
                elif err.code == 400 and "accepted" in answer:
                    self._account(kind, batch, answer)  # every item refused
                    return
                else:
                    self._refused(kind, batch, endpoint, err.code, answer)
                    return
            except (urllib.error.URLError, OSError) as err:
                self.last_errors.append({"error": str(err)})
            if attempt < self._max_retries:
                with self._cond:
                    self._stats(kind)["retries"] += 1
                time.sleep(delay)
        _log.warning("aims_client: gave up on %d %s after %d attempts to %s",
                     len(batch), kind, self._max_retries + 1, endpoint)
        with self._cond:
            self._stats(kind)["failed"] += len(batch)

    def _refused(self, kind: str, batch: List[Mapping[str, Any]], endpoint: str,
                 status: int, answer: Mapping[str, Any]) -> None:
        cls = AimsAuthError if status in (401, 403) else AimsRequestError
        error = cls(status, endpoint, str(answer.get("error", "")), len(batch))
        self.last_errors.append({"http_status": status, "error": error.reason})
        with self._cond:
            self._stats(kind)["failed"] += len(batch)
            if self._error is None:
                self._error = error
            first = status not in self._logged_statuses
            self._logged_statuses.add(status)
        if first:
            _log.error("%s", error)

    def _account(self, kind: str, batch: List[Mapping[str, Any]],
                 answer: Mapping[str, Any]) -> None:
        with self._cond:
            stats = self._stats(kind)
            stats["sent"] += len(batch)
            stats["accepted"] += int(answer.get("accepted", 0))
            stats["rejected"] += int(answer.get("rejected", 0))
            for error in list(answer.get("errors", []))[:5]:
                self.last_errors.append(error)
            warnings = list(answer.get("warnings", []))
            stats["warnings"] += len(warnings)
            for warning in warnings[:5]:
                self.last_warnings.append(warning)


def _retry_after(err: urllib.error.HTTPError, default: float, cap: float) -> float:
    try:
        return min(float(err.headers.get("Retry-After") or default), cap)
    except ValueError:  # an HTTP date: not worth parsing
        return default


def _json_or_empty(raw: bytes) -> Dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {}


def _encode(batch: List[Mapping[str, Any]]) -> bytes:
    try:
        body = json.dumps(batch, separators=(",", ":"), allow_nan=False)
    except ValueError:
        # NaN or infinity somewhere: JSON has no literal for them, so they
        # travel as proto3's strings ("NaN", "Infinity").
        body = json.dumps(_finite_json(batch), separators=(",", ":"))
    return body.encode()


def _plain(value: Any) -> Any:
    """numpy and pandas scalars to plain Python values; pandas' missing
    values (NA, NaT) to None."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _finite_json(value: Any) -> Any:
    """A copy of `value` with NaN and infinities as "NaN", "Infinity" and
    "-Infinity", which the agent reads as those numbers (docs/events.md)."""
    if isinstance(value, float) and not math.isfinite(value):
        if value != value:
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, Mapping):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_json(v) for v in value]
    return value
