"""Running one job from its queue message, safe under redelivery and duplicates: the lifecycle
decides whether there is anything to run and records how it ended; this module runs the
kind's handler in between and says which way it went."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from jobs.core import logs
from jobs.core.errors import JobsError, PermanentJobError
from jobs.core.messages import RunMessage
from jobs.core.models import JsonValue, job_id
from jobs.dispatch import growth
from jobs.dispatch.growth import Window
from jobs.kinds import JobContext, Kind, Kinds
from jobs.kinds.base import HOST_MAX_ATTEMPTS
from jobs.kinds.files import Files
from jobs.lifecycle.admission import Admission, Hold
from jobs.lifecycle.attempt import Attempt
from jobs.lifecycle.writer import Lifecycle
from jobs.storage.jobs_table import JobsTable
from jobs.storage.payloads import Payloads
from jobs.storage.queues import JobQueues

MAX_ERROR_LENGTH = 4000
PAST_ATTEMPTS = "the job did not finish within the allowed attempts"


class Running(Protocol):
    """What running a job uses: its row, its values, its moves, its kind and the kind's files;
    the queues, whether it may start now (its message goes back on its queue when not), and
    the window its task may grow by."""

    table: JobsTable
    queues: JobQueues
    payloads: Payloads
    lifecycle: Lifecycle
    kinds: Kinds
    files: Files
    admission: Admission
    window: Window


def run_job(
    service: Running,
    queue: str,
    message: RunMessage,
    delivered: int,
    inserted: datetime | None = None,
) -> None:
    """Run the job ``message`` names, delivered for the ``delivered``-th time (the host's
    dequeue count; ``inserted``: when its message was queued). Returns when the job is
    finished (or was already) or held back; raises when the host should retry it.

    The attempt is the attempts the message carries (spent before it was held back) plus the
    dequeue count. A message that carries any has a fresh dequeue count, so the host's own
    limit no longer applies to it: the runner applies it instead, failing the job at the
    host's last attempt as the host would have moved it to poison."""
    attempt = message.carried + delivered
    if message.carried and attempt > HOST_MAX_ATTEMPTS:
        # The host's rule for a message past its dequeue limit (left by crashes): no run.
        _past_attempts(service, queue, message, attempt)
        return
    admitted = service.admission.admit(queue, message)
    if isinstance(admitted, Hold):
        _hold(service, queue, message, attempt, admitted)
        return
    with admitted, service.lifecycle.working(message.task_id):
        _run(service, queue, message, attempt, inserted)


def _hold(service: Running, queue: str, message: RunMessage, attempt: int, hold: Hold) -> None:
    """Send the job's message again, delayed, carrying the attempts this delivery's dequeue
    count stood for but never made (this one included, as it runs nothing)."""
    later = replace(
        message,
        carried=attempt - 1,
        holds=message.holds + int(hold.reason == "priority"),
    )
    service.queues.send(queue, later, hold.delay)
    logs.event(
        "job_held", queue=queue, task_id=message.task_id, job_id=job_id(message.index),
        reason=hold.reason, holds=later.holds,
    )  # fmt: skip


def _past_attempts(service: Running, queue: str, message: RunMessage, attempt: int) -> None:
    job = service.lifecycle.poison(message, queue)
    if job is not None:
        logs.event(
            "job_failed", logging.WARNING, queue=queue, task_id=job.task_id, job_id=job.job_id,
            attempt=attempt, kind=job.kind, error=job.error or PAST_ATTEMPTS,
        )  # fmt: skip


def _run(
    service: Running, queue: str, message: RunMessage, attempt: int, inserted: datetime | None
) -> None:
    lifecycle = service.lifecycle
    claim = lifecycle.start(message, queue, attempt)
    if claim is None:
        return
    growth.taken(service, message, inserted, datetime.now(UTC))
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
    live = Attempt(service, job)
    try:
        item = kind.item.validate_python(
            service.payloads.decode(job.item), context=service.kinds.context
        )
        context = JobContext(
            job.task_id, job.job_id, attempt, service.files, live.report,
            checkpoint_state=live.state, saver=live.checkpoint,
        )  # fmt: skip
        result = _call(kind, item, context)
    except (PermanentJobError, ValidationError) as error:
        live.end()
        lifecycle.fail(replace(claim, job=live.job), describe(error))
        logs.event("job_failed", logging.WARNING, error=describe(error), **dims)
        return
    except Exception as error:
        live.end()
        claim = replace(claim, job=live.job)
        if attempt >= kind.max_attempts and (
            kind.max_attempts < HOST_MAX_ATTEMPTS or message.carried
        ):
            # The kind allows fewer attempts than the host and this was its last: fail now,
            # error kept. So does the host's last attempt of a message that was held back (its
            # dequeue count started over). Otherwise, at the host's own limit, the message goes
            # to poison as before.
            lifecycle.fail(claim, describe(error))
            logs.event("job_failed", logging.WARNING, error=describe(error), **dims)
            return
        lifecycle.note_error(claim, describe(error))
        logs.event("job_retrying", logging.WARNING, error=describe(error), **dims)
        raise
    live.end()
    lifecycle.complete(replace(claim, job=live.job), result)
    logs.event("job_completed", **dims)


class TimeLimitExceeded(JobsError):
    """The attempt ran past its kind's time limit: it counts as a failed attempt."""


def _call(kind: Kind, item: Any, context: JobContext) -> JsonValue:
    """The kind's handler, within its time limit when it has one. Past the limit the attempt
    fails; the handler's thread cannot be stopped from outside, so it runs on unheeded (its
    progress and checkpoints are dropped, its result never recorded)."""
    if kind.timeout is None:
        return kind.handler(item, context)
    outcome: list[JsonValue] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(kind.handler(item, context))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, name=f"job-{context.job_id}", daemon=True)
    thread.start()
    thread.join(kind.timeout)
    if thread.is_alive():
        raise TimeLimitExceeded(
            f"the attempt ran past the time limit of kind {kind.name!r} ({kind.timeout:g} s)"
        )
    if failure:
        raise failure[0]
    return outcome[0]


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
