"""Issue 9's figures: how long after a task's last job a webhook arrives, and what serving a
50,000-item results file costs the worker in memory."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.report import Report, Row, median, ms, values
from bench.stack import Stack, parse_time, poll, worker_pid
from composition import Service
from jobs.core.clock import utcnow
from jobs.core.messages import FinishedMessage
from jobs.core.models import Job, JobStatus, Payload, Setup, Task
from jobs.core.resources import CONTROL_QUEUE
from jobs.core.settings import COUNTER_SHARDS
from jobs.storage import Write
from jobs.storage.jobs_table import shard_size
from jobs.storage.keys import shard_key

RESULTS_ITEMS = 50_000
MiB = 1024 * 1024


@contextmanager
def receiver() -> Iterator[tuple[str, list[float]]]:
    """A webhook receiver on 127.0.0.1 noting when each POST arrives."""
    arrivals: list[float] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrivals.append(time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", arrivals
    finally:
        server.shutdown()
        server.server_close()


def webhook_delay(stack: Stack, runs: int) -> list[float]:
    """Seconds from the last job's finishing write to the webhook's arrival, per run."""
    delays = []
    with receiver() as (url, arrivals):
        for _ in range(runs):
            body = json.dumps({"kind": "echo", "items": list(range(10)), "callback_url": url})
            task_id, _ = stack.submit(body.encode())
            seen = len(arrivals)

            def arrived(seen: int = seen) -> bool:
                return len(arrivals) > seen

            poll(arrived, timeout=60, interval=0.02, what="the webhook")
            jobs = stack.http.get(stack.url(f"tasks/{task_id}/jobs"), timeout=30).json()["jobs"]
            last = max(parse_time(job["updated_at"]) for job in jobs)
            delays.append(arrivals[seen] - last)
    return delays


def seed_finished_task(service: Service, total: int) -> str:
    """A task whose every job completed, written directly (running 50,000 jobs first would
    take half an hour here), with its end recorded as the lifecycle records it."""
    task_id, now = str(uuid.uuid4()), utcnow()
    task = Task(task_id, "echo", "jobs", total, 128, now, now, "seeded", Setup.DISPATCHED)
    service.table.create_task(task)
    jobs = [
        Job(task_id, i, "echo", status=JobStatus.COMPLETED, attempts=1, next_sent=True,
            item=Payload(text=str(i)), result=Payload(text=json.dumps({"n": i, "ok": True})),
            started_at=now, updated_at=now)
        for i in range(total)
    ]  # fmt: skip
    for start in range(0, total, 100):
        service.table.create_jobs(task_id, jobs[start : start + 100])
    shards = [
        Write("create", shard_key(s),
              {"Completed": shard_size(total, s), "Size": shard_size(total, s), "Updated": now})
        for s in range(COUNTER_SHARDS)
    ]  # fmt: skip
    service.table.store.transact(task_id, shards)
    ended = {"Completions": 1, "FinishedAt": now, "FinalStatus": "completed"}
    service.table.store.transact(task_id, [Write("merge", "task", ended)])
    return task_id


def peak_rss(pid: int) -> int:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(status["VmHWM"].split()[0]) * 1024


def reset_peak(pid: int) -> int:
    """From now on the peak counts from the resident size (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return peak_rss(pid)


def results_memory(stack: Stack) -> tuple[float, float, int, int]:
    """The worker's peak growth (MiB) writing, then serving, a 50,000-item results file, the
    file's size, and the status code the download answered with."""
    assert stack.host is not None
    service = Service.from_env(stack.storage_env)
    task_id = seed_finished_task(service, RESULTS_ITEMS)
    pid = worker_pid(stack.host)

    base = reset_peak(pid)
    service.queues.send(CONTROL_QUEUE, FinishedMessage(task_id, 1))  # the end's follow-up
    path = f"{task_id}/results-1.ndjson"
    size, _ = poll(lambda: service.payloads.store.size("job-payloads", path), timeout=600,
                   interval=0.5, what="the results file")  # fmt: skip
    writing = (peak_rss(pid) - base) / MiB

    base = reset_peak(pid)
    answer = stack.http.get(stack.url(f"tasks/{task_id}/results"), timeout=60,
                            allow_redirects=False)  # fmt: skip
    serving = (peak_rss(pid) - base) / MiB
    return writing, serving, size, answer.status_code


def completion_phase(stack: Stack, runs: int, report: Report) -> None:
    stack.start_host()
    delays = webhook_delay(stack, runs)
    report.add(Row("6. last job finished to webhook arrived, 10-item task", ms(median(delays)),
                   "goal 2 s", f"{median(delays) / 2:.2f}x", f"median of {runs}"))  # fmt: skip
    report.detail(f"webhook delays: {values(delays)}")
    writing, serving, size, status = results_memory(stack)
    file = f"file {size / MiB:.1f} MiB"
    report.add(Row("6. worker peak growth serving a 50,000-item results file",
                   f"{serving:.1f} MiB", file, f"{serving * MiB / size:.2f}x",
                   f"GET /results answered {status}"))  # fmt: skip
    report.add(Row("6. worker peak growth writing that file at the task's end",
                   f"{writing:.1f} MiB", file, f"{writing * MiB / size:.2f}x",
                   "streamed from the rows to the blob"))  # fmt: skip
