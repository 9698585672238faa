"""What a use case is handed. Each use case names, as a protocol built from these, exactly the
collaborators it uses (the table, the queues, the blobs, ...); the composition root
(``composition.py``, outside the domain) builds one object that has them all, over Azure
Storage or over the in-memory twin. Nothing here imports a storage SDK, so neither does a use
case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jobs.core.models import Job, JsonValue, TaskSummary
    from jobs.core.settings import Settings
    from jobs.kinds import Kinds
    from jobs.kinds.files import Files
    from jobs.lifecycle.admission import Admission
    from jobs.lifecycle.writer import Lifecycle
    from jobs.storage.jobs_table import JobsTable
    from jobs.storage.payloads import Payloads
    from jobs.storage.queues import JobQueues


class HasTable(Protocol):
    @property
    def table(self) -> JobsTable: ...


class HasQueues(Protocol):
    @property
    def queues(self) -> JobQueues: ...


class HasPayloads(Protocol):
    @property
    def payloads(self) -> Payloads: ...


class HasLifecycle(Protocol):
    @property
    def lifecycle(self) -> Lifecycle: ...


class HasKinds(Protocol):
    @property
    def kinds(self) -> Kinds: ...


class HasFiles(Protocol):
    @property
    def files(self) -> Files: ...


class HasAdmission(Protocol):
    @property
    def admission(self) -> Admission: ...


class HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


class Documents(Protocol):
    """The shapes the world sees (api.wire): a task, its end's event, a line of its results.
    The domain decides when to write them, never what they look like."""

    def task(self, summary: TaskSummary) -> dict[str, Any]: ...

    def event(self, summary: TaskSummary, event_id: str, sent_at: str) -> dict[str, Any]: ...

    def result_line(self, job: Job, result: JsonValue) -> bytes: ...


class HasDocuments(Protocol):
    @property
    def documents(self) -> Documents: ...


class Storage(HasTable, HasQueues, HasPayloads, Protocol):
    """The table, the queues and the service's blobs: what most background steps use."""


class Everything(
    Storage, HasLifecycle, HasKinds, HasFiles, HasSettings, HasDocuments, HasAdmission, Protocol
):
    """All of them: only for what routes every kind of message (jobs.control.handlers)."""
