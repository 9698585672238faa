"""Every error the domain raises derives from JobsError; entrypoints map them to answers."""

from __future__ import annotations

from typing import Any


class JobsError(Exception):
    """Base of the domain's errors."""


class ConfigurationError(JobsError):
    """A setting is missing or malformed."""


class InvalidRequest(JobsError):
    """A request the caller must fix. ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []


class NotFound(JobsError):
    """No such task or job."""


class Conflict(JobsError):
    """The request contradicts the resource's state (an idempotency key reused with another
    body, results asked for while the task runs)."""


class PermanentJobError(JobsError):
    """Raised by a kind's handler when retrying cannot help: the job fails at once."""
