"""What a use case is handed. Each use case names, as a small protocol of its own, exactly the
collaborators it uses (``class Cancelling(Protocol): table, queues, lifecycle``); the
composition root (``composition.py``, outside the domain) builds one object that has them all,
over Azure Storage or over the in-memory twin. This module holds what several share. Nothing
here imports a storage SDK, so neither does a use case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jobs.core.models import Job, JsonValue, TaskSummary
    from jobs.core.settings import Settings
    from jobs.dispatch.growth import Window
    from jobs.kinds import Kinds
    from jobs.kinds.files import Files
    from jobs.lifecycle.admission import Admission
    from jobs.lifecycle.writer import Lifecycle
    from jobs.storage.jobs_table import JobsTable
    from jobs.storage.payloads import Payloads
    from jobs.storage.queues import JobQueues


class Documents(Protocol):
    """The shapes the world sees (api.wire): a task, its end's event, a line of its results.
    The domain decides when to write them, never what they look like."""

    def task(self, summary: TaskSummary) -> dict[str, Any]: ...

    def event(self, summary: TaskSummary, event_id: str, sent_at: str) -> dict[str, Any]: ...

    def result_line(self, job: Job, result: JsonValue) -> bytes: ...


class Storage(Protocol):
    """The table, the queues and the service's blobs: what most background steps use."""

    table: JobsTable
    queues: JobQueues
    payloads: Payloads


class Everything(Storage, Protocol):
    """All of them: only for what routes every kind of message (jobs.control.handlers)."""

    lifecycle: Lifecycle
    kinds: Kinds
    files: Files
    settings: Settings
    documents: Documents
    window: Window
    admission: Admission
