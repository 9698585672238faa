"""The API beside a backlog: how fast status polls and listings answer on an idle service, and
while a 20,000-job echo task runs, with the service started on the settings ``scripts/serve``
runs it with (``local.settings.json.example``).

The load is closed-loop and bounded: a few threads on 127.0.0.1, each sending its next request
as soon as the last one answered, alternating ``GET /tasks/{id}`` and ``GET /tasks``, until each
kind has been asked ``requests`` times or ``seconds`` have passed.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.report import Report, Row, ms, percentile
from bench.service_run import echo_body
from bench.stack import Stack, poll
from harness.azurite import REPO

EXAMPLE_SETTINGS = REPO / "local.settings.json.example"
# What the example settings say about storage is replaced by the benchmark's private Azurite.
STORAGE = ("AzureWebJobsStorage", "JobsStorage")
KINDS = ("status", "listing")  # GET /tasks/{id}, GET /tasks


def serve_settings(path: Path = EXAMPLE_SETTINGS) -> dict[str, str]:
    """The example settings' Values as ``scripts/serve`` gives them to the host, storage
    connections left out."""
    values: Mapping[str, object] = json.loads(path.read_text(encoding="utf-8"))["Values"]
    return {name: str(value) for name, value in values.items() if name not in STORAGE}


@dataclass(frozen=True)
class Load:
    threads: int
    requests: int  # of each kind, at most
    seconds: float  # at most
    pause: float = 0.0  # seconds a thread waits after each answer before its next request


@dataclass
class Latencies:
    """Seconds each answer took, by kind, and what went wrong."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, seconds: float) -> None:
        with self._lock:
            self.seconds[kind].append(seconds)

    def error(self, line: str) -> None:
        with self._lock:
            self.errors.append(line)

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self.seconds[kind])

    def p(self, kind: str, share: float) -> float:
        return percentile(self.seconds[kind], share)


