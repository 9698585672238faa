"""Reading a batch's items from a file or standard input, and the key derived from a submit."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from jobs_client import items, submission


def _read(text: bytes) -> items.Items:
    return items.read("-", io.BytesIO(text))


def test_a_json_array_is_its_items() -> None:
    found = _read(b' [{"a": 1}, 2, "three"]\n')
    assert found.values == [{"a": 1}, 2, "three"]
    assert found.where(1) == "item 1"


def test_ndjson_is_one_item_a_line_and_remembers_each_line() -> None:
    found = _read(b'{"a": 1}\n\n[1, 2]\n"x"\n')
    assert found.values == [{"a": 1}, [1, 2], "x"]
    assert found.where(1) == "item 1 (line 3)"


def test_ndjson_may_start_with_an_array_item() -> None:
    assert _read(b"[1]\n[2]\n").values == [[1], [2]]


def test_a_file_and_standard_input_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "items.ndjson"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n')
    assert items.read(str(path), io.BytesIO()).values == _read(path.read_bytes()).values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[1, 2", "standard input: Expecting ',' delimiter at line 1, column 6"),
        (b'{"n": 1}\n{"n": NaN}\n', "standard input: line 2: NaN is not valid JSON"),
        (b"1\nInfinity\n", "line 2: Infinity is not valid JSON"),
        (b'{"n": 1}\n{oops}\n', "line 2: Expecting property name enclosed in double quotes"),
        (b"", "standard input holds no items"),
        (b"[]", "standard input holds no items"),
        (b"\xff\xfe", "standard input is not UTF-8 text"),
    ],
)
def test_unreadable_items_say_where(text: bytes, message: str) -> None:
    with pytest.raises(items.InputError, match=re.escape(message)):
        _read(text)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(items.InputError, match=r"cannot read .*missing\.json"):
        items.read(str(tmp_path / "missing.json"), io.BytesIO())


def test_the_body_carries_queue_and_metadata_only_when_given() -> None:
    assert submission.body("echo", [1]) == b'{"kind":"echo","items":[1]}'
    assert submission.body("echo", [1], queue="jobs", metadata={"k": "v"}) == (
        b'{"kind":"echo","items":[1],"queue":"jobs","metadata":{"k":"v"}}'
    )


def test_the_key_names_the_whole_request() -> None:
    key = submission.key_for(submission.body("echo", [1, 2]))
    assert key == submission.key_for(submission.body("echo", [1, 2]))
    assert key.startswith("jobs-cli-")
    assert len(key) <= 200
    assert key.isprintable()
    others = [
        submission.body("echo", [2, 1]),
        submission.body("flaky", [1, 2]),
        submission.body("echo", [1, 2], queue="jobs-long"),
        submission.body("echo", [1, 2], metadata={}),
    ]
    assert key not in {submission.key_for(body) for body in others}
