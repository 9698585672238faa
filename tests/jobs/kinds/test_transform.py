"""The transform kind on the twin: streamed line by line in chunks of any size, it writes what
transforming the whole text at once would, and its result describes that output exactly."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from datetime import timedelta

import pytest

from jobs.core.resources import INPUTS_CONTAINER, OUTPUTS_CONTAINER
from jobs.kinds import JobContext
from jobs.kinds.files import Files, InputMissing
from jobs.kinds.inputs import InputPolicy
from jobs.kinds.transform import TransformInput, transform
from jobs.storage.memory import MemoryBlobStore

# Characters whose case rules look at their neighbours or change their length, and bytes that
# are not UTF-8, to land on chunk boundaries.
ALPHABET = ["a", "Z", " ", "\n", "\r\n", "\t", "ß", "Σ", "ς", "ǆ", "ﬁ", "İ", "'", ".", "3", "é",
            "e\u0301", "名", "😀", "\xff", "\xc3"]  # fmt: skip
OPERATIONS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "sort_lines": lambda text: "\n".join(sorted(text.splitlines())),
    "reverse_lines": lambda text: "\n".join(reversed(text.splitlines())),
}


def random_input(seed: int) -> bytes:
    rng = random.Random(seed)
    pieces = rng.choices(ALPHABET, k=rng.randint(0, 400))
    return b"".join(p.encode("latin-1") if p in ("\xff", "\xc3") else p.encode() for p in pieces)


def run(data: bytes, operation: str, chunk_size: int) -> tuple[dict[str, object], bytes]:
    store = MemoryBlobStore(chunk_size=chunk_size)
    store.put(INPUTS_CONTAINER, "in.txt", data)
    policy = InputPolicy(frozenset({INPUTS_CONTAINER}), 1 << 20)
    context = JobContext("task", "00000007", 1, Files(store, policy, timedelta(minutes=5)))
    item = TransformInput.model_construct(
        container=INPUTS_CONTAINER, blob="in.txt", operation=operation
    )
    result = transform(item, context)
    assert isinstance(result, dict)
    output = store.get(OUTPUTS_CONTAINER, "task/00000007.txt")
    assert output is not None
    return result, output


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 20])
def test_a_transform_in_chunks_writes_what_the_whole_text_would_give(
    operation: str, chunk_size: int
) -> None:
    for seed in range(40):
        data = random_input(seed)
        expected = OPERATIONS[operation](data.decode("utf-8", errors="replace")).encode()

        result, output = run(data, operation, chunk_size)

        assert output == expected, (seed, data)
        assert result["bytes"] == len(expected)
        assert result["sha256"] == hashlib.sha256(expected).hexdigest()
        lines = expected.count(b"\n") + (1 if expected and not expected.endswith(b"\n") else 0)
        assert result["lines"] == lines


def test_the_result_says_where_the_output_is_and_links_to_it() -> None:
    result, output = run(b"hello\nworld\n", "upper", 4)

    assert output == b"HELLO\nWORLD\n"
    assert result["output"] == {"container": OUTPUTS_CONTAINER, "blob": "task/00000007.txt"}
    assert result["lines"] == 2
    assert result["download_url"] == "memory://job-outputs/task/00000007.txt?lifetime=300"


def test_a_missing_input_fails_permanently_and_writes_nothing() -> None:
    store = MemoryBlobStore()
    policy = InputPolicy(frozenset({INPUTS_CONTAINER}), 1 << 20)
    context = JobContext("task", "00000000", 1, Files(store, policy, timedelta(minutes=5)))
    item = TransformInput.model_construct(
        container=INPUTS_CONTAINER, blob="gone", operation="upper"
    )

    with pytest.raises(InputMissing, match="does not exist"):
        transform(item, context)
    assert store.names(OUTPUTS_CONTAINER) == []