def measure(api: str, task_id: str, load: Load) -> Latencies:
    """Run the load against ``api`` (``http://127.0.0.1:<port>/api``)."""
    if not api.startswith("http://127.0.0.1:"):
        raise ValueError(f"the load goes only to 127.0.0.1, not {api}")
    found = Latencies()
    paths = {"status": f"tasks/{task_id}", "listing": "tasks?limit=20"}
    deadline = time.monotonic() + load.seconds
    lock = threading.Lock()
    asked = dict.fromkeys(KINDS, 0)

    def next_kind(turn: int) -> str | None:
        """This turn's kind, or the other one once this one has had its count; None when
        both have, or time is up."""
        with lock:
            if time.monotonic() > deadline:
                return None
            for kind in (KINDS[turn % len(KINDS)], KINDS[(turn + 1) % len(KINDS)]):
                if asked[kind] < load.requests:
                    asked[kind] += 1
                    return kind
            return None

    def run(first: int) -> None:
        with httpx.Client(base_url=api + "/", timeout=60) as client:
            for turn in itertools.count(first):
                kind = next_kind(turn)
                if kind is None:
                    return
                started = time.perf_counter()
                try:
                    response = client.get(paths[kind])
                except httpx.HTTPError as error:
                    found.error(f"{kind}: {error!r}")
                    continue
                seconds = time.perf_counter() - started
                if response.status_code != 200:
                    found.error(f"{kind}: {response.status_code} {response.text[:200]}")
                    continue
                found.add(kind, seconds)
                if load.pause:
                    time.sleep(load.pause)

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(load.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(load.seconds + 120)
    found.elapsed = time.monotonic() - started
    return found


@dataclass(frozen=True)
class Layout:
    """One way of running the app, measured idle and beside the backlog."""

    split: bool
    idle: Latencies
    loaded: Latencies
    rate: float  # the backlog's jobs/s during the loaded measurement


def run_layout(
    stack: Stack, report: Report, load: Load, backlog: int, settings: Mapping[str, str],
    split: bool,
) -> Layout:  # fmt: skip
    """Idle figures, then the same load beside a ``backlog``-job echo task. ``split``: the
    HTTP functions in a host of their own, as scripts/serve runs them."""
    merged = {**serve_settings(), **settings}
    stack.start_host(merged, split=split)
    assert stack.host is not None, "the host is running"
    api = stack.host.api
    small, _ = stack.submit(echo_body(20))
    poll(lambda: stack.status(small)[0]["status"] != "running", timeout=120, interval=0.2,
         what="the idle task to finish")  # fmt: skip
    workers = int(merged.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1"))
    measure(api, small, Load(load.threads, 4 * workers, 30))  # every worker's clients built
    idle = measure(api, small, load)
    print(f"  {_shape(merged, split)}, idle: {_line(idle)}", flush=True)

    big, _ = stack.submit(echo_body(backlog))
    running = poll(
        lambda: _moving(stack, big), timeout=300, interval=0.5, what="the backlog to be running"
    )[0]
    clock = time.monotonic()
    loaded = measure(api, big, load)
    after = stack.status(big)[0]
    rate = (after["counts"]["completed"] - running) / (time.monotonic() - clock)
    print(f"  beside {backlog:,}: {_line(loaded)}; {rate:.0f} jobs/s meanwhile", flush=True)
    if after["status"] != "running":
        report.alarm(f"the {backlog:,}-job task ended before the loaded measurement did")
    stack.cancel(big)
    stack.stop_host()
    stack.clear_queue()
    for name, found in (("idle", idle), ("loaded", loaded)):
        if found.errors:
            report.alarm(f"api latency, {_shape(merged, split)}, {name}: {len(found.errors)} "
                         f"failed requests, first: {found.errors[0]}")  # fmt: skip
    report.detail(
        f"api latency, {_shape(merged, split)}: idle {_line(idle)}; beside {backlog:,}: "
        f"{_line(loaded)}; the backlog ran at {rate:.0f} jobs/s during the load"
    )
    return Layout(split, idle, loaded, rate)


def api_latency_phase(
    stack: Stack, report: Report, load: Load, backlog: int, settings: Mapping[str, str]
) -> None:
    """The app as scripts/serve runs it (HTTP apart), then in one host as it was run before,
    each on a fresh Azurite; the first's figures against idle, the second's against them."""
    layouts = []
    for split in (True, False):
        stack.start_azurite()  # the same table size for both: no rows of the other's backlog
        layouts.append(run_layout(stack, report, load, backlog, settings, split))
    served, single = layouts
    merged = {**serve_settings(), **settings}
    names = {"status": "GET /tasks/{id}", "listing": "GET /tasks"}
    for kind in KINDS:
        for share in (0.5, 0.99):
            busy, calm = served.loaded.p(kind, share), served.idle.p(kind, share)
            report.add(
                Row(
                    f"7. {names[kind]} p{share * 100:.0f}, beside a {backlog:,}-job task",
                    ms(busy),
                    f"idle {ms(calm)}",
                    f"{busy / calm:.1f}x",
                    f"{served.loaded.count(kind)} requests ({served.idle.count(kind)} idle) "
                    f"from {load.threads} threads; {_shape(merged, True)}; backlog at "
                    f"{served.rate:.0f} jobs/s meanwhile"
                    + ("; target p99 < 1 s" if share > 0.5 else ""),
                )
            )
    for kind in KINDS:
        busy, apart = single.loaded.p(kind, 0.99), served.loaded.p(kind, 0.99)
        report.add(
            Row(
                f"7. {names[kind]} p99 beside {backlog:,}, all functions in one host",
                ms(busy),
                f"HTTP apart {ms(apart)}",
                f"{busy / apart:.1f}x",
                f"idle {ms(single.idle.p(kind, 0.99))}; p50 {ms(single.loaded.p(kind, 0.5))}; "
                f"backlog at {single.rate:.0f} jobs/s meanwhile",
            )
        )


def _moving(stack: Stack, task_id: str) -> int | None:
    """Jobs completed once the task is well under way (some hundred done), else None."""
    counts = stack.status(task_id)[0]["counts"]
    return int(counts["completed"]) if counts["completed"] >= 200 else None


def _shape(merged: Mapping[str, str], split: bool) -> str:
    count = merged.get("FUNCTIONS_WORKER_PROCESS_COUNT", "1")
    hosts = "HTTP and background hosts apart" if split else "one host"
    return f"{hosts}, {count} worker process(es) each"


def _line(found: Latencies) -> str:
    return (
        ", ".join(
            f"{kind} p50 {ms(found.p(kind, 0.5))} p99 {ms(found.p(kind, 0.99))} "
            f"({found.count(kind)})"
            for kind in KINDS
        )
        + f" in {found.elapsed:.0f} s"
    )
