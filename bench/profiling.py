"""Where one job's time goes: ``jobs.control.handlers.handle`` in this process, one message at a
time, against Azurite, first plainly (wall time and HTTP time per job) and then under cProfile (our
code against the azure SDK). Only the ``handle`` calls are measured: receiving and deleting
messages is the host's work. Logging is set up as the worker sets it up (INFO, one handler),
into a file, so the job events cost what they cost in the host."""

from __future__ import annotations

import base64
import cProfile
import logging
import os
import pstats
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.queue import QueueServiceClient

from bench.floor import WINDOW, seeded_task, service_in_process
from bench.meter import Meter, metered
from bench.stack import Deadline
from composition import Service
from harness.azurite import REPO
from jobs.control.handlers import handle
from jobs.core.messages import RunMessage, parse_message

JOBS_DIR = str(REPO / "jobs") + os.sep
SDK_MARK = f"{os.sep}site-packages{os.sep}azure{os.sep}"
TRANSPORT_FILE = f"{os.sep}azure{os.sep}core{os.sep}pipeline{os.sep}transport{os.sep}"

FunctionKey = tuple[str, int, str]

# Named internals: (label, file suffix, function), reported as cumulative ms per job.
SPOTS = (
    ("transaction bodies built (azure.core _prepare_multipart)",
     os.path.join("azure", "core", "pipeline", "_base.py"), "_prepare_multipart"),
    ("proxy settings read from os.environ per request (requests)",
     os.path.join("requests", "sessions.py"), "merge_environment_settings"),
    ("email.parser (HTTP headers and transaction responses)",
     os.path.join("email", "parser.py"), "parsestr"),
    ("request signing, tables (SharedKey)",
     os.path.join("azure", "data", "tables", "_authentication.py"), "on_request"),
)  # fmt: skip


@dataclass(frozen=True)
class Hot:
    name: str
    calls: float  # per job
    own_ms: float  # tottime per job
    cumulative_ms: float  # cumtime per job


@dataclass(frozen=True)
class Profile:
    jobs: int
    wall_ms: float  # per job, plain run
    http_ms: float  # per job, plain run: in the HTTP transport (round trips)
    cpu_ms: float  # per job, plain run: this process's CPU
    requests: float  # per job
    profiled_ms: float  # per job under cProfile
    sdk_ms: float  # per job under cProfile: in azure.* called from jobs.*
    transport_ms: float  # per job under cProfile: in the HTTP transport
    hot: list[Hot]
    kinds: dict[str, float]  # share of profiled time by where the code lives (own time)
    spots: dict[str, float]  # cumulative ms per job of some SDK internals worth naming

    @property
    def ours_share(self) -> float:
        """Our code and what it calls outside storage calls, as a share of the job's time."""
        return (self.profiled_ms - self.sdk_ms) / self.profiled_ms

    @property
    def http_share(self) -> float:
        return self.http_ms / self.wall_ms


