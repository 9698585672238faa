"""A window that gives way, on six local hosts over one Azurite: one lone task of long jobs,
how many of its jobs run at once against what the hosts can run (each takes batchSize +
newBatchThreshold = 32 messages at a time), with its dispatch window of 128 as the old bound;
then a 10-item task submitted beside it, from its 202 to its first job's start."""

from __future__ import annotations

import statistics
import time

from bench.limits import more_hosts, submit
from bench.report import Report, Row, secs
from bench.stack import Stack, poll

HOSTS = 6
PER_HOST = 32  # host.json batchSize 16 + newBatchThreshold 16
WINDOW = 128  # JOBS_DISPATCH_WINDOW's default: what a lone task ran at most before it grew
JOBS, SECONDS = 768, 6.0
SAMPLE = 0.25


def window_phase(stack: Stack, report: Report) -> None:
    stack.start_azurite()
    stack.start_host()
    try:
        with more_hosts(stack, HOSTS - 1):
            _lone_task(stack, report)
    finally:
        stack.stop_host()


def _lone_task(stack: Stack, report: Report) -> None:
    capacity = HOSTS * PER_HOST
    task_id, _ = submit(stack, "sleep", [{"seconds": SECONDS}] * JOBS)
    running: list[int] = []
    deadline = time.monotonic() + 600
    small_start = None
    while time.monotonic() < deadline:
        status, _ = stack.status(task_id)
        running.append(int(status["counts"]["in_progress"]))
        if status["status"] != "running":
            break
        if small_start is None and len(running) * SAMPLE > 3 * SECONDS:  # well into its run
            small_start = _beside(stack)
        time.sleep(SAMPLE)
    peak = max(running)
    # Steady state: the samples between the first time it ran 90 % of its peak and the last.
    busy = [i for i, value in enumerate(running) if value >= 0.9 * peak]
    steady = running[busy[0] : busy[-1] + 1] if busy else running
    report.add(Row(
        f"9. one lone task, {HOSTS} hosts: jobs in progress at its peak",
        f"{peak} ({peak / capacity:.0%} of {capacity})",
        "at least 85 % of the hosts' capacity",
        f"window {WINDOW} ({WINDOW / capacity:.0%})",
        f"{JOBS} sleep jobs of {SECONDS:g} s, sampled every {SAMPLE:g} s",
    ))  # fmt: skip
    report.add(Row(
        "9. the same, mean in progress while it ran at its peak",
        f"{statistics.mean(steady):.0f} ({statistics.mean(steady) / capacity:.0%})",
        "", "", f"over {len(steady) * SAMPLE:.0f} s",
    ))  # fmt: skip
    if peak < 0.85 * capacity:
        report.alarm(f"a lone task ran {peak} jobs at most on {capacity} places")
    if small_start is not None:
        report.add(Row(
            "9. a 10-item task beside it: 202 to its first job's start",
            secs(small_start), "within 1 s", "", "echo, on its own lane",
        ))  # fmt: skip
        if small_start > 1.0:
            report.alarm(
                f"a small task beside a grown one started {small_start:.2f} s after its 202"
            )


def _beside(stack: Stack) -> float:
    """A 10-item task submitted now: seconds from its 202 to its first job's start."""
    task_id, accepted = submit(stack, "echo", list(range(10)))
    started, _ = poll(
        lambda: stack.first_started(task_id), timeout=60, interval=0.05,
        what="the small task's first job",
    )  # fmt: skip
    return max(0.0, float(started) - accepted)
