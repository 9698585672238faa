"""What a job queue's function does with a message: route it by its op."""

from __future__ import annotations

import logging

from jobs import logs
from jobs.cancel import cancel_pending
from jobs.fanout import fan_out
from jobs.models import CancelMessage, FanOutMessage, parse_message
from jobs.runner import run_job
from jobs.service import Service


def handle(service: Service, queue: str, body: str, attempt: int) -> None:
    """Handle one message from ``queue``, delivered for the ``attempt``-th time. Raising asks
    the host to retry; after its last attempt the message goes to the poison queue."""
    try:
        message = parse_message(body)
    except ValueError:
        # Not ours: retrying cannot help. Logged and dropped rather than poisoned.
        logs.event("message_unreadable", logging.WARNING, queue=queue, body=body[:200])
        return
    if isinstance(message, FanOutMessage):
        fan_out(service, message.task_id)
    elif isinstance(message, CancelMessage):
        cancel_pending(service, message.task_id)
    else:
        run_job(service, queue, message, attempt)
