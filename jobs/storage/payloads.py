"""What the service keeps in blobs beside the table: each task's request body as received, job
items and results too large for a table property, and what a task's end writes (its results
file and its event document). A value is encoded (and spilled to a blob if need be) once,
before any write that refers to it; the row mappers never touch blobs."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import timedelta

from jobs.core.models import JsonValue, Payload, Task
from jobs.core.resources import OUTPUTS_CONTAINER, PAYLOADS_CONTAINER
from jobs.storage import BlobStore

# A table property holds 64 KiB (32K UTF-16 characters); longer JSON goes to a blob.
INLINE_LIMIT = 30_000


class Payloads:
    def __init__(self, store: BlobStore):
        self.store = store

    def put_request(self, task: Task, body: bytes) -> None:
        self.store.put(PAYLOADS_CONTAINER, request_path(task), body)

    def get_request(self, task: Task) -> bytes:
        body = self.store.get(PAYLOADS_CONTAINER, request_path(task))
        if body is None:
            raise LookupError(f"task {task.task_id}: its request body is missing")
        return body

    def encode(self, task_id: str, name: str, job_id: str, value: JsonValue) -> Payload:
        """``value`` as a row keeps it; a large one is written to its blob here, once."""
        text = json.dumps(value, separators=(",", ":"))
        if len(text) <= INLINE_LIMIT:
            return Payload(text=text)
        path = f"{task_id}/{name.lower()}/{job_id}.json"
        self.store.put(PAYLOADS_CONTAINER, path, text.encode())
        return Payload(blob=path)

    def decode(self, payload: Payload | None) -> JsonValue:
        if payload is None:
            return None
        if payload.blob is None:
            return None if payload.text is None else json.loads(payload.text)
        data = self.store.get(PAYLOADS_CONTAINER, payload.blob)
        if data is None:
            raise LookupError(f"payload {payload.blob} is missing")
        return json.loads(data)

    # -- what a task's end writes ---------------------------------------------------------

    def results_size(self, task_id: str, number: int) -> int | None:
        """The size of end ``number``'s results file; None until it is written."""
        return self.store.size(PAYLOADS_CONTAINER, results_path(task_id, number))

    def write_results(self, task_id: str, number: int, lines: Iterable[bytes]) -> None:
        self.store.put_stream(
            PAYLOADS_CONTAINER, results_path(task_id, number), lines,
            content_type="application/x-ndjson",
        )  # fmt: skip

    def read_results(self, task_id: str, number: int) -> Iterator[bytes] | None:
        return self.store.read(PAYLOADS_CONTAINER, results_path(task_id, number))

    def results_link(self, task_id: str, number: int, lifetime: timedelta) -> str:
        """A read-only link to the results file that works for ``lifetime``."""
        return self.store.link(PAYLOADS_CONTAINER, results_path(task_id, number), lifetime)

    def get_event(self, task_id: str, number: int) -> bytes | None:
        return self.store.get(PAYLOADS_CONTAINER, event_path(task_id, number))

    def put_event(self, task_id: str, number: int, document: bytes) -> None:
        self.store.put(
            PAYLOADS_CONTAINER, event_path(task_id, number), document,
            content_type="application/json",
        )  # fmt: skip

    # -- what a purge deletes ---------------------------------------------------------------

    def owned_by(self, task_id: str) -> Iterator[tuple[str, str]]:
        """Every blob the task owns, as (container, name): its payloads and its outputs."""
        for container in (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER):
            for name in self.store.list_names(container, f"{task_id}/"):
                yield container, name

    def delete(self, container: str, name: str) -> None:
        self.store.delete(container, name)

    def ping(self) -> None:
        self.store.ping()


def request_path(task: Task) -> str:
    """Where a task's request body is kept, as received. Named by its fingerprint too, so a
    racing submit with the same Idempotency-Key and another body cannot overwrite it."""
    return f"{task.task_id}/request-{task.request_hash[:16]}.json"


def results_path(task_id: str, number: int) -> str:
    """Where the results file of a task's ``number``-th end is kept."""
    return f"{task_id}/results-{number}.ndjson"


def event_path(task_id: str, number: int) -> str:
    """Where the event document of a task's ``number``-th end is kept."""
    return f"{task_id}/event-{number}.json"
