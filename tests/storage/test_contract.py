"""The storage contract (jobs.storage.contracts), run against the in-memory twin and real Azurite
alike: whatever a lifecycle test proves on the twin holds for Azure Storage because of this."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from harness.azurite import Azurite
from harness.polling import wait_until
from jobs.storage import (
    BlobStore,
    ConcurrentUpdate,
    EntityExists,
    EntityMissing,
    InvalidWrite,
    MessageMissing,
    QueueMissing,
    QueueStore,
    Rows,
    TableStore,
    Write,
)
from jobs.storage.azure import (
    BLOB_TRANSFER_OPTIONS,
    AzureBlobStore,
    AzureQueueStore,
    AzureTableStore,
)
from jobs.storage.contracts import CHUNK_BYTES
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore

SECOND = timedelta(seconds=1)


@dataclass
class Stores:
    table: TableStore
    queues: QueueStore
    blobs: BlobStore
    queue: str  # a queue that exists, empty
    container: str  # a container that exists, empty


@pytest.fixture(params=["memory", "azurite"])
def stores(request: pytest.FixtureRequest) -> Iterator[Stores]:
    suffix = uuid.uuid4().hex[:10]
    queue, container = f"contract-{suffix}", f"contract-{suffix}"
    if request.param == "memory":
        yield Stores(
            MemoryTableStore(), MemoryQueueStore([queue]), MemoryBlobStore(), queue, container
        )
        return
    azurite: Azurite = request.getfixturevalue("azurite")
    connection = azurite.connection_string
    table = TableServiceClient.from_connection_string(connection).create_table(f"contract{suffix}")
    queues = QueueServiceClient.from_connection_string(connection)
    queues.create_queue(queue)
    blobs = BlobServiceClient.from_connection_string(connection, **BLOB_TRANSFER_OPTIONS)
    blobs.create_container(container)
    yield Stores(
        AzureTableStore(table),
        AzureQueueStore(queues, ping_queue=queue),
        AzureBlobStore(blobs, ping_container=container),
        queue,
        container,
    )
    table.delete_table()
    queues.delete_queue(queue)
    blobs.delete_container(container)


def create(table: TableStore, row: str, **props: object) -> str:
    return table.transact("p", [Write("create", row, props)])[0]


# -- tables ------------------------------------------------------------------------------


def test_a_created_row_reads_back_with_its_types_and_without_its_none_values(
    stores: Stores,
) -> None:
    assert stores.table.get("p", "r") is None
    etag = create(stores.table, "r", Text="é<&>", Number=7, Flag=True, Ratio=1.5, Nothing=None)

    entity = stores.table.get("p", "r")
    assert entity is not None
    assert (entity.partition, entity.row, entity.etag) == ("p", "r", etag)
    assert dict(entity.props) == {"Text": "é<&>", "Number": 7, "Flag": True, "Ratio": 1.5}


def test_creating_a_row_that_exists_fails(stores: Stores) -> None:
    create(stores.table, "r", A=1)
    with pytest.raises(EntityExists):
        create(stores.table, "r", A=2)
    assert stores.table.get("p", "r").props["A"] == 1  # type: ignore[union-attr]


def test_a_merge_changes_only_the_named_properties_and_needs_the_row(stores: Stores) -> None:
    create(stores.table, "r", A=1, B="b")
    stores.table.transact("p", [Write("merge", "r", {"A": 2, "C": "c"})])
    assert dict(stores.table.get("p", "r").props) == {"A": 2, "B": "b", "C": "c"}  # type: ignore[union-attr]
    with pytest.raises(EntityMissing):
        stores.table.transact("p", [Write("merge", "absent", {"A": 1})])


def test_a_guarded_merge_fails_once_the_row_has_changed(stores: Stores) -> None:
    first = create(stores.table, "r", A=1)
    second = stores.table.transact("p", [Write("merge", "r", {"A": 2}, first)])[0]
    assert second != first
    with pytest.raises(ConcurrentUpdate):
        stores.table.transact("p", [Write("merge", "r", {"A": 3}, first)])
    stores.table.transact("p", [Write("merge", "r", {"A": 4}, second)])
    assert stores.table.get("p", "r").props["A"] == 4  # type: ignore[union-attr]


def test_an_upsert_creates_or_merges(stores: Stores) -> None:
    stores.table.transact("p", [Write("upsert", "r", {"A": 1})])
    stores.table.transact("p", [Write("upsert", "r", {"B": 2})])
    assert dict(stores.table.get("p", "r").props) == {"A": 1, "B": 2}  # type: ignore[union-attr]


def test_a_delete_removes_the_row_and_needs_it(stores: Stores) -> None:
    create(stores.table, "r", A=1)
    stores.table.transact("p", [Write("delete", "r")])
    assert stores.table.get("p", "r") is None
    with pytest.raises(EntityMissing):
        stores.table.transact("p", [Write("delete", "r")])


def test_a_transaction_writes_everything_or_nothing(stores: Stores) -> None:
    etag = create(stores.table, "a", N=1)
    create(stores.table, "b", N=1)
    with pytest.raises(EntityExists):
        stores.table.transact("p", [Write("create", "new", {"N": 1}), Write("create", "b", {})])
    with pytest.raises(ConcurrentUpdate):
        stores.table.transact(
            "p",
            [Write("create", "new", {"N": 1}), Write("merge", "a", {"N": 2}, 'W/"stale"')],
        )
    assert stores.table.get("p", "new") is None
    etags = stores.table.transact(
        "p", [Write("merge", "a", {"N": 2}, etag), Write("create", "new", {"N": 1})]
    )
    assert stores.table.get("p", "a").etag == etags[0]  # type: ignore[union-attr]
    assert stores.table.get("p", "new").etag == etags[1]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "writes",
    [
        [Write("create", f"r{i}", {"N": i}) for i in range(101)],
        [Write("create", "r", {"N": 1}), Write("upsert", "r", {"N": 2})],
        [Write("create", "r", {"Text": "€" * 32_769})],
        [Write("create", f"r{i}", {"Text": "x" * 30_000}) for i in range(80)],  # > 4 MiB
        [],
    ],
    ids=["101-rows", "row-twice", "property-too-large", "over-4-MiB", "empty"],
)
def test_storage_refuses_a_transaction_over_its_limits_and_writes_none_of_it(
    stores: Stores, writes: list[Write]
) -> None:
    with pytest.raises(InvalidWrite):
        stores.table.transact("p", writes)
    assert list(stores.table.query("p")) == []


def test_the_largest_allowed_values_are_accepted(stores: Stores) -> None:
    stores.table.transact("p", [Write("create", f"r{i}", {"N": i}) for i in range(100)])
    create(stores.table, "text", Text="x" * 32_000)
    assert len(stores.table.get("p", "text").props["Text"]) == 32_000  # type: ignore[union-attr]


def test_a_query_returns_a_key_range_in_order_filtered_and_narrowed(stores: Stores) -> None:
    for row, status in [("job-2", "Done"), ("job-0", "Done"), ("job-1", "Open"), ("task", "x")]:
        create(stores.table, row, Status=status, Other=1)
    create(stores.table, "x", Status="Done")  # another partition's rows never show
    stores.table.transact("q", [Write("create", "job-9", {"Status": "Done"})])

    def rows(**options: object) -> list[str]:
        return [e.row for e in stores.table.query("p", Rows(**options))]  # type: ignore[arg-type]

    assert rows() == ["job-0", "job-1", "job-2", "task", "x"]
    assert rows(start="job-", end="job.") == ["job-0", "job-1", "job-2"]
    assert rows(start="job-", after="job-0", end="job.") == ["job-1", "job-2"]
    assert rows(start="job-", end="job.", equals={"Status": "Done"}) == ["job-0", "job-2"]
    [narrow] = stores.table.query(
        "p", Rows(start="job-1", end="job-2", select=["Status", "Absent"])
    )
    assert dict(narrow.props) == {"Status": "Open"}


def test_a_small_page_size_changes_how_rows_are_fetched_never_which(stores: Stores) -> None:
    stores.table.transact("p", [Write("create", f"r{i:02d}", {"N": i}) for i in range(7)])
    stores.table.transact("p", [Write("create", "s", {"N": 7})])

    def rows(**options: object) -> list[str]:
        return [e.row for e in stores.table.query("p", Rows(**options))]  # type: ignore[arg-type]

    everything = rows(start="r", end="s")
    assert len(everything) == 7
    assert rows(start="r", end="s", page_size=2) == everything  # four answers of two or one
    assert rows(start="r", after="r01", page_size=3) == [*everything[2:], "s"]
    assert rows(page_size=5000) == [*everything, "s"]  # more than storage's most, asked as that


def test_a_partition_range_query_reads_only_the_partitions_in_range(stores: Stores) -> None:
    for partition in ["day-01", "day-02", "day-03", "dax", "day-"]:
        stores.table.transact(partition, [Write("create", "b", {"N": 1}), Write("create", "a", {})])
    found = [(e.partition, e.row) for e in stores.table.query_partitions("day-01", "day-03")]
    assert found == [("day-01", "a"), ("day-01", "b"), ("day-02", "a"), ("day-02", "b")]
    [narrow, *_] = stores.table.query_partitions("day-01", "day-02", select=[])
    assert dict(narrow.props) == {}
    assert list(stores.table.query_partitions("dz", "e")) == []


# -- queues ------------------------------------------------------------------------------


def test_a_message_comes_back_as_sent_and_stays_hidden_while_received(stores: Stores) -> None:
    text = 'eyJvcCI6InJ1biJ9 <raw & "text"> é'
    stores.queues.send(stores.queue, text)
    [first] = stores.queues.receive(stores.queue, 32, timedelta(seconds=30))
    assert (first.text, first.dequeue_count) == (text, 1)
    assert stores.queues.receive(stores.queue, 32, timedelta(seconds=30)) == []
    assert stores.queues.depth(stores.queue) == 1  # hidden, still there


def test_a_message_not_deleted_comes_back_with_a_new_receipt(stores: Stores) -> None:
    stores.queues.send(stores.queue, "again")
    [first] = stores.queues.receive(stores.queue, 1, SECOND)
    second = wait_until(
        lambda: stores.queues.receive(stores.queue, 1, timedelta(seconds=30)),
        timeout=10,
        message="the message to become visible again",
    )[0]
    assert (second.id, second.dequeue_count) == (first.id, 2)
    assert second.receipt != first.receipt
    with pytest.raises(MessageMissing):
        stores.queues.delete(stores.queue, first.id, first.receipt)  # stale
    stores.queues.delete(stores.queue, second.id, second.receipt)
    assert stores.queues.depth(stores.queue) == 0
    with pytest.raises(MessageMissing):
        stores.queues.delete(stores.queue, second.id, second.receipt)  # gone


def test_a_sender_can_take_its_message_back_until_someone_receives_it(stores: Stores) -> None:
    kept = stores.queues.send(stores.queue, "kept", delay=timedelta(seconds=30))
    stores.queues.delete(stores.queue, kept.id, kept.receipt)  # hidden or not, it goes
    assert stores.queues.depth(stores.queue) == 0

    received = stores.queues.send(stores.queue, "received")
    [message] = stores.queues.receive(stores.queue, 1, timedelta(seconds=30))
    assert message.id == received.id
    with pytest.raises(MessageMissing):  # the receive gave the message a new receipt
        stores.queues.delete(stores.queue, received.id, received.receipt)
    assert stores.queues.depth(stores.queue) == 1


def test_the_oldest_visible_message_says_when_it_was_added(stores: Stores) -> None:
    assert stores.queues.oldest(stores.queue) is None
    before = datetime.now(UTC) - timedelta(seconds=5)  # Azure keeps whole seconds
    stores.queues.send(stores.queue, "first")
    stores.queues.send(stores.queue, "second")
    added = stores.queues.oldest(stores.queue)
    assert added is not None
    assert before <= added <= datetime.now(UTC) + timedelta(seconds=5)
    stores.queues.receive(stores.queue, 2, timedelta(seconds=30))
    assert stores.queues.oldest(stores.queue) is None  # both hidden while received


def test_receive_takes_at_most_count_oldest_first(stores: Stores) -> None:
    for number in range(5):
        stores.queues.send(stores.queue, f"m{number}")
    got = stores.queues.receive(stores.queue, 3, timedelta(seconds=30))
    assert [m.text for m in got] == ["m0", "m1", "m2"]


def test_a_delayed_message_is_hidden_until_its_delay_passes(stores: Stores) -> None:
    stores.queues.send(stores.queue, "later", delay=SECOND)
    sent = time.monotonic()
    assert stores.queues.receive(stores.queue, 1, SECOND) == []
    [late] = wait_until(
        lambda: stores.queues.receive(stores.queue, 1, SECOND),
        timeout=10,
        message="the delayed message",
    )
    assert late.text == "later"
    assert time.monotonic() - sent >= 0.9


def test_a_queue_that_does_not_exist_says_so(stores: Stores) -> None:
    with pytest.raises(QueueMissing):
        stores.queues.send("no-such-queue", "x")
    with pytest.raises(QueueMissing):
        stores.queues.receive("no-such-queue", 1, SECOND)


# -- blobs -------------------------------------------------------------------------------


def test_a_blob_reads_back_replaced_by_a_later_put(stores: Stores) -> None:
    assert stores.blobs.get(stores.container, "a/b.json") is None
    stores.blobs.put(stores.container, "a/b.json", b"one")
    stores.blobs.put(stores.container, "a/b.json", b"two", content_type="application/json")
    assert stores.blobs.get(stores.container, "a/b.json") == b"two"
    link = stores.blobs.link(stores.container, "a/b.json", timedelta(minutes=5))
    assert f"{stores.container}/a/b.json" in link


def test_blobs_are_listed_by_prefix_in_order_and_deleted(stores: Stores) -> None:
    for name in ["t1/b.json", "t1/a/x.json", "t10/a.json", "t2/a.json"]:
        stores.blobs.put(stores.container, name, b"x")
    assert list(stores.blobs.list_names(stores.container, "t1/")) == ["t1/a/x.json", "t1/b.json"]
    stores.blobs.delete(stores.container, "t1/b.json")
    stores.blobs.delete(stores.container, "t1/b.json")  # gone already: nothing to do
    assert stores.blobs.get(stores.container, "t1/b.json") is None
    assert list(stores.blobs.list_names(stores.container, "t")) == [
        "t1/a/x.json", "t10/a.json", "t2/a.json",
    ]  # fmt: skip
    assert list(stores.blobs.list_names(stores.container, "none/")) == []


def test_a_blob_has_a_size_without_being_read_and_none_when_absent(stores: Stores) -> None:
    assert stores.blobs.size(stores.container, "absent") is None
    assert stores.blobs.read(stores.container, "absent") is None
    stores.blobs.put(stores.container, "empty", b"")
    assert stores.blobs.size(stores.container, "empty") == 0
    empty = stores.blobs.read(stores.container, "empty")
    assert empty is not None
    assert b"".join(empty) == b""
    stores.blobs.put(stores.container, "seven", b"7 bytes")
    assert stores.blobs.size(stores.container, "seven") == 7


def test_a_large_blob_reads_back_whole_in_chunks_of_at_most_the_chunk_size(
    stores: Stores,
) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 12345)
    stores.blobs.put(stores.container, "large", data)

    chunks = stores.blobs.read(stores.container, "large")
    assert chunks is not None
    sizes = []
    digest = hashlib.sha256()
    for chunk in chunks:
        sizes.append(len(chunk))
        digest.update(chunk)
    assert max(sizes) <= CHUNK_BYTES
    assert len(sizes) >= 3
    assert sum(sizes) == len(data)
    assert digest.digest() == hashlib.sha256(data).digest()


def test_a_streamed_put_stores_its_chunks_in_order_whatever_their_sizes(stores: Stores) -> None:
    pieces = [b"", b"a", os.urandom(CHUNK_BYTES + 7), b"", os.urandom(3), os.urandom(CHUNK_BYTES)]
    stores.blobs.put(stores.container, "out", b"old")
    stores.blobs.put_stream(stores.container, "out", iter(pieces), content_type="text/plain")
    assert stores.blobs.get(stores.container, "out") == b"".join(pieces)

    stores.blobs.put_stream(stores.container, "small", iter([b"one ", b"two"]))
    assert stores.blobs.get(stores.container, "small") == b"one two"
    stores.blobs.put_stream(stores.container, "none", iter([]))
    assert stores.blobs.get(stores.container, "none") == b""


class Broken(Exception):
    pass


@pytest.mark.parametrize("before", [10, 2 * CHUNK_BYTES + 10], ids=["in-first-block", "later"])
def test_a_streamed_put_whose_chunks_fail_leaves_the_blob_as_it_was(
    stores: Stores, before: int
) -> None:
    stores.blobs.put(stores.container, "kept", b"as it was")

    def failing() -> Iterator[bytes]:
        yield os.urandom(before)
        raise Broken

    with pytest.raises(Broken):
        stores.blobs.put_stream(stores.container, "kept", failing())
    with pytest.raises(Broken):
        stores.blobs.put_stream(stores.container, "never", failing())
    assert stores.blobs.get(stores.container, "kept") == b"as it was"
    assert stores.blobs.get(stores.container, "never") is None


def test_a_read_never_mixes_a_blob_with_its_replacement(stores: Stores) -> None:
    first, second = b"1" * (2 * CHUNK_BYTES), b"2" * (2 * CHUNK_BYTES)
    stores.blobs.put(stores.container, "changing", first)
    chunks = stores.blobs.read(stores.container, "changing")
    assert chunks is not None
    head = next(chunks)
    stores.blobs.put(stores.container, "changing", second)
    try:
        rest = b"".join(chunks)
    except Exception:  # the read noticed the change and failed: also within the contract
        return
    assert head + rest == first


def test_every_store_answers_a_ping(stores: Stores) -> None:
    for store in (stores.table, stores.queues, stores.blobs):
        assert store.ping() is None
