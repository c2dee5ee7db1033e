"""Errors of aims_client."""

from __future__ import annotations


class AimsError(Exception):
    """Base class of the errors aims_client raises."""


class AimsRequestError(AimsError):
    """The agent refused a request whole with a status that a resend cannot
    change (a 4xx other than 429): nothing of it was taken and it is not
    retried. `status` is the HTTP status, `endpoint` the URL, `reason` the
    agent's `error` text, `items` how many events or labels it carried."""

    def __init__(self, status: int, endpoint: str, reason: str, items: int) -> None:
        self.status = status
        self.endpoint = endpoint
        self.reason = reason
        self.items = items
        super().__init__(self._describe())

    def _describe(self) -> str:
        return "aims-agent refused POST %s (%d items, not retried): HTTP %d %s" % (
            self.endpoint, self.items, self.status, self.reason)


class AimsAuthError(AimsRequestError):
    """401 or 403: the agent requires a bearer token (`--intake_token_sha256`)
    and the client sent none or another one (`AimsClient(token=...)`)."""

    def _describe(self) -> str:
        return ("%s; the agent requires the bearer token whose SHA-256 is its "
                "--intake_token_sha256: pass AimsClient(token=...)" % super()._describe())
