"""Values kept beside the table: each task's request body as received, and job items and
results too large for a table property. A value is encoded (and spilled to a blob if need be)
once, before any write that refers to it; the row mappers never touch blobs."""

from __future__ import annotations

import json

from jobs.core.models import JsonValue, Payload, Task
from jobs.core.resources import PAYLOADS_CONTAINER
from jobs.storage import BlobStore

# A table property holds 64 KiB (32K UTF-16 characters); longer JSON goes to a blob.
INLINE_LIMIT = 30_000


class Payloads:
    def __init__(self, blobs: BlobStore):
        self.blobs = blobs

    def put_request(self, task: Task, body: bytes) -> None:
        self.blobs.put(PAYLOADS_CONTAINER, request_path(task), body)

    def get_request(self, task: Task) -> bytes:
        body = self.blobs.get(PAYLOADS_CONTAINER, request_path(task))
        if body is None:
            raise LookupError(f"task {task.task_id}: its request body is missing")
        return body

    def encode(self, task_id: str, name: str, job_id: str, value: JsonValue) -> Payload:
        """``value`` as a row keeps it; a large one is written to its blob here, once."""
        text = json.dumps(value, separators=(",", ":"))
        if len(text) <= INLINE_LIMIT:
            return Payload(text=text)
        path = f"{task_id}/{name.lower()}/{job_id}.json"
        self.blobs.put(PAYLOADS_CONTAINER, path, text.encode())
        return Payload(blob=path)

    def decode(self, payload: Payload | None) -> JsonValue:
        if payload is None:
            return None
        if payload.blob is None:
            return None if payload.text is None else json.loads(payload.text)
        data = self.blobs.get(PAYLOADS_CONTAINER, payload.blob)
        if data is None:
            raise LookupError(f"payload {payload.blob} is missing")
        return json.loads(data)


def request_path(task: Task) -> str:
    """Where a task's request body is kept, as received. Named by its fingerprint too, so a
    racing submit with the same Idempotency-Key and another body cannot overwrite it."""
    return f"{task.task_id}/request-{task.request_hash[:16]}.json"


def results_path(task_id: str, number: int) -> str:
    """Where the results file of a task's ``number``-th end is kept."""
    return f"{task_id}/results-{number}.ndjson"
