"""What one attempt of a job writes while its handler runs: progress reports and checkpoints,
both onto the job's row, and nothing once the attempt is over (it ended, ran past its kind's
time limit, or lost the job to another copy).

A checkpoint is written guarded by the row's ETag as this attempt last wrote it. When the guard
fails, the row is read again: if the job is still running in this generation (a duplicate's
start or a progress report moved the ETag), the checkpoint is written on the fresh row;
otherwise the job has ended or been retried, and the checkpoint is dropped, so an ended job
never gets one back. The finishing move then starts from the row as this attempt left it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import replace
from typing import Protocol

from jobs.core.clock import utcnow
from jobs.core.models import Job, JobStatus, JsonValue
from jobs.lifecycle.writer import Lifecycle
from jobs.storage import ConcurrentUpdate
from jobs.storage.jobs_table import JobsTable
from jobs.storage.payloads import Payloads

REPORT_INTERVAL = 1.0  # seconds between two progress writes of one job
MAX_RACES = 10


class Storage(Protocol):
    """The job's row and, for a large checkpoint, its blob; the process's progress board."""

    table: JobsTable
    payloads: Payloads
    lifecycle: Lifecycle


class Attempt:
    def __init__(self, service: Storage, job: Job):
        self._service = service
        self._job = job
        self._lock = threading.Lock()
        self._over = False
        self._last_report = 0.0

    @property
    def job(self) -> Job:
        """The row as this attempt last wrote it (its ETag guards the finishing move)."""
        with self._lock:
            return self._job

    @property
    def state(self) -> JsonValue:
        """The checkpoint an earlier attempt saved, as the job was started."""
        return self._service.payloads.decode(self._job.checkpoint)

    def end(self) -> None:
        """The attempt is over: whatever its handler still writes is dropped."""
        with self._lock:
            self._over = True
        self._service.lifecycle.progress.stopped(self._job.task_id, self._job.index)

    def report(self, fraction: float, message: str | None) -> None:
        """At most about one write a second (the last word of a burst may wait for the next
        report, or for the job's end, which says all). A lost report never fails the job."""
        if self._over:
            return
        self._service.lifecycle.progress.report(self._job.task_id, self._job.index, fraction)
        now = time.monotonic()
        if now - self._last_report < REPORT_INTERVAL and fraction < 1.0:
            return
        self._last_report = now
        text = json.dumps(
            {"fraction": round(fraction, 4), "message": message, "at": utcnow()},
            separators=(",", ":"),
        )
        with self._lock, contextlib.suppress(Exception):
            if not self._over:
                etag = self._service.table.report_progress(self._job, text)
                self._job = replace(self._job, progress=text, etag=etag)

    def checkpoint(self, state: JsonValue) -> None:
        job = self.job
        stored = self._service.payloads.encode(job.task_id, "Checkpoint", job.job_id, state)
        with self._lock:
            for _ in range(MAX_RACES):
                if self._over:
                    return
                at = utcnow()
                try:
                    etag = self._service.table.save_checkpoint(self._job, stored, at)
                except ConcurrentUpdate:
                    fresh = self._service.table.get_job(self._job.task_id, self._job.index)
                    if not _still_running(fresh, self._job):
                        self._over = True  # ended or retried elsewhere: keep nothing
                        return
                    assert fresh is not None
                    self._job = fresh
                    continue
                self._job = replace(self._job, checkpoint=stored, checkpoint_at=at, etag=etag)
                return
            raise ConcurrentUpdate(f"{job.task_id}/{job.job_id}: checkpoint kept losing races")


def _still_running(fresh: Job | None, ours: Job) -> bool:
    return (
        fresh is not None
        and fresh.status is JobStatus.IN_PROGRESS
        and fresh.generation == ours.generation
    )
