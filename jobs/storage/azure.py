"""The storage contracts over the Azure SDKs (Azure Storage, or Azurite locally)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)
from azure.storage.queue import QueueClient, QueueServiceClient

from jobs.storage import contracts
from jobs.storage.contracts import (
    ALL_ROWS,
    CHUNK_BYTES,
    Entity,
    Received,
    Rows,
    Sent,
    Write,
    check_transaction,
)

# Blob transfers in CHUNK_BYTES pieces: a download's first request and each later one, and an
# upload's blocks. The SDK's default first request is 32 MiB, whatever the reader wants.
BLOB_TRANSFER_OPTIONS: dict[str, Any] = {
    "max_single_get_size": CHUNK_BYTES,
    "max_chunk_get_size": CHUNK_BYTES,
    "max_block_size": CHUNK_BYTES,
}
# A probe wants the truth now: no retries, short timeouts.
PING: dict[str, Any] = {"retry_total": 0, "connection_timeout": 3, "read_timeout": 5}
KEYS = ("PartitionKey", "RowKey")
MAX_PAGE = 1000  # rows storage returns in one answer at most

_TRANSACTION_ERRORS: dict[str, type[Exception]] = {
    "EntityAlreadyExists": contracts.EntityExists,
    "UpdateConditionNotSatisfied": contracts.ConcurrentUpdate,
    "ResourceNotFound": contracts.EntityMissing,
    "InvalidDuplicateRow": contracts.InvalidWrite,
    "PropertyValueTooLarge": contracts.InvalidWrite,
    "EntityTooLarge": contracts.InvalidWrite,
    "RequestBodyTooLarge": contracts.InvalidWrite,
}


class AzureTableStore:
    def __init__(self, table: TableClient):
        self.client = table

    def get(self, partition: str, row: str) -> Entity | None:
        try:
            return _entity(self.client.get_entity(partition, row))
        except ResourceNotFoundError:
            return None

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        clauses = ["PartitionKey eq @pk", "RowKey ge @start"]
        parameters: dict[str, Any] = {"pk": partition, "start": rows.start}
        if rows.after is not None:
            clauses.append("RowKey gt @after")
            parameters["after"] = rows.after
        if rows.end is not None:
            clauses.append("RowKey lt @end")
            parameters["end"] = rows.end
        for number, (name, value) in enumerate((rows.equals or {}).items()):
            if not name.isidentifier():
                raise ValueError(f"not a property name: {name!r}")
            clauses.append(f"{name} eq @p{number}")
            parameters[f"p{number}"] = value
        found = self.client.query_entities(
            " and ".join(clauses),
            parameters=parameters,
            select=None if rows.select is None else [*KEYS, *rows.select],
            results_per_page=min(rows.page_size or MAX_PAGE, MAX_PAGE),
        )
        for row in found:
            yield _entity(row)

    def query_partitions(
        self, start: str, end: str, *, select: Sequence[str] | None = None
    ) -> Iterator[Entity]:
        rows = self.client.query_entities(
            "PartitionKey ge @start and PartitionKey lt @end",
            parameters={"start": start, "end": end},
            select=None if select is None else [*KEYS, *select],
            results_per_page=1000,
        )
        for row in rows:
            yield _entity(row)

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        check_transaction(writes)
        if len(writes) == 1 and writes[0].op != "delete":
            return [self._single(partition, writes[0])]
        try:
            results = self.client.submit_transaction([_operation(partition, w) for w in writes])
        except TableTransactionError as error:
            if _code(error) in _TRANSACTION_ERRORS:
                raise _TRANSACTION_ERRORS[_code(error)](str(error)) from None
            raise
        return [str(result.get("etag") or "") for result in results]

    def _single(self, partition: str, write: Write) -> str:
        """One row: a plain request is cheaper than a one-row batch."""
        entity = _props(partition, write)
        try:
            if write.op == "create":
                result = self.client.create_entity(entity)
            elif write.op == "upsert":
                result = self.client.upsert_entity(entity, mode=UpdateMode.MERGE)
            else:
                result = self.client.update_entity(entity, mode=UpdateMode.MERGE, **_guard(write))
        except ResourceExistsError:
            raise contracts.EntityExists(write.row) from None
        except ResourceModifiedError:
            raise contracts.ConcurrentUpdate(write.row) from None
        except ResourceNotFoundError:
            raise contracts.EntityMissing(write.row) from None
        except HttpResponseError as error:
            if _code(error) in _TRANSACTION_ERRORS:
                raise _TRANSACTION_ERRORS[_code(error)](str(error)) from None
            raise
        return str(result["etag"])

    def ping(self) -> None:
        next(iter(self.client.query_entities("PartitionKey eq 'ping'", **PING)), None)


class AzureQueueStore:
    """Message bodies go as they are given: the job queues' base64 is the caller's business."""

    def __init__(self, service: QueueServiceClient, ping_queue: str):
        self.service = service
        self.ping_queue = ping_queue
        self._clients: dict[str, QueueClient] = {}

    def send(self, queue: str, text: str, *, delay: timedelta | None = None) -> Sent:
        hidden = None if delay is None else math.ceil(delay.total_seconds())
        try:
            sent = self._client(queue).send_message(text, visibility_timeout=hidden)
        except ResourceNotFoundError:
            raise contracts.QueueMissing(queue) from None
        return Sent(str(sent.id), str(sent.pop_receipt))

    def receive(self, queue: str, count: int, visibility: timedelta) -> list[Received]:
        try:
            messages = self._client(queue).receive_messages(
                messages_per_page=min(count, 32),
                visibility_timeout=max(1, math.ceil(visibility.total_seconds())),
                max_messages=count,
            )
            return [
                Received(m.id, str(m.pop_receipt), str(m.content), int(m.dequeue_count or 1))
                for m in messages
            ]
        except ResourceNotFoundError:
            raise contracts.QueueMissing(queue) from None

    def delete(self, queue: str, message_id: str, receipt: str) -> None:
        try:
            self._client(queue).delete_message(message_id, receipt)
        except ResourceNotFoundError:
            raise contracts.MessageMissing(message_id) from None
        except HttpResponseError as error:
            if _code(error) == "PopReceiptMismatch":
                raise contracts.MessageMissing(message_id) from None
            raise

    def depth(self, queue: str) -> int:
        try:
            return self._client(queue).get_queue_properties().approximate_message_count or 0
        except ResourceNotFoundError:
            raise contracts.QueueMissing(queue) from None

    def oldest(self, queue: str) -> datetime | None:
        try:
            peeked = self._client(queue).peek_messages(max_messages=1)
        except ResourceNotFoundError:
            raise contracts.QueueMissing(queue) from None
        return peeked[0].inserted_on if peeked else None

    def ping(self) -> None:
        self._client(self.ping_queue).get_queue_properties(**PING)

    def _client(self, queue: str) -> QueueClient:
        if queue not in self._clients:
            self._clients[queue] = self.service.get_queue_client(queue)
        return self._clients[queue]


class AzureBlobStore:
    def __init__(self, service: BlobServiceClient, ping_container: str):
        self.service = service
        self.ping_container = ping_container

    def put(
        self, container: str, name: str, data: bytes, *, content_type: str | None = None
    ) -> None:
        settings = None if content_type is None else ContentSettings(content_type=content_type)
        self.service.get_blob_client(container, name).upload_blob(
            data, overwrite=True, content_settings=settings
        )

    def put_stream(
        self, container: str, name: str, chunks: Iterable[bytes], *, content_type: str | None = None
    ) -> None:
        """One request when the data fits in a block; otherwise blocks of CHUNK_BYTES, staged
        one at a time and committed at the end (a failure before the commit changes nothing)."""
        settings = None if content_type is None else ContentSettings(content_type=content_type)
        blocks = _blocks(chunks, CHUNK_BYTES)
        first = next(blocks, b"")
        second = next(blocks, None)
        data: bytes | Iterable[bytes] = first
        if second is not None:
            data = _chained([first, second], blocks)
            del first, second  # the chain lets go of each block once it is sent
        self.service.get_blob_client(container, name).upload_blob(
            data, overwrite=True, content_settings=settings, max_concurrency=1
        )

    def get(self, container: str, name: str) -> bytes | None:
        try:
            return self.service.get_blob_client(container, name).download_blob().readall()
        except ResourceNotFoundError:
            return None

    def size(self, container: str, name: str) -> int | None:
        try:
            return int(self.service.get_blob_client(container, name).get_blob_properties().size)
        except ResourceNotFoundError:
            return None

    def read(self, container: str, name: str) -> Iterator[bytes] | None:
        """Chunks as the SDK downloads them (BLOB_TRANSFER_OPTIONS bound their size); every
        request after the first is conditional on the blob being unchanged since it."""
        try:
            download = self.service.get_blob_client(container, name).download_blob(
                max_concurrency=1
            )
        except ResourceNotFoundError:
            return None
        return download.chunks()

    def delete(self, container: str, name: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):  # gone already: what was asked
            self.service.get_blob_client(container, name).delete_blob(delete_snapshots="include")

    def list_names(self, container: str, prefix: str) -> Iterator[str]:
        blobs = self.service.get_container_client(container).list_blobs(
            name_starts_with=prefix, results_per_page=1000
        )
        for blob in blobs:
            yield str(blob.name)

    def link(self, container: str, name: str, lifetime: timedelta) -> str:
        """A read-only SAS for one blob: signed with the account key where the connection has
        one (Azurite), else with a user delegation key obtained through the identity."""
        now = datetime.now(UTC)
        start, expiry = now - timedelta(minutes=5), now + lifetime
        account_key: str | None = getattr(self.service.credential, "account_key", None)
        delegation_key: UserDelegationKey | None = None
        if account_key is None:
            delegation_key = self.service.get_user_delegation_key(start, expiry)
        token = generate_blob_sas(
            account_name=str(self.service.account_name),
            container_name=container,
            blob_name=name,
            account_key=account_key,
            user_delegation_key=delegation_key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
        )
        return f"{self.service.get_blob_client(container, name).url}?{token}"

    def ping(self) -> None:
        self.service.get_container_client(self.ping_container).get_container_properties(**PING)


def _blocks(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The bytes of ``chunks`` regrouped in pieces of ``size`` (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        del chunk
        while len(buffer) >= size:
            with memoryview(buffer) as view:
                block = bytes(view[:size])
            del buffer[:size]
            yield block
            del block
    if buffer:
        yield bytes(buffer)


def _chained(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    while head:
        yield head.pop(0)
    yield from rest


def _code(error: HttpResponseError) -> str:
    """The storage error code (``EntityAlreadyExists``, ...), whatever enum wraps it."""
    code = getattr(error, "error_code", None)
    return str(getattr(code, "value", code) or "")


def _entity(row: Any) -> Entity:
    props = {k: v for k, v in row.items() if k not in KEYS and v is not None}
    return Entity(row["PartitionKey"], row["RowKey"], props, str(row.metadata["etag"]))


def _props(partition: str, write: Write) -> dict[str, Any]:
    props = {name: value for name, value in write.props.items() if value is not None}
    return {"PartitionKey": partition, "RowKey": write.row, **props}


def _guard(write: Write) -> dict[str, Any]:
    if write.etag is None:
        return {}
    return {"etag": write.etag, "match_condition": MatchConditions.IfNotModified}


def _operation(partition: str, write: Write) -> tuple[Any, ...]:
    entity = _props(partition, write)
    if write.op == "create":
        return ("create", entity)
    if write.op == "upsert":
        return ("upsert", entity, {"mode": UpdateMode.MERGE})
    if write.op == "merge":
        return ("update", entity, {"mode": UpdateMode.MERGE, **_guard(write)})
    return ("delete", entity, _guard(write))
