"""Running one job from its queue message, safe under redelivery and duplicates: the lifecycle
decides whether there is anything to run and records how it ended; this module runs the
kind's handler in between and says which way it went."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any, Protocol

from pydantic import ValidationError

from jobs.collaborators import HasFiles, HasKinds, HasLifecycle, HasPayloads, HasTable
from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.errors import PermanentJobError
from jobs.core.messages import RunMessage
from jobs.core.models import Job
from jobs.kinds import JobContext
from jobs.kinds.base import HOST_MAX_ATTEMPTS, Reporter

MAX_ERROR_LENGTH = 4000
REPORT_INTERVAL = 1.0  # seconds between two progress writes of one job


class Running(HasTable, HasPayloads, HasLifecycle, HasKinds, HasFiles, Protocol):
    """What running a job uses: its row, its values, its moves, its kind and the kind's files."""


def run_job(service: Running, queue: str, message: RunMessage, attempt: int) -> None:
    """Run the job ``message`` names. Returns when the job is finished (or was already);
    raises when the host should retry it."""
    with service.lifecycle.working(message.task_id):
        _run(service, queue, message, attempt)


def _run(service: Running, queue: str, message: RunMessage, attempt: int) -> None:
    lifecycle = service.lifecycle
    claim = lifecycle.start(message, queue, attempt)
    if claim is None:
        return
    job = claim.job
    dims: dict[str, Any] = {
        "queue": queue, "task_id": job.task_id, "job_id": job.job_id, "attempt": attempt,
    }  # fmt: skip
    kind = service.kinds.get(job.kind)
    if kind is None:
        lifecycle.fail(claim, f"unknown kind {job.kind!r}")
        logs.event("job_failed", logging.WARNING, error="unknown kind", kind=job.kind, **dims)
        return
    dims["kind"] = kind.name
    logs.event("job_started", **dims)
    try:
        item = kind.item.validate_python(
            service.payloads.decode(job.item), context=service.kinds.context
        )
        context = JobContext(
            job.task_id, job.job_id, attempt, service.files, _reporter(service, job)
        )
        result = kind.handler(item, context)
    except (PermanentJobError, ValidationError) as error:
        lifecycle.fail(claim, describe(error))
        logs.event("job_failed", logging.WARNING, error=describe(error), **dims)
        return
    except Exception as error:
        if kind.max_attempts < HOST_MAX_ATTEMPTS and attempt >= kind.max_attempts:
            # The kind allows fewer attempts than the host and this was its last: fail now,
            # error kept. (At the host's own limit the message goes to poison as before.)
            lifecycle.fail(claim, describe(error))
            logs.event("job_failed", logging.WARNING, error=describe(error), **dims)
            return
        lifecycle.note_error(claim, describe(error))
        logs.event("job_retrying", logging.WARNING, error=describe(error), **dims)
        raise
    lifecycle.complete(claim, result)
    logs.event("job_completed", **dims)


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        text = "item is not valid: " + "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or 'item'}: {issue['msg']}"
            for issue in error.errors()
        )
    elif isinstance(error, PermanentJobError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_LENGTH]


def _reporter(service: Running, job: Job) -> Reporter:
    """Writes a running job's reports, at most about one a second (the last word of a burst
    may wait for the next report, or for the job's end, which says all)."""
    last = 0.0

    def report(fraction: float, message: str | None) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < REPORT_INTERVAL and fraction < 1.0:
            return
        last = now
        text = {"fraction": round(fraction, 4), "message": message, "at": utcnow()}
        with contextlib.suppress(Exception):  # a lost report must never fail the job
            service.table.report_progress(job, json.dumps(text, separators=(",", ":")))

    return report
