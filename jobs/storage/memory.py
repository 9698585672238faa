"""The storage contracts in process memory: the twin of Azure Storage that lifecycle tests run
on in milliseconds. It keeps the rules those tests rely on: ETags, all-or-nothing transactions
with storage's limits, and queue visibility with receipts and dequeue counts. Thread-safe."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobs.storage.contracts import (
    ALL_ROWS,
    CHUNK_BYTES,
    ConcurrentUpdate,
    Entity,
    EntityExists,
    EntityMissing,
    MessageMissing,
    QueueMissing,
    Received,
    Rows,
    Sent,
    Write,
    check_transaction,
)

Clock = Callable[[], float]


class MemoryTableStore:
    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Entity]] = {}
        self._versions = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, partition: str, row: str) -> Entity | None:
        with self._lock:
            return self._rows.get(partition, {}).get(row)

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        with self._lock:
            stored = sorted(self._rows.get(partition, {}).items())
        for key, entity in stored:
            if key < rows.start or (rows.after is not None and key <= rows.after):
                continue
            if rows.end is not None and key >= rows.end:
                break
            if rows.equals and any(entity.props.get(k) != v for k, v in rows.equals.items()):
                continue
            if rows.select is not None:
                props = {name: entity.props[name] for name in rows.select if name in entity.props}
                entity = Entity(entity.partition, entity.row, props, entity.etag)
            yield entity

    def query_partitions(
        self, start: str, end: str, *, select: Sequence[str] | None = None
    ) -> Iterator[Entity]:
        with self._lock:
            partitions = sorted(p for p in self._rows if start <= p < end)
        for partition in partitions:
            yield from self.query(partition, Rows(select=select))

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        check_transaction(writes)
        with self._lock:
            rows = self._rows.setdefault(partition, {})
            staged: dict[str, Entity | None] = {}
            for write in writes:  # decide everything first: all or nothing
                staged[write.row] = self._apply(partition, rows.get(write.row), write)
            for row, entity in staged.items():
                if entity is None:
                    del rows[row]
                else:
                    rows[row] = entity
        return [entity.etag if entity else "" for entity in staged.values()]

    def ping(self) -> None:
        return None

    def _apply(self, partition: str, current: Entity | None, write: Write) -> Entity | None:
        if write.op == "create" and current is not None:
            raise EntityExists(write.row)
        if write.op in ("merge", "delete"):
            if current is None:
                raise EntityMissing(write.row)
            if write.etag is not None and write.etag != current.etag:
                raise ConcurrentUpdate(write.row)
        if write.op == "delete":
            return None
        base = dict(current.props) if current is not None and write.op != "create" else {}
        base.update((k, v) for k, v in write.props.items() if v is not None)
        return Entity(partition, write.row, base, f'W/"{next(self._versions)}"')


@dataclass
class _Message:
    id: str
    text: str
    visible_at: float
    inserted: datetime
    dequeue_count: int = 0
    receipt: str = ""


class MemoryQueueStore:
    """Queues exist once created (``queues`` at construction, or ``create``); ``clock`` is
    injectable so visibility can be tested without waiting."""

    def __init__(self, queues: Iterable[str] = (), clock: Clock = time.monotonic):
        self.clock = clock
        self._queues: dict[str, list[_Message]] = {name: [] for name in queues}
        self._lock = threading.Lock()

    def create(self, queue: str) -> None:
        with self._lock:
            self._queues.setdefault(queue, [])

    def send(self, queue: str, text: str, *, delay: timedelta | None = None) -> Sent:
        hidden = 0.0 if delay is None else delay.total_seconds()
        with self._lock:
            message = _Message(uuid.uuid4().hex, text, self.clock() + hidden, datetime.now(UTC))
            message.receipt = uuid.uuid4().hex  # good until the first receive replaces it
            self._queue(queue).append(message)
            return Sent(message.id, message.receipt)

    def receive(self, queue: str, count: int, visibility: timedelta) -> list[Received]:
        now = self.clock()
        received: list[Received] = []
        with self._lock:
            for message in self._queue(queue):
                if len(received) == count:
                    break
                if message.visible_at > now:
                    continue
                message.visible_at = now + max(1.0, visibility.total_seconds())
                message.dequeue_count += 1
                message.receipt = uuid.uuid4().hex
                received.append(
                    Received(message.id, message.receipt, message.text, message.dequeue_count)
                )
        return received

    def delete(self, queue: str, message_id: str, receipt: str) -> None:
        with self._lock:
            messages = self._queue(queue)
            for position, message in enumerate(messages):
                if message.id == message_id and message.receipt == receipt:
                    del messages[position]
                    return
        raise MessageMissing(message_id)

    def depth(self, queue: str) -> int:
        with self._lock:
            return len(self._queue(queue))

    def oldest(self, queue: str) -> datetime | None:
        now = self.clock()
        with self._lock:
            visible = [m.inserted for m in self._queue(queue) if m.visible_at <= now]
        return visible[0] if visible else None

    def texts(self, queue: str) -> list[str]:
        """Every message's body, visible or not (for tests to look behind the queue)."""
        with self._lock:
            return [message.text for message in self._queue(queue)]

    def ping(self) -> None:
        return None

    def _queue(self, queue: str) -> list[_Message]:
        try:
            return self._queues[queue]
        except KeyError:
            raise QueueMissing(queue) from None


class MemoryBlobStore:
    """``chunk_size`` (at most CHUNK_BYTES) lets tests read in small chunks."""

    def __init__(self, chunk_size: int = CHUNK_BYTES) -> None:
        if not 0 < chunk_size <= CHUNK_BYTES:
            raise ValueError(f"chunk_size must be 1 to {CHUNK_BYTES}")
        self.chunk_size = chunk_size
        self._blobs: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def put(
        self, container: str, name: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        with self._lock:
            self._blobs[container, name] = bytes(data)

    def put_stream(
        self, container: str, name: str, chunks: Iterable[bytes], *, content_type: str | None = None
    ) -> None:
        data = b"".join(chunks)  # all or nothing: a failing iterator stores nothing
        self.put(container, name, data, content_type=content_type)

    def get(self, container: str, name: str) -> bytes | None:
        with self._lock:
            return self._blobs.get((container, name))

    def size(self, container: str, name: str) -> int | None:
        data = self.get(container, name)
        return None if data is None else len(data)

    def read(self, container: str, name: str) -> Iterator[bytes] | None:
        data = self.get(container, name)
        if data is None:
            return None
        return (data[at : at + self.chunk_size] for at in range(0, len(data), self.chunk_size))

    def delete(self, container: str, name: str) -> None:
        with self._lock:
            self._blobs.pop((container, name), None)

    def list_names(self, container: str, prefix: str) -> Iterator[str]:
        with self._lock:
            names = sorted(n for (c, n) in self._blobs if c == container and n.startswith(prefix))
        yield from names

    def link(self, container: str, name: str, lifetime: timedelta) -> str:
        return f"memory://{container}/{name}?lifetime={int(lifetime.total_seconds())}"

    def names(self, container: str) -> list[str]:
        """Every blob's name in ``container`` (for tests)."""
        with self._lock:
            return sorted(name for (c, name) in self._blobs if c == container)

    def ping(self) -> None:
        return None
