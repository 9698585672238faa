"""Benchmark of the job service, against a private Azurite and the local host.

Run from the repository root::

    .venv/bin/python -m bench.run [--quick] [--phase NAME ...] [--items N]

It starts its own Azurite (in memory, telemetry off) and ``python -m devhost`` with test kinds,
32 worker threads and a sweep that never fires during the run, and measures:

1. submit latency (POST until the 202) at 100 / 10,000 / 50,000 echo items, on a host
   restarted before each submit and killed after it (so no earlier fan-out competes);
2. end-to-end throughput of a 2,000-item echo task with ``JOBS_GROUP_COMMIT`` false and true
   (bench/throughput.py), its counts checked at every status poll, its storage requests and
   entity operations per job counted by a proxy in front of Azurite (bench/proxy.py) and the
   host's and worker's CPU per job; next to the seed design's floor, the storage floor (the
   same storage operations at the same concurrency, from this process: see bench/floor.py),
   the bare floor (single-entity writes, no counters) and the service's own code in this
   process;
3. status-read latency of tasks of 100 / 10,000 / 50,000 jobs once fanned out, on an idle host;
4. fairness: how long a 10-item task waits for its first job while a 50,000-item task runs,
   against the same on an idle host;
5. profile: the share of a job's time spent in our code outside storage calls;
6. a task's end: webhook delay, results file memory;
7. API latency (bench/api_latency.py): p50/p99 of status polls and listings on an idle
   service, and beside a 20,000-job echo task, with the settings scripts/serve runs;
8. limits: a kind's concurrency and rate limits and priorities, on three hosts
   (bench/limits.py);
9. window: one lone task of long jobs on six hosts, its jobs in progress against the hosts'
   capacity, and a 10-item task beside it (bench/window.py);
10. scale (bench/scale.py): a task counted by shards and by writers (JOBS_COUNTER_LAYOUT) side
   by side: four lifecycles on one task against one, in process, and their lost races; the
   status poll of a running 100,000-job task against a 100-job one; entity operations per job
   on one partition (one task's ceiling in Azure); one task run by 1, 2 and 4 local hosts.

Medians of several runs; ratios taken within one run are what matter (this machine is shared).
The summary goes to stdout and to bench/out/latest.md; host logs to bench/out/logs/.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from bench.api_latency import Load, api_latency_phase
from bench.completion import completion_phase
from bench.floor import PrivateQueue, service_in_process
from bench.limits import limits_phase
from bench.plan import Plan
from bench.profiling import profile
from bench.report import Report, Row, median, ms, secs, times, values
from bench.scale import scale
from bench.service_run import echo_body
from bench.stack import Stack, poll
from bench.throughput import throughput
from bench.window import window_phase
from jobs.dispatch.submit import submit

OUT = Path(__file__).resolve().parent / "out"
SIZES = (100, 10_000, 50_000)
FAIR_ITEMS = 10


def phase(title: str) -> None:
    print(f"\n== {title} ({datetime.now(UTC):%H:%M:%S} UTC)", flush=True)


# -- 1. submit latency ---------------------------------------------------------------------


def submit_latency(stack: Stack, plan: Plan, report: Report) -> None:
    phase("1. submit latency: POST /api/tasks until the 202, fresh host each time")
    bodies = {size: echo_body(size) for size in SIZES}
    seconds: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(plan.submit_runs):
        for size in SIZES:  # interleaved, so drift in the machine's load hits every size
            stack.start_host()
            seconds[size].append(stack.submit(bodies[size])[1])
            stack.stop_host()  # abandons the fan-out it started
            stack.clear_queue()
    inside = submit_in_process(stack, bodies, plan.submit_runs)
    small = median(seconds[SIZES[0]])
    for size in SIZES:
        value = median(seconds[size])
        kb = len(bodies[size]) / 1024
        report.add(
            Row(
                f"1. submit latency, {size:,} items",
                ms(value),
                "" if size == SIZES[0] else f"{SIZES[0]} items",
                "" if size == SIZES[0] else times(value / small),
                f"body {kb:,.0f} KiB; median of {len(seconds[size])}; jobs.dispatch.submit.submit "
                f"alone {ms(median(inside[size]))}",
            )
        )
        report.detail(f"submit {size:,} items: {values(seconds[size], 'ms', 1000)}")
        report.detail(
            f"jobs.dispatch.submit.submit in this process, {size:,} items: "
            f"{values(inside[size], 'ms', 1000)}"
        )


def submit_in_process(stack: Stack, bodies: dict[int, bytes], runs: int) -> dict[int, list[float]]:
    """The same submits through ``jobs.dispatch.submit.submit`` in this process (no HTTP, no
    host), its fan-out messages sent to a private queue: what the service's own code takes."""
    queue = PrivateQueue(stack.connection_string, "bench-submit")
    try:
        service, _ = service_in_process(stack.connection_string, queue.name)
        submit(service, bodies[SIZES[0]])  # warm up the clients
        seconds: dict[int, list[float]] = {size: [] for size in SIZES}
        for _ in range(runs):
            for size in SIZES:
                started = time.perf_counter()
                submit(service, bodies[size])
                seconds[size].append(time.perf_counter() - started)
        return seconds
    finally:
        queue.delete()


