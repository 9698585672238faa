"""What this process's running jobs reported, added up per task, so a status poll reads one
row per writer instead of every running job.

Each attempt tells the board its job's latest fraction; the board keeps the fractions of the
jobs running here, per task, and writes their sum to the task's progress row for this writer
(``shard-p-<writer>``) at most once every WRITE_INTERVAL (a report inside the interval is
written at its end), and at once when a job here stops running, so a finished job's fraction
leaves the sum. A row not written for PROGRESS_TTL
(jobs.storage.jobs_table) is read as nothing, which is how a dead writer's row fades; a live
one is written again at least that often while its jobs report."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import defaultdict

from jobs.core.clock import utcnow
from jobs.storage.jobs_table import JobsTable

WRITE_INTERVAL = 1.0  # seconds between two writes of one task's row by this writer


class ProgressBoard:
    def __init__(self, table: JobsTable, writer: str | None = None):
        self.table = table
        self.writer = writer or uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._fractions: defaultdict[str, dict[int, float]] = defaultdict(dict)
        self._written: dict[str, float] = {}  # task: when its row was last written (monotonic)
        self._pending: dict[str, threading.Timer] = {}  # task: the write due at its interval

    def report(self, task_id: str, index: int, fraction: float) -> None:
        with self._lock:
            self._fractions[task_id][index] = fraction
            wait = WRITE_INTERVAL - (time.monotonic() - self._written.get(task_id, -WRITE_INTERVAL))
            if wait > 0:
                if task_id not in self._pending:
                    timer = threading.Timer(wait, self._write, (task_id,))
                    timer.daemon = True
                    self._pending[task_id] = timer
                    timer.start()
                return
        self._write(task_id)

    def stopped(self, task_id: str, index: int) -> None:
        """The job no longer runs here (it ended, or its attempt failed)."""
        with self._lock:
            fractions = self._fractions.get(task_id)
            if fractions is None or fractions.pop(index, None) is None:
                return
        self._write(task_id)

    def _write(self, task_id: str) -> None:
        with self._lock:
            self._pending.pop(task_id, None)
            fractions = self._fractions.get(task_id, {})
            total = sum(fractions.values())
            if not fractions:
                self._fractions.pop(task_id, None)
            self._written[task_id] = time.monotonic()
        with contextlib.suppress(Exception):  # a lost report must never fail a job
            self.table.write_progress(task_id, self.writer, total, utcnow())
