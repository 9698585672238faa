"""The service's queues: messages on the wire as base64 text (the one encoding, as the host's
queue trigger expects by default), each queue's depth, and tolerant reading of poison queues,
which also hold raw copies of undecodable messages."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.core.messages import Message, parse_message
from jobs.core.resources import poison_queue, unreadable_queue
from jobs.storage import MessageMissing, QueueStore, Sent

# How long a poison message stays hidden while the sweep handles it; one that dies leaves its
# messages to the next sweep.
SWEEP_VISIBILITY = timedelta(seconds=60)


@dataclass(frozen=True)
class PoisonMessage:
    queue: str  # the job queue it was poisoned from
    id: str
    receipt: str
    raw: str
    message: Message | None  # None: not one of ours, or unreadable
    dequeue_count: int  # how many sweeps have taken it


class JobQueues:
    def __init__(self, store: QueueStore):
        self.store = store

    def send(self, queue: str, message: Message, delay: timedelta | None = None) -> Sent:
        """Send ``message``, visible after ``delay`` (at most the queue's 7 days)."""
        return self.store.send(queue, encode(message.to_json()), delay=delay)

    def publish(self, queue: str, document: str) -> None:
        """Send a JSON document for other apps to read (``task-events``), encoded as ours are."""
        self.store.send(queue, encode(document))

    def depth(self, queue: str) -> int:
        """Storage's approximate count, invisible messages included; QueueMissing if none."""
        return self.store.depth(queue)

    def oldest(self, queue: str) -> datetime | None:
        """When the first visible message was enqueued; None when none is visible."""
        return self.store.oldest(queue)

    def ping(self) -> None:
        self.store.ping()

    def withdraw(self, queue: str, sent: Sent) -> None:
        """Delete a message this process sent, unless someone has received it since."""
        with contextlib.suppress(MessageMissing):
            self.store.delete(queue, sent.id, sent.receipt)

    def poison(self, queue: str, max_messages: int) -> Iterator[PoisonMessage]:
        """Up to ``max_messages`` from ``queue``'s poison queue, each hidden while the sweep
        handles it. QueueMissing when the host has not created the poison queue yet."""
        remaining = max_messages
        while remaining > 0:
            batch = self.store.receive(poison_queue(queue), min(32, remaining), SWEEP_VISIBILITY)
            if not batch:
                return
            for received in batch:
                raw = received.text
                yield PoisonMessage(
                    queue, received.id, received.receipt, raw, decode(raw), received.dequeue_count
                )
            remaining -= len(batch)

    def delete_poison(self, message: PoisonMessage) -> None:
        self.store.delete(poison_queue(message.queue), message.id, message.receipt)

    def set_aside(self, message: PoisonMessage) -> None:
        """Move a poison message the sweep cannot deal with to ``<queue>-unreadable``, as it
        was, and take it out of the poison queue."""
        self.store.send(unreadable_queue(message.queue), message.raw)
        self.delete_poison(message)


def encode(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def decode(raw: str) -> Message | None:
    """Ours are base64 of JSON; a raw copy from the host's decode-failure path may be JSON as
    is. Anything else is not ours."""
    candidates = [raw]
    # ValueError covers binascii.Error and the one b64decode raises for non-ASCII text.
    with contextlib.suppress(ValueError):
        candidates.insert(0, base64.b64decode(raw, validate=True).decode("utf-8"))
    for text in candidates:
        try:
            return parse_message(text)
        except ValueError:
            continue
    return None
