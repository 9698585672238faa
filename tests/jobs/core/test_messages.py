"""Run messages: the attempts and priority holds a held-back job carries are optional, strict,
and absent from every other message, which stays exactly as it always was."""

from __future__ import annotations

import json

import pytest

from jobs.core.messages import RunMessage, parse_message

TASK = "6f1c1a52-3d5e-4c8e-9d1f-2b7a4c9e0d11"


def test_a_run_message_without_carried_counts_is_as_it_always_was() -> None:
    text = RunMessage(TASK, 7, 2).to_json()
    assert text == f'{{"op":"run","task_id":"{TASK}","job_id":"00000007","gen":2}}'
    assert parse_message(text) == RunMessage(TASK, 7, 2, carried=0, holds=0)


def test_carried_attempts_and_holds_travel_in_the_message() -> None:
    message = RunMessage(TASK, 7, 0, carried=3, holds=12)
    data = json.loads(message.to_json())
    assert (data["a"], data["h"]) == (3, 12)
    assert parse_message(message.to_json()) == message


@pytest.mark.parametrize(
    "extra", [{"a": "1"}, {"a": -1}, {"a": True}, {"a": 1.0}, {"a": 101}, {"h": None},
              {"h": -2}, {"h": 1001}, {"h": "3"}],
)  # fmt: skip
def test_a_malformed_carried_count_is_not_one_of_ours(extra: dict[str, object]) -> None:
    data = {"op": "run", "task_id": TASK, "job_id": "00000001", "gen": 0, **extra}
    with pytest.raises(ValueError, match="bad"):
        parse_message(json.dumps(data))
