"""The storage contracts. Each method's docstring is the behaviour every implementation owes;
tests/storage/test_contract.py checks it against the in-memory twin and real Azurite alike.

Property values are ``str``, ``int`` (32-bit), ``bool`` or ``float``; a property set to None is
not written. Row keys sort as strings, and queries return rows in that order."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from jobs.core.errors import JobsError

MAX_WRITES = 100  # entities in one entity-group transaction
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_ENTITY_BYTES = 1024 * 1024
MAX_PROPERTY_CHARS = 32 * 1024  # 64 KiB of UTF-16
# The most a blob read hands over at once, and the size of the blocks a streamed put sends: a
# reader or writer of a blob of any size holds a few of these, never the whole blob. 1 MiB, not
# the SDK's 4: the SDK copies each chunk several times on its way, so a streamed transform peaked
# about 25 MiB above idle with 1 MiB chunks and 70 MiB with 4 MiB ones (measured, 64 MiB input,
# no slower), and an instance may run 32 jobs at once.
CHUNK_BYTES = 1024 * 1024


class StorageError(JobsError):
    """Base of the contracts' own errors; anything else from storage is a failure to retry."""


class ConcurrentUpdate(StorageError):
    """A guarded write found its row changed since it was read: read again, decide again."""


class EntityExists(StorageError):
    """A create found its row there already."""


class EntityMissing(StorageError):
    """A merge or delete found no row to change."""


class InvalidWrite(StorageError):
    """A transaction storage would refuse as a whole: too many rows, too many bytes, a row
    named twice, a property too large."""


class QueueMissing(StorageError):
    """The queue does not exist."""


class MessageMissing(StorageError):
    """The message is gone, or the receipt is not the latest one for it."""


@dataclass(frozen=True)
class Entity:
    partition: str
    row: str
    props: Mapping[str, Any]
    etag: str


@dataclass(frozen=True)
class Write:
    """One row's part in a transaction.

    - ``create``: insert; EntityExists when the row is there.
    - ``merge``: change the named properties of an existing row; EntityMissing when there is
      none; with ``etag``, ConcurrentUpdate unless the row is unchanged since that version.
    - ``upsert``: merge, or insert when the row is not there (no ``etag``).
    - ``delete``: remove; EntityMissing when there is none; ``etag`` guards as for merge.
    """

    op: Literal["create", "merge", "upsert", "delete"]
    row: str
    props: Mapping[str, Any] = field(default_factory=dict)
    etag: str | None = None


@dataclass(frozen=True)
class Sent:
    """A message just added: what deleting it takes, before anyone received it."""

    id: str
    receipt: str


@dataclass(frozen=True)
class Received:
    id: str
    receipt: str  # what delete needs; each receive gives a new one
    text: str  # the body exactly as it was sent
    dequeue_count: int  # 1 on the first receive


@dataclass(frozen=True)
class Rows:
    """Which of a partition's rows a query returns: those with ``start <= row < end`` (and
    ``row > after`` when given) whose properties equal ``equals``. With ``select`` each entity
    carries only those properties (and no others, whatever the row holds). ``page_size`` says
    how many rows the caller expects to read, so storage is asked for that many at a time
    (1,000 at most); the rows are the same whatever it is."""

    start: str = ""
    after: str | None = None
    end: str | None = None
    equals: Mapping[str, Any] | None = None
    select: Sequence[str] | None = None
    page_size: int | None = None


ALL_ROWS = Rows()


class TableStore(Protocol):
    def get(self, partition: str, row: str) -> Entity | None:
        """The row, or None."""
        ...

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        """The partition's ``rows``, in row order, fetched as they are read."""
        ...

    def query_partitions(
        self, start: str, end: str, *, select: Sequence[str] | None = None
    ) -> Iterator[Entity]:
        """The rows of every partition whose key is in ``start <= key < end``, in partition
        then row order (one range query: partitions outside the range are not read). With
        ``select`` as for ``query``."""
        ...

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        """Apply ``writes`` to one partition all together or not at all, and return each
        row's new ETag in order ("" for a delete). The first failing write's error is raised
        and nothing is written. InvalidWrite, before anything is sent, for more than
        MAX_WRITES rows, a row named twice, or more than MAX_TRANSACTION_BYTES."""
        ...

    def ping(self) -> None:
        """One cheap read, without retries; raises when storage does not answer."""
        ...


