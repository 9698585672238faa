"""What can go wrong talking to the service: it answered with an error, or it did not answer."""

from __future__ import annotations

from jobs_client.models import ErrorDetail


class ClientError(Exception):
    """Base of the client's errors."""


class ApiError(ClientError):
    """The service answered with an error status; ``details`` say where, when it knows."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[ErrorDetail] | None = None,
        *,
        bare: bool = False,
    ):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.details = details or []
        # No error document: the host answered, not the app (a 401, or a route it lacks).
        self.bare = bare


class Unreachable(ClientError):
    """The service did not answer: refused, reset, or timed out (after the retries)."""