# -- 3 and 4. fairness and status reads ----------------------------------------------------


def first_job(stack: Stack, interval: float) -> tuple[float, float]:
    """Submit a small task; seconds from the submit to its first job's start (its rows'
    ``Started``, so exact whatever ``interval`` the polls use) and to its completion."""
    submitted, clock = time.time(), time.monotonic()
    task_id, _ = stack.submit(echo_body(FAIR_ITEMS))
    first, _ = poll(
        lambda: stack.first_started(task_id), timeout=300, interval=interval, what="a first job"
    )
    _, done = poll(
        lambda: stack.status(task_id)[0]["status"] != "running",
        timeout=600,
        interval=interval / 2,
        what="the small task",
    )
    return first - submitted, done - clock


def fairness_and_reads(stack: Stack, plan: Plan, report: Report) -> None:
    phase("4. fairness: a 10-item task's first job, idle host vs beside a 50,000-item task")
    stack.start_host()
    idle = [first_job(stack, 0.1) for _ in range(plan.fairness_runs)]
    started = time.monotonic()
    big, _ = stack.submit(echo_body(SIZES[-1]))
    fanout = stack.wait_dispatched(big, timeout=900) - started
    print(f"  {SIZES[-1]:,} items fanned out in {fanout:.0f} s", flush=True)
    poll(
        lambda: sum(stack.status(big)[0]["counts"][k] for k in ("in_progress", "completed")) > 64,
        timeout=120,
        interval=0.5,
        what="the big task to be running",
    )
    before, clock = stack.status(big)[0]["counts"]["completed"], time.monotonic()
    time.sleep(15)  # the big task alone, undisturbed by our polls
    alone = (stack.status(big)[0]["counts"]["completed"] - before) / (time.monotonic() - clock)
    before, clock = stack.status(big)[0]["counts"]["completed"], time.monotonic()
    loaded = [first_job(stack, 0.5) for _ in range(plan.fairness_runs)]
    big_status = stack.status(big)[0]
    if big_status["status"] != "running":
        raise RuntimeError(f"the big task stopped running during the measurement: {big_status}")
    big_rate = (big_status["counts"]["completed"] - before) / (time.monotonic() - clock)
    wait_idle, wait_loaded = median([f for f, _ in idle]), median([f for f, _ in loaded])
    report.add(
        Row(
            f"4. fairness: {FAIR_ITEMS}-item task, submit to first job start, beside {SIZES[-1]:,}",
            secs(wait_loaded),
            f"idle host {secs(wait_idle)}",
            times(wait_loaded / wait_idle),
            f"to all {FAIR_ITEMS} done: {secs(median([d for _, d in loaded]))} vs "
            f"{secs(median([d for _, d in idle]))} idle; median of {len(loaded)}",
        )
    )
    report.detail(
        f"the {SIZES[-1]:,}-item task ran at {alone:.1f} jobs/s alone, {big_rate:.1f} jobs/s "
        f"while we submitted and polled the small ones; a new task's "
        f"fan-out message and then its run messages each queue behind the window's visible "
        f"messages (128 - 32 in flight): about 2 x 96 / {big_rate:.1f} = {192 / big_rate:.1f} s"
    )
    report.detail(f"first job, idle: {values([f for f, _ in idle])}")
    report.detail(f"first job, beside {SIZES[-1]:,}: {values([f for f, _ in loaded])}")
    report.detail(f"{SIZES[-1]:,} items fanned out by the host in {fanout:.0f} s "
                  f"({SIZES[-1] / fanout:.0f} rows/s)")  # fmt: skip

    phase("3. status-read latency: GET /api/tasks/{id} once fanned out, idle host")
    tasks = {SIZES[-1]: big}
    for size in SIZES[:-1]:
        tasks[size] = stack.submit(echo_body(size))[0]
    for size in SIZES[:-1]:
        stack.wait_dispatched(tasks[size], timeout=600)
    stack.stop_host()  # leaves their jobs where they are; nothing runs during the reads
    stack.clear_queue()
    stack.start_host()
    reads: dict[int, list[float]] = {size: [] for size in SIZES}
    for _ in range(plan.read_runs):
        for size in SIZES:
            reads[size].append(stack.status(tasks[size])[1])
    stack.stop_host()
    stack.clear_queue()
    small = median(reads[SIZES[0]])
    for size in SIZES:
        value = median(reads[size])
        report.add(
            Row(
                f"3. status read, {size:,} jobs",
                ms(value),
                "" if size == SIZES[0] else f"{SIZES[0]} jobs",
                "" if size == SIZES[0] else times(value / small),
                f"median of {len(reads[size])}",
            )
        )
        report.detail(f"status read {size:,}: {values(reads[size], 'ms', 1000)}")


