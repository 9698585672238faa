"""The bar's arithmetic (counts, jobs/s, ETA) on a clock the test turns, and what is written
with and without a terminal."""

from __future__ import annotations

import io

from jobs_client.models import Counts, Task
from jobs_client.progress import Progress


def _task(completed: int, failed: int = 0, status: str = "running", total: int = 100) -> Task:
    counts = Counts(
        pending=total - completed - failed,
        in_progress=0,
        completed=completed,
        failed=failed,
        cancelled=0,
    )
    return Task(
        task_id="t",
        kind="echo",
        queue="jobs",
        status=status,
        total=total,
        counts=counts,
        created_at="",
        updated_at="",
        results_url="",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bar_shows_counts_rate_and_eta() -> None:
    clock = Clock()
    progress = Progress(io.StringIO(), live=True, clock=clock)
    progress.update(_task(10))
    assert "-- jobs/s" in progress.bar(_task(10), clock.now)  # no measure yet
    assert "ETA --:--" in progress.bar(_task(10), clock.now)

    clock.now += 4
    bar = progress.bar(_task(40, failed=10), clock.now)  # 40 more ended in 4 s
    assert bar.startswith("[##########----------] 50/100 50%")
    assert "10.0 jobs/s" in bar
    assert "ETA 0:05" in bar
    assert "failed 10" in bar


def test_live_output_redraws_one_line_then_ends_it() -> None:
    stream = io.StringIO()
    progress = Progress(stream, live=True, clock=Clock())
    progress.update(_task(0))
    progress.update(_task(100, status="completed"))
    progress.close(_task(100, status="completed"))
    text = stream.getvalue()
    assert text.count("\r\x1b[K[") == 2
    assert text.endswith("\ntask t completed: 100 completed, 0 failed, 0 cancelled of 100 (0:00)\n")


def test_without_a_terminal_a_plain_line_now_and_then_and_no_control_codes() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock, plain_every=10)  # StringIO is no terminal
    for _ in range(5):  # 5 polls in 4 s: one line
        progress.update(_task(10))
        clock.now += 1
    clock.now += 10
    progress.update(_task(50))
    progress.close(_task(100, status="completed"))
    lines = stream.getvalue().splitlines()
    assert lines[0] == "task t: 10/100 done, 0 failed, -- jobs/s"
    assert lines[1] == "task t: 50/100 done, 0 failed, 2.7 jobs/s"  # 40 more in 15 s
    assert lines[2].startswith("task t completed: 100 completed")
    assert len(lines) == 3
    assert "\r" not in stream.getvalue()
    assert "\x1b" not in stream.getvalue()
