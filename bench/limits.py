"""Limits per kind and priorities, on three local hosts over one Azurite:

- ``gated`` (``sleep`` with concurrency 8): how many of its jobs run at once while work waits,
  from the job rows' start and end stamps (each job starts after its slot is taken and ends
  before it is given back, so the rows can only under-count);
- ``paced`` (``echo`` with rate 20): its starts per second over 30 s of steady state, from the
  job rows' start stamps;
- priority: a 500-item high task submitted behind two 20,000-item normal tasks already
  running: from its 202 to its first job's start, and whether it ends before either.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from bench.report import Report, Row, secs
from bench.stack import HOST_SETTINGS, Stack, parse_time, poll
from harness.azurite import REPO
from harness.localhost import RunningHost, start_devhost
from jobs.storage.keys import JOB_PREFIX, JOBS_END

HOSTS = 3
GATED_ITEMS, GATED_SECONDS, CONCURRENCY = 120, 3.0, 8
PACED_ITEMS, RATE, RATE_WINDOW, RATE_SETTLE = 1_200, 20, 30, 3
NORMAL_ITEMS, HIGH_ITEMS = 20_000, 500


@contextmanager
def more_hosts(stack: Stack, count: int) -> Iterator[list[RunningHost]]:
    """``count`` hosts besides the stack's own, on the same Azurite and settings."""
    started: list[RunningHost] = []
    try:
        for _ in range(count):
            started.append(start_devhost(REPO, {**stack.storage_env, **HOST_SETTINGS}, timeout=120))
        yield started
    finally:
        for host in started:
            host.kill()


def job_times(stack: Stack, task_id: str) -> list[tuple[float, float | None]]:
    """Each started job's start and, once ended, its end (POSIX times)."""
    rows = stack.table().query_entities(
        "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
        parameters={"pk": task_id, "lo": JOB_PREFIX, "hi": JOBS_END},
        select=["Started", "Updated", "Status"],
    )
    found = []
    for row in rows:
        if not row.get("Started"):
            continue
        ended = row.get("Status") in ("Completed", "Failed", "Cancelled")
        found.append((parse_time(row["Started"]), parse_time(row["Updated"]) if ended else None))
    return found


def submit(stack: Stack, kind: str, items: list[object], **extra: object) -> tuple[str, float]:
    """The task id and the POSIX time its 202 arrived."""
    body = json.dumps({"kind": kind, "items": items, **extra}).encode()
    task_id, _ = stack.submit(body)
    return task_id, time.time()


def gated(stack: Stack, report: Report) -> None:
    task_id, _ = submit(stack, "gated", [{"seconds": GATED_SECONDS}] * GATED_ITEMS)
    poll(
        lambda: stack.status(task_id)[0]["status"] != "running",
        timeout=900,
        interval=1,
        what="the gated task",
    )
    times = job_times(stack, task_id)
    moments = sorted([(start, 1) for start, _ in times] + [(end, -1) for _, end in times if end])
    running, peak, timeline = 0, 0, []
    for moment, step in moments:
        running += step
        peak = max(peak, running)
        timeline.append((moment, running))
    # While work waits: from the first start to the last one (after it, nothing is queued).
    first, last = min(s for s, _ in times), max(s for s, _ in times)
    samples, at, position, now = [], first, 0, 0
    while at < last:
        while position < len(timeline) and timeline[position][0] <= at:
            now = timeline[position][1]
            position += 1
        samples.append(now)
        at += 0.05
    share = sum(1 for s in samples if s >= CONCURRENCY - 1) / len(samples)
    report.add(
        Row(
            f"7. gated (concurrency {CONCURRENCY}), 3 hosts: peak running",
            str(peak),
            f"limit {CONCURRENCY}",
            "",
            f"{GATED_ITEMS} jobs of {GATED_SECONDS:g} s",
        )
    )
    report.add(
        Row(
            f"7. gated: share of time with at least {CONCURRENCY - 1} running while work waits",
            f"{share:.0%}",
            f"mean {statistics.mean(samples):.2f} running",
            "",
            f"over {last - first:.0f} s, sampled every 50 ms from the job rows",
        )
    )
    report.detail(
        f"gated: {len(times)} jobs ran in {max(e or 0 for _, e in times) - first:.1f} s "
        f"(ideal {GATED_ITEMS * GATED_SECONDS / CONCURRENCY:.0f} s); running-count "
        f"histogram {sorted(Counter(samples).items())}"
    )
    if peak > CONCURRENCY:
        report.alarm(f"gated ran {peak} jobs at once; its limit is {CONCURRENCY}")


