"""Each ``jobs`` command: read its arguments, call the client, print, and say how it went as
an exit code (0 completed, 1 completed with failures or cancelled, 2 usage or input errors,
3 service unreachable)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from jobs_client import items as item_files
from jobs_client import output, submission
from jobs_client.client import Client
from jobs_client.errors import ApiError
from jobs_client.models import Task
from jobs_client.progress import Progress

OK, FAILURES, USAGE, UNREACHABLE = 0, 1, 2, 3


class UsageError(Exception):
    """Arguments the command cannot use; the message says which."""


def exit_code(task: Task) -> int:
    return FAILURES if task.status in ("completed_with_failures", "cancelled") else OK


def submit(client: Client, args: argparse.Namespace) -> int:
    if args.output and not args.wait:
        raise UsageError("-o/--output writes the results, which needs --wait")
    found = item_files.read(args.items, sys.stdin.buffer)
    metadata = _object(args.metadata, "--metadata")
    then = _object(args.then, "--then")
    body = submission.body(
        args.kind, found.values, queue=args.queue, metadata=metadata, then=then,
        priority=args.priority,
    )  # fmt: skip
    key = args.key or submission.key_for(body)
    try:
        accepted = client.submit(
            args.kind,
            found.values,
            queue=args.queue,
            metadata=metadata,
            key=key,
            then=then,
            priority=args.priority,
        )
    except ApiError as error:
        output.api_error(error, sys.stderr, as_json=_json(args), where=found.where)
        return USAGE if error.status < 500 else UNREACHABLE
    if not _json(args):
        print(accepted.task_id, flush=True)  # the command's data: `ID=$(jobs submit ...)`
        _note(f"task {accepted.task_id}: {accepted.total} items (Idempotency-Key {key})")
    if not args.wait:
        if _json(args):
            _print_json(accepted.model_dump())
        return OK
    task = _follow(client, accepted.task_id, args)
    if args.output:
        lines = _save_results(client, task.task_id, args.output)
        _note(f"results: {lines} lines in {args.output}", args)
    if _json(args):
        _print_json(task.model_dump())
    return exit_code(task)


def watch(client: Client, args: argparse.Namespace) -> int:
    task = _follow(client, args.task_id, args)
    if _json(args):
        _print_json(task.model_dump())
    return exit_code(task)


def status(client: Client, args: argparse.Namespace) -> int:
    task = client.get_task(args.task_id)
    if _json(args):
        _print_json(task.model_dump())
    else:
        print(output.task_summary(task))
    return exit_code(task)


def list_tasks(client: Client, args: argparse.Namespace) -> int:
    found: list[Task] = []
    try:
        for task in client.iter_tasks(state=args.state, kind=args.kind):
            found.append(task)
            if args.limit is not None and len(found) >= args.limit:
                break
    except ApiError as error:
        if error.status == 404 and error.bare:
            raise UsageError(
                f"this service cannot list tasks: GET {client.url}/tasks answered 404 (HTTP "
                "404); update the service, or ask for one task with: jobs status ID"
            ) from None
        raise
    if _json(args):
        _print_json({"tasks": [task.model_dump() for task in found]})
    elif not found:
        _note("no tasks")
    else:
        rows = [
            [t.task_id, t.kind, t.status, f"{t.done}/{t.total}", str(t.counts.failed), t.created_at]
            for t in found
        ]
        print(output.table(["TASK", "KIND", "STATUS", "DONE", "FAILED", "CREATED"], rows))
    return OK


def kinds(client: Client, args: argparse.Namespace) -> int:
    found = client.kinds().kinds
    if _json(args):
        _print_json({"kinds": [kind.model_dump() for kind in found]})
        return OK
    rows = [
        [k.name, k.queue, str(k.max_attempts), _or_dash(k.timeout, " s"),
         _or_dash(k.concurrency, " at once"), _or_dash(k.rate, "/s")]
        for k in found
    ]  # fmt: skip
    print(output.table(["KIND", "QUEUE", "ATTEMPTS", "TIME LIMIT", "CONCURRENCY", "RATE"], rows))
    return OK


def _or_dash(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:g}{unit}"


def failed(client: Client, args: argparse.Namespace) -> int:
    jobs = list(client.iter_jobs(args.task_id, status="failed"))
    if _json(args):
        _print_json({"jobs": [job.model_dump() for job in jobs]})
    elif not jobs:
        _note(f"task {args.task_id} has no failed jobs")
    else:
        rows = [[str(j.index), j.job_id, str(j.attempts), output.one_line(j.error)] for j in jobs]
        print(output.table(["INDEX", "JOB", "ATTEMPTS", "ERROR"], rows))
    return OK


def retry(client: Client, args: argparse.Namespace) -> int:
    done = client.retry(args.task_id)
    if _json(args):
        _print_json(done.model_dump())
    else:
        print(f"requeued {done.requeued} failed jobs of task {args.task_id}")
        _note(f"follow them with: jobs watch {args.task_id}")
    return OK


def cancel(client: Client, args: argparse.Namespace) -> int:
    done = client.cancel(args.task_id)
    if _json(args):
        _print_json(done.model_dump())
    else:
        print(f"cancel requested for task {done.task_id}: jobs not yet started will not run")
    return OK


def results(client: Client, args: argparse.Namespace) -> int:
    if args.output:
        lines = _save_results(client, args.task_id, args.output)
        _note(f"results: {lines} lines in {args.output}", args)
    else:
        client.download_results(args.task_id, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    return OK


# -- helpers ---------------------------------------------------------------------------------


def _follow(client: Client, task_id: str, args: argparse.Namespace) -> Task:
    progress = Progress(sys.stderr)
    try:
        task = client.wait(task_id, interval=args.interval, on_update=progress.update)
    except KeyboardInterrupt:
        sys.stderr.write(f"\nstopped watching; the task goes on: jobs watch {task_id}\n")
        raise
    progress.close(task)
    return task


def _save_results(client: Client, task_id: str, path: str) -> int:
    """Written beside ``path`` and moved into place whole: never a half file under its name."""
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            lines = client.download_results(task_id, out)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return lines


def _object(text: str | None, option: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{option} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object")
    return value


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2))


def _note(text: str, args: argparse.Namespace | None = None) -> None:
    """Words for the person at the terminal: on standard error, so standard output stays the
    command's data."""
    if args is None or not _json(args):
        sys.stderr.write(text + "\n")
