"""What a job queue's function does with a message: route it by its op."""

from __future__ import annotations

import logging

from jobs.collaborators import Everything
from jobs.control.cancel import cancel_pending
from jobs.control.purge import purge_step
from jobs.control.retry import run_retry
from jobs.core import logs
from jobs.core.models import (
    CancelMessage,
    DeliverMessage,
    FanOutMessage,
    FinishedMessage,
    PurgeMessage,
    RetryMessage,
    parse_message,
)
from jobs.dispatch.fanout import fan_out
from jobs.lifecycle.running import run_job
from jobs.task_end.completion import deliver, follow_up


def handle(
    service: Everything, queue: str, body: str, attempt: int, message_id: str | None = None
) -> None:
    """Handle one message from ``queue``, delivered for the ``attempt``-th time (``message_id``
    is the queue's id for it, the same on every delivery). Raising asks the host to retry;
    after its last attempt the message goes to the poison queue."""
    try:
        message = parse_message(body)
    except ValueError:
        # Not ours: retrying cannot help. Logged and dropped rather than poisoned.
        logs.event("message_unreadable", logging.WARNING, queue=queue, body=body[:200])
        return
    if isinstance(message, FanOutMessage):
        fan_out(service, message.task_id, message.claim or message_id)
    elif isinstance(message, CancelMessage):
        cancel_pending(service, message.task_id)
    elif isinstance(message, RetryMessage):
        run_retry(service, message)
    elif isinstance(message, FinishedMessage):
        follow_up(service, message)
    elif isinstance(message, DeliverMessage):
        deliver(service, message)
    elif isinstance(message, PurgeMessage):
        purge_step(service, message.task_id)
    else:
        run_job(service, queue, message, attempt)
