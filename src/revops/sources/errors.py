"""Errors a connector raises. Transient ones are retried; fatal ones stop with what to fix."""

from __future__ import annotations


class SourceError(Exception):
    """Base class."""


class RetriableAPIError(SourceError):
    """A transient failure (throttling, 5xx, truncated body): retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class FatalAPIError(SourceError):
    """Bad credentials, missing permission, bad request: retrying cannot help."""


class AuthExpiredError(SourceError):
    """The access token expired: refresh it once, then retry (if the platform can refresh)."""


def is_transient(exc: BaseException) -> bool:
    """A source's failure worth running it again for: throttling, 5xx, the network. The nightly
    flow's task retries and the in-process run's (revops.runtime) share this rule."""
    import requests

    return isinstance(exc, RetriableAPIError | requests.ConnectionError | requests.Timeout)
