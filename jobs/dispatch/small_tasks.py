"""Dispatching a small task during its submit, so its first jobs need one queue hop, not two.

A submit normally leaves the job rows and the first window to the fan-out on the control queue:
the answer then never waits on the batch's size, but the first job waits for two polls (the
fan-out message, then the job messages). A small batch costs less to spread than a poll takes
(one transaction of rows, a few sends in parallel), so submit spreads it itself, through the
same ``jobs.dispatch.fanout.spread`` a fan-out uses and under a claim of its own.

The safety net is the fan-out message, sent as always but hidden for ``SAFETY_NET`` and carrying
that claim: a submit that dies (or fails) after the message and before the task is marked
dispatched leaves a fan-out that may finish the dispatch (rows found already there are skipped,
messages sent twice are absorbed by the runner). When the submit got through, it deletes the
message with the receipt its send returned; should that fail, the message finds the task
dispatched and does nothing. Delayed tasks are never dispatched here: their jobs wait for
``not_before`` in the fan-out message's visibility."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from jobs.collaborators import Storage
from jobs.core import logs
from jobs.core.models import Task
from jobs.core.resources import CONTROL_QUEUE
from jobs.dispatch.fanout import spread
from jobs.storage import Sent

# Bounds on what a submit does before its answer. The rows are one transaction whatever their
# number (up to 100), but the first window's messages go one by one (a queue has no batch send),
# about 2 ms of client CPU each: 100 items added ~200 ms to a submit, 32 add well under 0.1 s.
# 64 KiB of body keeps the rows in one transaction, with no value spilled to a blob.
INLINE_ITEMS = 32
INLINE_BYTES = 64 * 1024
# How long the fan-out message behind an inline dispatch stays hidden: far longer than a
# dispatch takes (a few round trips), so it normally arrives to find the task dispatched; a
# crash's jobs start after it. Should a slow dispatch still be running then, both send the first
# window under the same claim, and the runner absorbs the duplicates.
SAFETY_NET = timedelta(seconds=10)
MAX_LOGGED_ERROR = 300


def eligible(task: Task, body_bytes: int) -> bool:
    """Whether submit dispatches the task itself."""
    return task.not_before is None and task.total <= INLINE_ITEMS and body_bytes <= INLINE_BYTES


def dispatch(service: Storage, task: Task, items: list[Any], claim: str) -> bool:
    """Spread the task's jobs now, as the dispatcher named ``claim``; False when that failed
    and the fan-out message holding the same claim is left to do it."""
    try:
        spread(service, task, items, claim)
    except Exception as error:  # the task is accepted either way: its fan-out is queued
        logs.event(
            "inline_dispatch_failed",
            logging.WARNING,
            task_id=task.task_id,
            error=f"{type(error).__name__}: {error}"[:MAX_LOGGED_ERROR],
        )
        return False
    return True


def withdraw(service: Storage, safety_net: Sent) -> None:
    """The dispatch is done: delete its fan-out message. Best effort: left in place, it finds
    the task dispatched and does nothing."""
    try:
        service.queues.withdraw(CONTROL_QUEUE, safety_net)
    except Exception as error:
        logs.event(
            "safety_net_left",
            logging.WARNING,
            error=f"{type(error).__name__}: {error}"[:MAX_LOGGED_ERROR],
        )
