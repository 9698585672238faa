"""Every error the domain raises derives from JobsError. They say what went wrong in the
domain's terms; the entry point (api.errors) decides what each means to a caller of HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class JobsError(Exception):
    """Base of the domain's errors."""


class ConfigurationError(JobsError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field it is in (dotted, inside the item at
    ``index`` when there is one) and what is wrong with it."""

    field: str
    message: str
    index: int | None = None


class InvalidRequest(JobsError):
    """A request the caller must fix; ``problems`` say where."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()):
        super().__init__(message)
        self.message = message
        self.problems = list(problems)


class MalformedRequest(InvalidRequest):
    """Not readable at all: a body that is not JSON, a parameter or header of the wrong form."""


class InvalidBody(InvalidRequest):
    """Readable, but not a valid submission: the schema, the kind, the queue, the count."""


class InvalidItems(InvalidBody):
    """Some items are not valid for their kind; each problem names the item's index."""


class TooLarge(InvalidRequest):
    """The body, or some items, are over the size limits."""


class NotFound(JobsError):
    """No such task or job."""


class Conflict(JobsError):
    """The request contradicts the resource's state (an idempotency key reused with another
    body, results asked for while the task runs, a retry of a cancelled task)."""


class PermanentJobError(JobsError):
    """Raised by a kind's handler when retrying cannot help: the job fails at once."""
