"""Names agree end to end: every event name and field the deployed queries (saved searches,
alerts, workbook, workspace functions) read from the app's log lines is written by the app, with
the same spelling, when tasks run on the local host - a completing, a failing, a poisoned job, a
task whose batch is gone and a message the sweep cannot read.

What to look for is derived from the queries themselves: the events each compares ``event``
with, the columns it reads, and the regular expression JobEvents or QueueDepth extracts each
column with; a field renamed in a query or in the app fails here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import pytest
from azure.storage.queue import QueueClient

from composition import Service
from harness.polling import wait_until
from jobs.core.clock import utcnow
from jobs.core.messages import FanOutMessage
from jobs.core.models import Task
from jobs.core.resources import CONTROL_QUEUE
from tests.e2e.conftest import Api
from tests.infra import queries
from tests.infra.kql import Analysis, analyze

# The local host prints each log record as "[timestamp] message"; in Azure the message is
# AppTraces.Message.
LOGGED = re.compile(r"^\[[^\]]+\] (JobEvent .*)$", re.MULTILINE)
# A field name as the start of an extraction pattern: @" task_id=(\S+)".
PATTERN_KEY = re.compile(r"^ (\w+)=\(")
# Functions that turn log lines into columns, each with the patterns it extracts fields with.
PARSERS = ("JobEvents", "QueueDepth")


@dataclass(frozen=True)
class Logged:
    event: str  # split(Message, " ")[1], as JobEvents reads it
    message: str


@pytest.fixture(scope="module")
def analyses() -> dict[str, Analysis]:
    return analyze(queries.all_queries(), queries.functions())


@pytest.fixture(scope="module")
def patterns() -> dict[str, re.Pattern[str]]:
    """Field -> the pattern the workspace functions extract it from Message with."""
    functions = queries.functions()
    assert 'Message startswith "JobEvent "' in functions["JobEvents"]
    found: dict[str, re.Pattern[str]] = {}
    parsed = analyze({name: functions[name] for name in PARSERS}, functions)
    for name in PARSERS:
        for assignment in parsed[name].assignments:
            for literal in assignment.literals:
                key = PATTERN_KEY.match(literal)
                if key:
                    assert key.group(1) == assignment.name, (
                        f"{name} reads {literal!r} into {assignment.name}"
                    )
                    found[assignment.name] = re.compile(literal)
    assert {"task_id", "job_id", "attempt", "kind", "queue", "error", "depth"} <= set(found)
    return found


@pytest.fixture(scope="module")
def logged(api: Api) -> list[Logged]:
    """Run the small set of tasks and return every job event line the app wrote."""
    echo = api.submit("echo", [{"n": 1}, {"n": 2}])
    failing = api.submit("fail", [{"message": "cannot ever work", "permanent": True}])
    poisoned = api.submit("fail", [{"message": "boom"}])
    broken = _task_whose_batch_is_gone(api)
    QueueClient.from_connection_string(api.azurite.connection_string, "jobs-poison").send_message(
        "not one of ours"
    )
    for task_id in (echo, failing, poisoned):
        api.wait_finished(task_id)

    def seen() -> list[Logged] | None:
        lines = [Logged(m.split(" ")[1], m) for m in LOGGED.findall(api.host.logs())]
        events = {line.event for line in lines}
        broken_failed = any(
            line.event == "task_failed" and broken in line.message for line in lines
        )
        wanted = {"poison_unreadable", "queue_depth", "job_poisoned"}
        return lines if broken_failed and wanted <= events else None

    return wait_until(seen, timeout=90, interval=0.5, message="the sweep and the depth sampler")


def _task_whose_batch_is_gone(api: Api) -> str:
    """A task accepted without its batch blob, as if storage had lost it: the fan-out fails on
    every attempt, the host poisons its message, and the sweep fails the task (task_failed)."""
    service = Service.from_env({"JobsStorage": api.azurite.connection_string})
    now = utcnow()
    task = Task(str(uuid.uuid4()), "echo", "jobs", 1, 64, now, now, "0" * 64)
    service.table.create_task(task)
    service.queues.send(CONTROL_QUEUE, FanOutMessage(task.task_id))
    return task.task_id


def _carried(
    field: str, events: Iterable[str], logged: list[Logged], pattern: re.Pattern[str]
) -> bool:
    wanted = set(events)
    return any(
        (not wanted or line.event in wanted)
        and (match := pattern.search(line.message)) is not None
        and match.group(1) != ""
        for line in logged
    )


def test_every_event_a_query_filters_on_is_logged(
    analyses: dict[str, Analysis], logged: list[Logged]
) -> None:
    written = {line.event for line in logged}
    used = {(event, name) for name, analysis in analyses.items() for event in analysis.events}
    assert {event for event, _ in used} >= {"job_completed", "job_failed", "task_failed"}
    missing = sorted(f"{event!r} (read by {name})" for event, name in used if event not in written)
    assert not missing, f"never logged: {missing}; logged: {sorted(written)}"


def test_every_field_a_query_reads_is_written_by_an_event_it_reads(
    analyses: dict[str, Analysis], patterns: dict[str, re.Pattern[str]], logged: list[Logged]
) -> None:
    problems = []
    checked = 0
    for name, analysis in analyses.items():
        for field in sorted(analysis.references & set(patterns)):
            checked += 1
            if not _carried(field, analysis.events, logged, patterns[field]):
                events = sorted(analysis.events) or "any event"
                problems.append(f"{name} reads {field!r} from {events}, which never write it")
    assert checked > 20
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("event", "item"),
    [
        ("job_failed", {"message": "cannot ever work", "permanent": True}),
        ("job_poisoned", {"message": "boom"}),
    ],
)
def test_extracted_values_are_the_ones_the_api_reports(
    api: Api, patterns: dict[str, re.Pattern[str]], event: str, item: dict[str, object]
) -> None:
    task_id = api.submit("fail", [item])
    api.wait_finished(task_id)
    [job] = api.jobs(task_id, status="failed")

    def extracted() -> dict[str, str] | None:
        for message in LOGGED.findall(api.host.logs()):
            if message.split(" ")[1] == event and f" task_id={task_id}" in message:
                return {f: m.group(1) for f, p in patterns.items() if (m := p.search(message))}
        return None

    values = wait_until(extracted, timeout=30, message=f"{event} of task {task_id}")
    assert values["task_id"] == task_id
    assert values["job_id"] == job["job_id"]
    assert int(values["attempt"]) == job["attempts"]
    assert values["kind"] == "fail"
    assert values["error"] == job["error"]


def test_depth_samples_carry_numbers_for_every_queue(
    patterns: dict[str, re.Pattern[str]], logged: list[Logged]
) -> None:
    samples = [line.message for line in logged if line.event == "queue_depth"]
    # Idle queues share a line, their names comma-separated, which QueueDepth splits.
    assert 'split(queue, ",")' in queries.functions()["QueueDepth"]
    queues = {
        queue
        for sample in samples
        for queue in patterns["queue"].search(sample).group(1).split(",")  # type: ignore[union-attr]
    }
    assert {"jobs", "jobs-poison", "jobs-control", "jobs-long-poison"} <= queues
    for sample in samples:
        assert patterns["depth"].search(sample), sample
        assert patterns["oldest_age_s"].search(sample), sample