@contextmanager
def worker_logging(path: Path) -> Iterator[None]:
    """INFO to one file, the azure request logger quiet: as devhost.logs.configure_logging."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    quiet = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    saved_quiet = quiet.level
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    quiet.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.handlers[:], root.level = saved
        quiet.setLevel(saved_quiet)
        handler.close()


def _run(
    service: Service,
    connection_string: str,
    queue: str,
    jobs: int,
    meter: Meter,
    profiler: cProfile.Profile | None,
    timeout: float,
) -> tuple[float, float, float, int]:
    """Seed an echo task and handle ``jobs`` of its run messages one by one; seconds spent in
    ``handle``, of those in the HTTP transport, CPU seconds, and the requests it sent."""
    reader = QueueServiceClient.from_connection_string(connection_string).get_queue_client(queue)
    reader.clear_messages()
    seeded_task(service, queue, jobs + WINDOW)  # so that every job measured sends a successor
    wall = http = cpu = 0.0
    handled = requests = 0
    deadline = time.monotonic() + timeout
    while handled < jobs:
        if time.monotonic() > deadline:
            raise Deadline(f"profiling: {handled} of {jobs} jobs after {timeout:.0f}s")
        pager = reader.receive_messages(
            messages_per_page=16, max_messages=16, visibility_timeout=600
        )
        for message in next((list(page) for page in pager.by_page()), []):
            if handled >= jobs:
                break  # the rest stay in the queue, cleared by the next run
            body = base64.b64decode(str(message.content)).decode()
            counted = isinstance(parse_message(body), RunMessage)
            before, sent = meter.seconds, meter.requests
            started, used = time.perf_counter(), time.process_time()
            if profiler is not None and counted:
                profiler.enable()
            handle(service, queue, body, message.dequeue_count or 1)
            if profiler is not None and counted:
                profiler.disable()
            if counted:
                wall += time.perf_counter() - started
                cpu += time.process_time() - used
                http += meter.seconds - before
                requests += meter.requests - sent
                handled += 1
            reader.delete_message(message.id, message.pop_receipt)
    return wall, http, cpu, requests


def profile(connection_string: str, jobs: int, log_path: Path, timeout: float) -> Profile:
    queue = f"bench-profile-{uuid.uuid4().hex[:12]}"
    queues = QueueServiceClient.from_connection_string(connection_string)
    queues.create_queue(queue)
    try:
        service, _ = service_in_process(connection_string, queue)
        with worker_logging(log_path), metered() as meter:
            _run(service, connection_string, queue, 20, meter, None, timeout)  # warm up
            wall, http, cpu, requests = _run(
                service, connection_string, queue, jobs, meter, None, timeout
            )
            profiler = cProfile.Profile()
            _run(service, connection_string, queue, jobs, meter, profiler, timeout)
    finally:
        queues.delete_queue(queue)
    stats = pstats.Stats(profiler)
    per_job = 1000.0 / jobs
    entries: dict[FunctionKey, tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in entries.values())
    sdk = transport = 0.0
    for key, (_cc, _nc, _tt, cumulative, callers) in entries.items():
        if SDK_MARK in key[0]:
            sdk += sum(edge[3] for caller, edge in callers.items() if _ours(caller))
        if TRANSPORT_FILE in key[0] and key[0].endswith("_requests_basic.py") and key[2] == "send":
            transport += cumulative
    kinds: dict[str, float] = {}
    for key, entry in entries.items():
        kinds[_kind(key)] = kinds.get(_kind(key), 0.0) + entry[2]
    ours = sorted((k for k in entries if _ours(k)), key=lambda k: entries[k][2], reverse=True)
    hot = [
        Hot(_label(k), entries[k][1] / jobs, entries[k][2] * per_job, entries[k][3] * per_job)
        for k in ours[:10]
    ]
    return Profile(
        jobs=jobs,
        wall_ms=wall * per_job,
        http_ms=http * per_job,
        cpu_ms=cpu * per_job,
        requests=requests / jobs,
        profiled_ms=total * per_job,
        sdk_ms=sdk * per_job,
        transport_ms=transport * per_job,
        hot=hot,
        kinds={kind: seconds / total for kind, seconds in kinds.items()},
        spots={
            label: sum(e[3] for k, e in entries.items() if k[0].endswith(f) and k[2] == n) * per_job
            for label, f, n in SPOTS
        },
    )


def _kind(key: FunctionKey) -> str:
    """Where a function's own time goes, by the file it lives in."""
    path, _, name = key
    parts = path.split(os.sep)
    if path.startswith(JOBS_DIR):
        return "ours (jobs/)"
    if path == "~":
        if "socket" in name:
            return "socket I/O (waiting on Azurite)"
        return "lock waits" if "acquire" in name else "builtins"
    if "site-packages" in parts:
        package = parts[parts.index("site-packages") + 1]
        if package in ("requests", "urllib3", "charset_normalizer", "idna"):
            return "HTTP client (requests, urllib3, http.client)"
        return "azure SDK" if package == "azure" else package
    if "email" in parts:
        return "email package (transactions' multipart bodies)"
    if "http" in parts or parts[-1] in ("socket.py", "ssl.py"):
        return "HTTP client (requests, urllib3, http.client)"
    if parts[-1] == "request.py" and "urllib" in parts:
        return "urllib.request (proxy lookup per request)"
    return "other stdlib (os.environ scans, re, json, ...)"


def _ours(key: FunctionKey) -> bool:
    return key[0].startswith(JOBS_DIR)


def _label(key: FunctionKey) -> str:
    path, line, name = key
    return f"{os.path.relpath(path, REPO)}:{line}({name})"
