"""The daily retention run: finished tasks older than JOBS_RETENTION_DAYS are purged with
everything they own (jobs.control.purge). It reads only the retention index's day partitions
before the cutoff (jobs.task_end.retention_index), never the whole table, and only starts
purges: each runs on
the control queue in its own bounded steps."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobs.collaborators import Storage
from jobs.control import purge
from jobs.core import logs
from jobs.core.errors import Conflict
from jobs.core.models import TaskSummary
from jobs.task_end import retention_index


@dataclass(frozen=True)
class RetentionReport:
    purging: list[str]  # tasks whose purge this run started (or resumed)
    dropped: int  # index rows of tasks gone, or ended again since


def run(service: Storage, days: int, now: datetime | None = None) -> RetentionReport:
    """Start purging every task that finished more than ``days`` days before ``now``."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    purging, dropped = [], 0
    for entry in retention_index.before(service.table, cutoff):
        found = service.table.read_counts(entry.task_id)
        summary = None if found is None else TaskSummary.of(*found)
        if summary is None or summary.task.completion.finished_at != entry.finished_at:
            # Gone, or reopened by a retry (its next end gets a row of its own): stale.
            retention_index.forget(service.table, entry.task_id, entry.finished_at)
            dropped += 1
            continue
        try:
            if purge.start(service, summary):
                purging.append(entry.task_id)
        except Conflict:  # not finished after all (a retry on its way): a later run
            continue
    if purging or dropped:
        logs.event("retention_run", logging.INFO, days=days, purging=len(purging), dropped=dropped)
    return RetentionReport(purging, dropped)