class QueueStore(Protocol):
    def send(self, queue: str, text: str, *, delay: timedelta | None = None) -> Sent:
        """Add a message, visible after ``delay``; its id and a receipt that deletes it until
        someone receives it. QueueMissing when the queue is not there."""
        ...

    def receive(self, queue: str, count: int, visibility: timedelta) -> list[Received]:
        """Up to ``count`` visible messages, oldest first, each hidden for ``visibility`` and
        its dequeue count raised. QueueMissing when the queue is not there."""
        ...

    def delete(self, queue: str, message_id: str, receipt: str) -> None:
        """Remove a received message. MessageMissing when it is gone or ``receipt`` is stale."""
        ...

    def depth(self, queue: str) -> int:
        """How many messages the queue holds, visible or not (approximate in Azure)."""
        ...

    def oldest(self, queue: str) -> datetime | None:
        """When the oldest visible message was added; None when none is visible."""
        ...

    def ping(self) -> None:
        """One cheap read, without retries; raises when storage does not answer."""
        ...


class BlobStore(Protocol):
    def put(
        self, container: str, name: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        """Store ``data`` under ``name``, replacing what was there."""
        ...

    def put_stream(
        self, container: str, name: str, chunks: Iterable[bytes], *, content_type: str | None = None
    ) -> None:
        """Store the concatenation of ``chunks`` (of any sizes) under ``name``, replacing what
        was there, holding no more than a few CHUNK_BYTES of it at once. When ``chunks`` raises,
        the error propagates and what was stored under ``name`` stays as it was."""
        ...

    def get(self, container: str, name: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob."""
        ...

    def size(self, container: str, name: str) -> int | None:
        """The blob's length in bytes, without reading it; None when there is no such blob."""
        ...

    def read(self, container: str, name: str) -> Iterator[bytes] | None:
        """The blob's bytes in order, in chunks of at most CHUNK_BYTES each, fetched a chunk at
        a time; None when there is no such blob."""
        ...

    def delete(self, container: str, name: str) -> None:
        """Remove the blob; nothing happens when there is none."""
        ...

    def list_names(self, container: str, prefix: str) -> Iterator[str]:
        """The names of the container's blobs that start with ``prefix``, in name order,
        fetched a page at a time as they are consumed."""
        ...

    def link(self, container: str, name: str, lifetime: timedelta) -> str:
        """A URL that reads this one blob, and only reads it, for ``lifetime``."""
        ...

    def ping(self) -> None:
        """One cheap read, without retries; raises when storage does not answer."""
        ...


def check_transaction(writes: Sequence[Write]) -> None:
    """What storage refuses in a transaction as a whole; both implementations check it first,
    so the twin and Azure fail alike (Azurite lets some of it through)."""
    if not writes:
        raise InvalidWrite("a transaction needs at least one write")
    if len(writes) > MAX_WRITES:
        raise InvalidWrite(f"{len(writes)} writes; a transaction holds at most {MAX_WRITES}")
    rows = [write.row for write in writes]
    if len(set(rows)) != len(rows):
        raise InvalidWrite("a row may appear only once in a transaction")
    total = 0
    for write in writes:
        for name, value in write.props.items():
            check_property(name, value)
        size = entity_size(write.props)
        if size > MAX_ENTITY_BYTES:
            raise InvalidWrite(f"row {write.row!r} is {size} bytes; at most {MAX_ENTITY_BYTES}")
        total += size
    if total > MAX_TRANSACTION_BYTES:
        raise InvalidWrite(f"{total} bytes; a transaction holds at most {MAX_TRANSACTION_BYTES}")


def check_property(name: str, value: Any) -> None:
    """A string property holds 32K UTF-16 code units at most."""
    if not isinstance(value, str) or len(value) <= MAX_PROPERTY_CHARS // 2:
        return  # cheap: no string this short can be over, whatever its characters
    if len(value.encode("utf-16-le")) // 2 > MAX_PROPERTY_CHARS:
        raise InvalidWrite(f"property {name!r} is over {MAX_PROPERTY_CHARS} characters")


def entity_size(props: Mapping[str, Any]) -> int:
    """An estimate of an entity's stored size, as the service counts it (UTF-16 text)."""
    size = 0
    for name, value in props.items():
        size += 8 + 2 * len(name)
        size += 2 * len(value) if isinstance(value, str) else 8
    return size
