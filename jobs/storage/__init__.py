"""The storage the service runs on, as three small contracts (``contracts``): a table of
entities, queues of text messages and containers of blobs. ``azure`` implements them over the
Azure SDKs (``connection`` makes its clients, ``provision`` creates what the app uses);
``memory`` in process memory, for fast tests of the rules built on top. Over them, the gateways
the use cases are handed: ``jobs_table`` (the task's rows, mapped; every key in ``keys``),
``queues`` (messages on the wire) and ``payloads`` (the service's own blobs). One contract test
(tests/storage/test_contract.py) holds both to the same behaviour."""

from jobs.storage.contracts import (
    ALL_ROWS,
    BlobStore,
    ConcurrentUpdate,
    Entity,
    EntityExists,
    EntityMissing,
    InvalidWrite,
    MessageMissing,
    QueueMissing,
    QueueStore,
    Received,
    Rows,
    Sent,
    StorageError,
    TableStore,
    Write,
)

__all__ = [
    "ALL_ROWS",
    "BlobStore",
    "ConcurrentUpdate",
    "Entity",
    "EntityExists",
    "EntityMissing",
    "InvalidWrite",
    "MessageMissing",
    "QueueMissing",
    "QueueStore",
    "Received",
    "Rows",
    "Sent",
    "StorageError",
    "TableStore",
    "Write",
]
