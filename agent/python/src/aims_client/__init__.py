"""Client for the aims-agent sidecar, for Python model servers.

Standard library only; pandas DataFrames and numpy arrays work when those
are installed. Reference: docs/python.md; the fields: docs/events.md.

    from aims_client import AimsClient, MonitoredModel

    with AimsClient("http://127.0.0.1:9465", token=None) as client:
        model = MonitoredModel(estimator, client)
        y, ids = model.predict_with_ids(X)   # each row recorded, ids returned
        ...
        client.label(ids[0], 1)              # its ground truth, later
"""

from ._client import AimsClient, Label
from ._errors import AimsAuthError, AimsError, AimsRequestError
from ._model import Attributes, MonitoredModel, Predicted
from ._version import __version__

__all__ = ["AimsClient", "MonitoredModel", "Predicted", "Label", "Attributes",
           "AimsError", "AimsRequestError", "AimsAuthError", "__version__"]