# -- 5. profile ----------------------------------------------------------------------------


def profile_phase(stack: Stack, plan: Plan, report: Report) -> None:
    phase("5. profile: jobs.control.handlers.handle in this process, one job at a time")
    found = profile(stack.connection_string, plan.profile_jobs, OUT / "profile-app.log", 600)
    report.add(
        Row(
            "5. our code: share of per-job time outside storage calls (cProfile)",
            f"{found.ours_share:.0%}",
            f"per job {found.profiled_ms:.1f} ms profiled",
            "",
            f"calls into azure.*: {found.sdk_ms:.1f} ms/job, of which HTTP transport "
            f"{found.transport_ms:.1f} ms",
        )
    )
    report.add(
        Row(
            "5. per-job time without the profiler",
            f"{found.wall_ms:.1f} ms",
            f"HTTP round trips {found.http_ms:.1f} ms",
            f"{found.http_share:.0%} HTTP",
            f"{found.requests:.2f} storage requests per job; {found.jobs} jobs",
        )
    )
    report.add(
        Row(
            "5. CPU per job in the process running it (no profiler)",
            f"{found.cpu_ms:.1f} ms",
            f"wall {found.wall_ms:.1f} ms",
            f"{found.cpu_ms / found.wall_ms:.0%} CPU",
            f"one worker process tops out near {1000 / found.cpu_ms:.0f} jobs/s per core",
        )
    )
    report.detail(f"our code: {found.ours_share:.0%} of per-job time")
    report.detail(
        "profiled time by where the code lives (own time): "
        + ", ".join(f"{kind} {share:.0%}" for kind, share in
                    sorted(found.kinds.items(), key=lambda item: -item[1]) if share >= 0.005)
    )  # fmt: skip
    for label, cumulative in found.spots.items():
        report.detail(f"{label}: {cumulative:.1f} ms/job (cProfile, cumulative)")
    report.detail("top jobs.* functions by own time (per job: calls, own ms, cumulative ms):")
    for hot in found.hot:
        report.detail(
            f"  {hot.name}: {hot.calls:.2f} calls, {hot.own_ms:.3f} ms own, "
            f"{hot.cumulative_ms:.2f} ms cumulative"
        )


