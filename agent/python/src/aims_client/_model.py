"""MonitoredModel: records every prediction of a scikit-learn style model.

Not thread-safe to construct; its predict methods may be called from many
threads at once (last_prediction_ids is per thread). Monitoring never
changes what the model returns.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import (Any, Callable, Dict, Iterable, List, Mapping, NamedTuple,
                    Optional, Sequence, Union)

from ._client import AimsClient, Label, _plain

__all__ = ["MonitoredModel", "Predicted", "Attributes"]

# Sensitive attributes of a call: one mapping for every row, or one per row.
Attributes = Union[Mapping[str, Any], Sequence[Optional[Mapping[str, Any]]]]
AttributesFn = Callable[[Dict[str, Any], int], Optional[Mapping[str, Any]]]


class Predicted(NamedTuple):
    """What the wrapped model returned, and the prediction_id of each row
    (give one to `label()` when its ground truth is known)."""
    output: Any
    prediction_ids: List[str]


class MonitoredModel:
    """Wraps an estimator with predict / predict_proba; each row of X is
    recorded as an event at `client`.

    X may be a pandas DataFrame (its columns name the features), a numpy
    array, a scipy sparse matrix or a list of rows. `feature_names` names the
    columns when X has none (default: the model's `feature_names_in_`, else
    x0, x1, ...). Sensitive attributes are never given to the model: per call
    (`attributes=`) or from `attributes_fn(row, index)`, which gets the row as
    a dict of feature name to value and its position in X, and may return
    anything (looked up elsewhere, or None); per-call attributes win.

    predict_proba records the score of `positive_class` for two classes and
    every class's probability for more (start the agent with --task=binary or
    --task=multiclass to match).
    """

    def __init__(self, model: Any, client: AimsClient,
                 feature_names: Optional[Sequence[str]] = None, *,
                 positive_class: Label = 1,
                 attributes_fn: Optional[AttributesFn] = None) -> None:
        self._model = model
        self._client = client
        self._features = None if feature_names is None else [str(n) for n in feature_names]
        self._positive = positive_class
        self._attributes_fn = attributes_fn
        self._local = threading.local()

    @property
    def model(self) -> Any:
        return self._model

    @property
    def last_prediction_ids(self) -> List[str]:
        """The prediction_ids of this thread's last predict call, per row."""
        return list(getattr(self._local, "ids", []))

    def predict(self, X: Any, *, attributes: Optional[Attributes] = None,
                prediction_ids: Optional[Sequence[str]] = None) -> Any:
        """model.predict(X), recording each row's prediction."""
        return self.predict_with_ids(X, attributes=attributes,
                                     prediction_ids=prediction_ids).output

    def predict_proba(self, X: Any, *, attributes: Optional[Attributes] = None,
                      prediction_ids: Optional[Sequence[str]] = None) -> Any:
        """model.predict_proba(X), recording the most probable class and the
        score or probabilities."""
        return self.predict_proba_with_ids(X, attributes=attributes,
                                           prediction_ids=prediction_ids).output

    def predict_with_ids(self, X: Any, *, attributes: Optional[Attributes] = None,
                         prediction_ids: Optional[Sequence[str]] = None) -> Predicted:
        """As predict(), with the prediction_id of each row. Give your own
        ids (e.g. request ids your labels will carry) or get fresh UUIDs."""
        n = _row_count(X)
        ids = self._ids(n, prediction_ids)
        per_row = _per_row_attributes(attributes, n)
        start = time.perf_counter()
        output = self._model.predict(X)
        latency_ms = (time.perf_counter() - start) * 1e3 / max(1, n)
        predictions = [_plain(p) for p in _as_list(output)]
        self._record(X, ids, predictions, None, per_row, latency_ms)
        return Predicted(output, ids)

    def predict_proba_with_ids(self, X: Any, *, attributes: Optional[Attributes] = None,
                               prediction_ids: Optional[Sequence[str]] = None) -> Predicted:
        """As predict_proba(), with the prediction_id of each row."""
        n = _row_count(X)
        ids = self._ids(n, prediction_ids)
        per_row = _per_row_attributes(attributes, n)
        start = time.perf_counter()
        output = self._model.predict_proba(X)
        latency_ms = (time.perf_counter() - start) * 1e3 / max(1, n)
        rows = [[float(p) for p in _as_list(r)] for r in _as_list(output)]
        classes = [_plain(c) for c in _as_list(getattr(self._model, "classes_", []))]
        if not classes and rows:
            classes = list(range(len(rows[0])))
        predictions = [classes[max(range(len(p)), key=p.__getitem__)] for p in rows]
        extra: List[Dict[str, Any]]
        if len(classes) == 2:
            positive = classes.index(self._positive) if self._positive in classes else 1
            extra = [{"score": p[positive]} for p in rows]
        else:
            extra = [{"probabilities": {str(c): v for c, v in zip(classes, p)}}
                     for p in rows]
        self._record(X, ids, predictions, extra, per_row, latency_ms)
        return Predicted(output, ids)

    def label(self, prediction_id: Union[str, int], label: Label) -> bool:
        """The ground truth of a recorded prediction: client.label()."""
        return self._client.label(prediction_id, label)

    def _ids(self, n: int, given: Optional[Sequence[str]]) -> List[str]:
        if given is None:
            ids = [uuid.uuid4().hex for _ in range(n)]
        else:
            ids = [str(i) for i in given]
            if len(ids) != n:
                raise ValueError("%d prediction_ids for %d rows" % (len(ids), n))
        self._local.ids = ids
        return ids

    def _names(self, X: Any, width: int) -> List[str]:
        names = self._features
        if names is None and _is_dataframe(X):
            names = [str(c) for c in X.columns]
        if names is None and hasattr(self._model, "feature_names_in_"):
            names = [str(c) for c in self._model.feature_names_in_]
        if names is None:
            names = ["x%d" % i for i in range(width)]
        if len(names) != width:
            raise ValueError("%d feature names for rows of %d values"
                             % (len(names), width))
        return names

    def _record(self, X: Any, ids: List[str], predictions: List[Any],
                extra: Optional[List[Dict[str, Any]]],
                per_row: List[Optional[Mapping[str, Any]]], latency_ms: float) -> None:
        now = time.time()
        names: Optional[List[str]] = None
        for i, values in enumerate(_rows(X)):
            if names is None:
                names = self._names(X, len(values))
            features = {name: _plain(v) for name, v in zip(names, values)}
            event: Dict[str, Any] = {"prediction_id": ids[i], "timestamp": now,
                                     "features": features,
                                     "prediction": predictions[i],
                                     "latency_ms": latency_ms}
            if extra is not None:
                event.update(extra[i])
            attributes: Dict[str, Any] = {}
            if self._attributes_fn is not None:
                attributes.update(self._attributes_fn(dict(features), i) or {})
            attributes.update(per_row[i] or {})
            if attributes:
                event["attributes"] = {k: _plain(v) for k, v in attributes.items()}
            self._client.record(event)


def _is_dataframe(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "itertuples")


def _row_count(X: Any) -> int:
    shape = getattr(X, "shape", None)
    return int(shape[0]) if shape is not None else len(X)


def _rows(X: Any) -> Iterable[Sequence[Any]]:
    """The rows of X as sequences of values."""
    if _is_dataframe(X):
        # Iterating a DataFrame yields its column names, not rows.
        rows: Iterable[Sequence[Any]] = X.itertuples(index=False, name=None)
        return rows
    if hasattr(X, "tocsr"):  # scipy sparse: densify one row at a time
        return (X.getrow(i).toarray().ravel() for i in range(X.shape[0]))
    plain: Iterable[Sequence[Any]] = iter(X)
    return plain


def _as_list(values: Any) -> List[Any]:
    """numpy arrays, pandas Series / DataFrames and sequences as a list."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


def _per_row_attributes(attributes: Optional[Attributes],
                        n: int) -> List[Optional[Mapping[str, Any]]]:
    if attributes is None or isinstance(attributes, Mapping):
        return [attributes] * n
    rows = list(attributes)
    if len(rows) != n:
        raise ValueError("attributes for %d rows, X has %d" % (len(rows), n))
    return rows