def paced(stack: Stack, report: Report) -> None:
    task_id, _ = submit(stack, "paced", list(range(PACED_ITEMS)))
    first, _ = poll(
        lambda: min((s for s, _ in job_times(stack, task_id)), default=None),
        timeout=300,
        interval=0.5,
        what="the paced task's first start",
    )
    begin = int(first) + RATE_SETTLE
    end = begin + RATE_WINDOW
    poll(lambda: time.time() > end + 2, timeout=300, interval=0.5, what="the window")
    stack.cancel(task_id)
    starts = Counter(int(s) for s, _ in job_times(stack, task_id) if begin <= s < end)
    per_second = [starts.get(second, 0) for second in range(begin, end)]
    mean = sum(per_second) / RATE_WINDOW
    report.add(
        Row(
            f"7. paced (rate {RATE}/s), 3 hosts: starts a second over {RATE_WINDOW} s",
            f"{mean:.1f}/s",
            f"limit {RATE}/s",
            f"{mean / RATE:.2f}x",
            f"per second: min {min(per_second)}, max {max(per_second)}",
        )
    )
    report.detail(f"paced starts per second from {RATE_SETTLE} s after the first: {per_second}")


def priority(stack: Stack, report: Report) -> None:
    normals = [submit(stack, "echo", [{"n": i} for i in range(NORMAL_ITEMS)])[0] for _ in range(2)]

    def running(task_id: str) -> bool:
        return bool(stack.status(task_id)[0]["counts"]["completed"] > 0)

    for task_id in normals:
        stack.wait_dispatched(task_id, timeout=900)
        poll(partial(running, task_id), timeout=300, interval=0.5, what="the normal task running")
    high, answered = submit(stack, "echo", [{"n": i} for i in range(HIGH_ITEMS)], priority="high")
    started, _ = poll(
        lambda: stack.first_started(high),
        timeout=120,
        interval=0.05,
        what="the high task's first job",
    )
    done, _ = poll(
        lambda: (s := stack.status(high)[0])["status"] != "running" and s,
        timeout=900,
        interval=0.25,
        what="the high task",
    )
    others = [stack.status(task_id)[0] for task_id in normals]
    ended_first = all(o["status"] == "running" for o in others)
    took = parse_time(done["finished_at"]) - answered
    report.add(
        Row(
            f"7. priority: {HIGH_ITEMS}-item high task behind two {NORMAL_ITEMS:,}-item "
            "normal ones, its 202 to its first job's start",
            secs(started - answered),
            "goal 1 s",
            f"{started - answered:.2f}x",
            f"ended {took:.1f} s after its 202, "
            f"{'before' if ended_first else 'NOT before'} either normal task "
            f"(then {', '.join(str(o['counts']['completed']) for o in others)} of "
            f"{NORMAL_ITEMS:,} done)",
        )
    )
    if not ended_first:
        report.alarm("the high task did not end before the normal tasks")
    for task_id in normals:
        stack.cancel(task_id)


def limits_phase(stack: Stack, report: Report) -> None:
    stack.start_azurite()  # nothing of earlier phases in the queues
    stack.start_host()
    try:
        with more_hosts(stack, HOSTS - 1):
            gated(stack, report)
            paced(stack, report)
            priority(stack, report)
    finally:
        stack.stop_host()
