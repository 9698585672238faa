"""Job queues on the wire: base64 text, as the host's queue trigger expects by default, and
tolerant reading of poison queues, which also hold raw copies of undecodable messages."""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy

from jobs.models import Message, parse_message
from jobs.resources import poison_queue


@dataclass(frozen=True)
class PoisonMessage:
    queue: str  # the job queue it was poisoned from
    id: str
    pop_receipt: str
    raw: str
    message: Message | None  # None: not one of ours, or unreadable


class JobQueues:
    def __init__(self, service: QueueServiceClient):
        self.service = service
        self._senders: dict[str, QueueClient] = {}
        self._readers: dict[str, QueueClient] = {}

    def send(self, queue: str, message: Message) -> None:
        self._sender(queue).send_message(message.to_json())

    def poison(self, queue: str, max_messages: int) -> Iterator[PoisonMessage]:
        """Up to ``max_messages`` from ``queue``'s poison queue, each hidden for a minute while
        the sweep handles it (a sweep that dies leaves them to the next)."""
        reader = self._reader(poison_queue(queue))
        batch = reader.receive_messages(
            messages_per_page=32, visibility_timeout=60, max_messages=max_messages
        )
        for received in batch:
            raw = str(received.content)
            yield PoisonMessage(queue, received.id, str(received.pop_receipt), raw, _decode(raw))

    def delete_poison(self, message: PoisonMessage) -> None:
        self._reader(poison_queue(message.queue)).delete_message(message.id, message.pop_receipt)

    def _sender(self, queue: str) -> QueueClient:
        if queue not in self._senders:
            self._senders[queue] = self.service.get_queue_client(
                queue, message_encode_policy=TextBase64EncodePolicy()
            )
        return self._senders[queue]

    def _reader(self, queue: str) -> QueueClient:
        if queue not in self._readers:
            self._readers[queue] = self.service.get_queue_client(queue)
        return self._readers[queue]


def _decode(raw: str) -> Message | None:
    """Ours are base64 of JSON; a raw copy from the host's decode-failure path may be JSON as
    is. Anything else is not ours."""
    candidates = [raw]
    with contextlib.suppress(binascii.Error, UnicodeDecodeError):
        candidates.insert(0, base64.b64decode(raw, validate=True).decode("utf-8"))
    for text in candidates:
        try:
            return parse_message(text)
        except ValueError:
            continue
    return None
