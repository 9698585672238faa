"""Jobs are bounded: an input over JOBS_MAX_INPUT_BYTES fails permanently before any of it is
read; the rest is read and written in chunks, and only a few whole inputs (sort_lines,
reverse_lines, an overlong line) are held in memory in a process at once."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from jobs.core.resources import INPUTS_CONTAINER, OUTPUTS_CONTAINER
from jobs.kinds import JobContext
from jobs.kinds import files as blobs_module
from jobs.kinds import transform as transform_module
from jobs.kinds.files import Files, InputTooLarge, NoPlaceForWholeInput
from jobs.kinds.inputs import InputPolicy
from jobs.kinds.transform import TransformInput, transform
from jobs.storage.contracts import CHUNK_BYTES
from jobs.storage.memory import MemoryBlobStore
from tests.e2e.conftest import Api
from tests.security.conftest import MAX_INPUT_BYTES, MiB, Worker

LIMIT = 1000  # bytes, for the fast tests on the twin


class CountingStore(MemoryBlobStore):
    """The twin, counting the content bytes handed out by read()."""

    def __init__(self, chunk_size: int = CHUNK_BYTES) -> None:
        super().__init__(chunk_size)
        self.bytes_read = 0

    def read(self, container: str, name: str) -> Iterator[bytes] | None:
        chunks = super().read(container, name)
        if chunks is None:
            return None
        return self._count(chunks)

    def _count(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_read += len(chunk)
            yield chunk


def context(store: MemoryBlobStore, whole_inputs: int = 2) -> JobContext:
    policy = InputPolicy(frozenset({INPUTS_CONTAINER}), LIMIT)
    return JobContext(
        "task", "00000000", 1, Files(store, policy, timedelta(minutes=5), whole_inputs)
    )


def item(operation: str, blob: str = "in.txt") -> TransformInput:
    return TransformInput.model_construct(
        container=INPUTS_CONTAINER, blob=blob, operation=operation
    )


# -- on the twin ---------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["upper", "sort_lines"])
def test_an_input_over_the_limit_fails_permanently_before_a_byte_of_it_is_read(
    operation: str,
) -> None:
    store = CountingStore(chunk_size=100)
    store.put(INPUTS_CONTAINER, "in.txt", b"x\n" * (LIMIT // 2 + 1))

    with pytest.raises(InputTooLarge, match=rf"is {LIMIT + 2} bytes; .*limited to {LIMIT} bytes"):
        transform(item(operation), context(store))

    assert store.bytes_read == 0
    assert store.names(OUTPUTS_CONTAINER) == []


def test_an_input_of_exactly_the_limit_is_transformed() -> None:
    store = CountingStore(chunk_size=100)
    store.put(INPUTS_CONTAINER, "in.txt", b"ab\n" * (LIMIT // 3) + b"c")

    result = transform(item("upper"), context(store))

    assert isinstance(result, dict)
    assert result["bytes"] == LIMIT
    assert store.bytes_read == LIMIT


class GrowingStore(MemoryBlobStore):
    """A blob replaced by a larger one between being measured and being read."""

    def size(self, container: str, name: str) -> int | None:
        measured = super().size(container, name)
        self.put(container, name, b"y" * (10 * LIMIT))
        return measured


def test_an_input_that_grows_past_the_limit_while_read_fails_and_writes_no_output() -> None:
    store = GrowingStore(chunk_size=100)
    store.put(INPUTS_CONTAINER, "in.txt", b"small")

    with pytest.raises(InputTooLarge, match="grew while it was read"):
        transform(item("upper"), context(store))

    assert store.names(OUTPUTS_CONTAINER) == []


def test_whole_input_operations_wait_for_one_of_the_few_places_and_give_up_to_retry_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blobs_module, "WHOLE_INPUT_WAIT", timedelta(milliseconds=50))
    store = MemoryBlobStore()
    store.put(INPUTS_CONTAINER, "in.txt", b"b\na\n")
    job = context(store, whole_inputs=1)
    taken, release = threading.Event(), threading.Event()

    def hold_the_only_place() -> None:
        with job.files.whole_input_place():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_only_place)
    holder.start()
    try:
        assert taken.wait(10)
        with pytest.raises(NoPlaceForWholeInput):  # not permanent: the host retries it
            transform(item("sort_lines"), job)
        streamed = transform(item("upper"), job)  # streaming needs no place
        assert isinstance(streamed, dict)
    finally:
        release.set()
        holder.join()
    assert transform(item("sort_lines"), job) != streamed  # the place is free again


def test_a_line_longer_than_the_long_line_bound_needs_a_whole_input_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(blobs_module, "WHOLE_INPUT_WAIT", timedelta(milliseconds=50))
    monkeypatch.setattr(transform_module, "LONG_LINE", 100)
    store = MemoryBlobStore(chunk_size=64)
    store.put(INPUTS_CONTAINER, "short.txt", b"short line\n" * 50)
    store.put(INPUTS_CONTAINER, "long.txt", b"x" * 500 + b"\n")
    job = context(store, whole_inputs=1)

    with job.files.whole_input_place():
        with pytest.raises(NoPlaceForWholeInput):
            transform(item("upper", "long.txt"), job)
        assert store.names(OUTPUTS_CONTAINER) == []
        transform(item("upper", "short.txt"), job)
    result = transform(item("upper", "long.txt"), job)

    assert isinstance(result, dict)
    assert store.get(OUTPUTS_CONTAINER, "task/00000000.txt") == b"X" * 500 + b"\n"


# -- end to end: the worker's memory ---------------------------------------------------------


def _upload(api: Api, name: str, data: bytes) -> None:
    api.blobs().get_blob_client(INPUTS_CONTAINER, name).upload_blob(data, overwrite=True)


def test_oversized_inputs_fail_permanently_without_the_worker_holding_them(guarded: Api) -> None:
    worker = Worker(guarded)
    size = MAX_INPUT_BYTES + 8 * MiB  # 104 MiB against a 96 MiB limit
    _upload(guarded, "warm.txt", b"warm\n")
    _upload(guarded, "huge.txt", os.urandom(size))
    # One small transform first, so the worker has loaded everything a transform needs.
    guarded.wait_finished(
        guarded.submit(
            "transform", [{"container": INPUTS_CONTAINER, "blob": "warm.txt", "operation": "upper"}]
        )
    )
    before = worker.memory()
    worker.reset_peak()

    items = [{"container": INPUTS_CONTAINER, "blob": "huge.txt", "operation": op}
             for op in ("upper", "lower", "title", "sort_lines") * 2]  # fmt: skip
    task_id = guarded.submit("transform", items)
    finished = guarded.wait_finished(task_id)
    after = worker.memory()

    assert finished["counts"]["failed"] == len(items)
    for job in guarded.jobs(task_id):
        assert job["attempts"] == 1  # permanent: not retried
        assert f"is {size} bytes; inputs are limited to {MAX_INPUT_BYTES} bytes" in job["error"]
        assert "JOBS_MAX_INPUT_BYTES" in job["error"]
    outputs = guarded.blobs().get_container_client(OUTPUTS_CONTAINER)
    assert list(outputs.list_blobs(name_starts_with=task_id)) == []
    # Eight jobs over a 104 MiB input: reading even one of them would add 104 MiB.
    print(f"worker RSS {before.rss / MiB:.1f} -> {after.rss / MiB:.1f} MiB, "
          f"peak during the jobs {after.peak / MiB:.1f} MiB")  # fmt: skip
    assert after.rss - before.rss < 4 * MiB
    assert after.peak - before.rss < 4 * MiB


def _transform(api: Api, blob: str, data: bytes, operation: str) -> tuple[dict[str, Any], int]:
    """Run one transform of ``data``; its result, and how far the worker's resident memory
    rose above where it was before, at its highest while the job ran."""
    worker = Worker(api)
    _upload(api, blob, data)
    before = worker.memory()
    worker.reset_peak()
    task_id = api.submit(
        "transform", [{"container": INPUTS_CONTAINER, "blob": blob, "operation": operation}]
    )
    assert api.wait_finished(task_id, timeout=180)["status"] == "completed"
    growth = worker.memory().peak - before.rss
    [line] = api.get(f"tasks/{task_id}/results").text.splitlines()
    result: dict[str, Any] = json.loads(line)["result"]
    print(f"{len(data) / MiB:.1f} MiB {operation}: worker peak +{growth / MiB:.1f} MiB")
    return result, growth


def test_a_streamed_transform_is_right_and_holds_a_small_part_of_its_input(guarded: Api) -> None:
    line = "Straße ΣΑΣ déjà-vu,\tnaïve ǆemal 12ab\n"  # multibyte characters across chunks
    text = line * (MAX_INPUT_BYTES // len(line.encode()))  # 96 MiB, 96 chunks
    _transform(guarded, "warm-up.txt", line.encode(), "upper")

    result, growth = _transform(guarded, "large.txt", text.encode(), "upper")

    expected = text.upper().encode()
    assert result["sha256"] == hashlib.sha256(expected).hexdigest()
    assert result["bytes"] == len(expected)
    assert result["lines"] == text.count("\n")
    stored = guarded.blobs().get_blob_client(OUTPUTS_CONTAINER, result["output"]["blob"])
    assert stored.download_blob().readall() == expected
    download = requests.get(result["download_url"], timeout=60)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == result["sha256"]
    # A job holds a few 1 MiB chunks and their text (about 25 MiB with the allocator's slack);
    # holding the input, even only as bytes, would add all 96 MiB.
    assert growth < MAX_INPUT_BYTES // 2
