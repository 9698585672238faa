"""The storage the service runs on, as three small contracts (``base``): a table of entities,
queues of text messages and containers of blobs. ``azure`` implements them over the Azure SDKs;
``memory`` in process memory, for fast tests of the rules built on top. One contract test
(tests/storage/test_contract.py) holds both to the same behaviour."""

from jobs.storage.contracts import (
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
    Sent,
    StorageError,
    TableStore,
    Write,
)

__all__ = [
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
    "Sent",
    "StorageError",
    "TableStore",
    "Write",
]
