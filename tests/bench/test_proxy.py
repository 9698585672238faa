"""The benchmark's counting proxy, between the SDKs and a real Azurite: what passes arrives
unchanged, and each request is counted once, by service, kind and partition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, QueueMessage, QueueServiceClient

from bench.proxy import RunningProxy, start_proxy
from bench.tally import Counts
from harness.azurite import Azurite


def receive_once(queue: QueueClient) -> list[QueueMessage]:
    """One receive request, as the host's listener makes it."""
    pager = queue.receive_messages(messages_per_page=16, max_messages=16)
    return next((list(page) for page in pager.by_page()), [])


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[RunningProxy]:
    running = start_proxy(
        {"blob": azurite.blob_port, "queue": azurite.queue_port, "table": azurite.table_port}
    )
    yield running
    running.stop()


def test_table_requests_are_counted_by_kind_and_entity_operations_by_partition(
    azurite: Azurite, proxy: RunningProxy
) -> None:
    service = TableServiceClient.from_connection_string(
        proxy.connection_string(azurite.connection_string)
    )
    table = service.create_table(f"proxy{uuid.uuid4().hex[:12]}")
    partition = str(uuid.uuid4())
    before = proxy.counts()

    table.submit_transaction(
        [("create", {"PartitionKey": partition, "RowKey": f"r{i}", "N": i}) for i in range(3)]
    )
    table.submit_transaction(
        [("upsert", {"PartitionKey": partition, "RowKey": f"r{i}", "N": -i}) for i in range(2)]
    )
    assert table.get_entity(partition, "r1")["N"] == -1
    rows = list(table.query_entities("PartitionKey eq @p", parameters={"p": partition}))
    table.upsert_entity({"PartitionKey": partition, "RowKey": "r9", "N": 9})
    table.delete_entity(partition, "r9")

    counted = proxy.counts() - before
    assert len(rows) == 3
    assert counted.requests == {
        "table batch": 2,
        "table get entity": 1,
        "table query": 1,
        "table merge entity": 1,
        "table delete entity": 1,
    }
    assert counted.entities == {partition: 3 + 2 + 1 + 3 + 1 + 1}


def test_queue_and_blob_requests_are_counted_by_kind(azurite: Azurite, proxy: RunningProxy) -> None:
    connection = proxy.connection_string(azurite.connection_string)
    queue = QueueServiceClient.from_connection_string(connection).create_queue(
        f"proxy-{uuid.uuid4().hex[:12]}"
    )
    blobs = BlobServiceClient.from_connection_string(connection)
    container = blobs.create_container(f"proxy-{uuid.uuid4().hex[:12]}")
    before = proxy.counts()

    for text in ("one", "two"):
        queue.send_message(text)
    received = receive_once(queue)
    for message in received:
        queue.delete_message(message)
    assert receive_once(queue) == []
    container.upload_blob("a.txt", b"x" * 10)
    assert container.download_blob("a.txt").readall() == b"x" * 10

    counted = proxy.counts() - before
    assert sorted(message.content for message in received) == ["one", "two"]
    assert counted == Counts(
        requests={
            "blob GET blob": 1,
            "blob PUT blob": 1,
            "queue delete message": 2,
            "queue put message": 2,
            "queue receive": 1,
            "queue receive (empty)": 1,
        },
        entities={},
        received=2,
    )