# -- main ----------------------------------------------------------------------------------


def completion(stack: Stack, plan: Plan, report: Report) -> None:
    phase("6. a task's end: webhook delay, results file memory")
    completion_phase(stack, plan.fairness_runs, report)


def api_latency(stack: Stack, plan: Plan, report: Report) -> None:
    phase(f"7. API latency: status polls and listings, idle and beside a "
          f"{plan.api_backlog:,}-job task, as scripts/serve runs the service")  # fmt: skip
    load = Load(plan.api_threads, plan.api_requests, plan.api_seconds)
    api_latency_phase(stack, report, load, plan.api_backlog, {})


def limits(stack: Stack, plan: Plan, report: Report) -> None:
    phase("8. limits per kind and priorities, three hosts")
    limits_phase(stack, report)


def window(stack: Stack, plan: Plan, report: Report) -> None:
    phase("9. a window that gives way: one lone task on six hosts")
    window_phase(stack, report)


# Phases by name, in the order they run. "fairness" also measures status reads (phase 3): it
# reads the tasks that phase 4 leaves behind.
PHASES: dict[str, Callable[[Stack, Plan, Report], None]] = {
    "submit": submit_latency,
    "throughput": throughput,
    "fairness": fairness_and_reads,
    "profile": profile_phase,
    "completion": completion,
    "api-latency": api_latency,
    "limits": limits,
    "window": window,
    "scale": scale,
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (about 5 minutes)")
    parser.add_argument(
        "--phase",
        action="append",
        choices=sorted(PHASES),
        help="run only this phase (repeatable); all of them by default",
    )
    parser.add_argument("--items", type=int, help="items of the throughput task (and of the "
                        "seed floor beside it), instead of the plan's")  # fmt: skip
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.items:
        plan = replace(plan, throughput_items=args.items)
    command = shlex.join([".venv/bin/python", "-m", "bench.run",
                          *(sys.argv[1:] if argv is None else argv)])  # fmt: skip
    OUT.mkdir(exist_ok=True)
    logs = OUT / "logs"
    for old in logs.glob("*.log") if logs.exists() else []:
        old.unlink()
    report = Report(command)
    report.header = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} mode, "
        f"{os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.2f}; "
        f"git {_git_head()}.",
        "Medians; ratios compare figures taken in this run. Azurite in memory, one devhost "
        "(32 worker threads, queue batchSize 16 + newBatchThreshold 16), dispatch window 128.",
    ]
    print(f"command: {command}\n{json.dumps(plan.__dict__)}", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    stack = Stack(log_dir=logs)
    started = time.monotonic()
    steps = [step for name, step in PHASES.items() if not args.phase or name in args.phase]
    try:
        stack.start_azurite()
        for step in steps:
            if step in (throughput, scale):  # a fresh Azurite: no rows from earlier phases
                stack.start_azurite()
            try:
                step(stack, plan, report)
            except Exception as error:  # the other phases' figures are still worth having
                report.alarms.append(f"phase {step.__name__} failed: {error!r:.300}")
                print(f"!!! phase {step.__name__} failed: {error!r}", file=sys.stderr)
                stack.stop_host()
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the host and Azurite", file=sys.stderr)
        return 130
    finally:
        stack.close()
    report.header.append(f"Took {(time.monotonic() - started) / 60:.1f} minutes.")
    text = report.markdown()
    (OUT / "latest.md").write_text(text, encoding="utf-8")
    print("\n" + text)
    print(f"written to {OUT / 'latest.md'}\ncommand: {command}")
    for line in report.alarms:
        print(f"!!! ALARM: {line}", file=sys.stderr)
    return 1 if report.alarms else 0


def _git_head() -> str:
    head = Path(__file__).resolve().parents[1] / ".git" / "HEAD"
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            return (head.parent / ref[5:]).read_text().strip()[:10]
        return ref[:10]
    except OSError:
        return "unknown"


if __name__ == "__main__":
    raise SystemExit(main())
