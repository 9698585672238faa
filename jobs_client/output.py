"""What the command prints: tables, a task's summary, and errors a person can act on."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from jobs_client.errors import ApiError
from jobs_client.models import Task


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the last one runs on."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers)]
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def one_line(text: str | None) -> str:
    return " | ".join((text or "").split("\n")).strip()


def task_summary(task: Task) -> str:
    counts = task.counts
    percent = 100 * task.done // max(task.total, 1)
    rows = [
        ("task", task.task_id),
        ("kind", f"{task.kind} (queue {task.queue}, priority {task.priority})"),
        ("status", task.status),
        ("progress", f"{task.done}/{task.total} done ({percent}%)"),
        (
            "counts",
            f"pending {counts.pending}, in progress {counts.in_progress}, completed "
            f"{counts.completed}, failed {counts.failed}, cancelled {counts.cancelled}",
        ),
        ("created", task.created_at),
        ("updated", task.updated_at),
    ]
    if task.error:
        rows.append(("error", one_line(task.error)))
    if task.previous:
        rows.append(("previous", task.previous))
    if task.next:
        rows.append(("next", task.next))
    if task.then:
        rows.append(("then", task.then.chain()))
    if task.stage_error:
        rows.append(("stage", one_line(task.stage_error)))
    return "\n".join(f"{name:<9} {value}" for name, value in rows)


def api_error(
    error: ApiError,
    stream: TextIO,
    *,
    as_json: bool = False,
    where: Callable[[int], str] | None = None,
) -> None:
    """The service's error with each detail on its own line: which item (and line of the
    input, when ``where`` knows it), which field, what is wrong."""
    if as_json:
        details = [d.model_dump(exclude_none=True) for d in error.details]
        document: dict[str, Any] = {"status": error.status, "error": error.message}
        stream.write(json.dumps({**document, "details": details}) + "\n")
        return
    stream.write(f"error: {error.message} (HTTP {error.status})\n")
    for detail in error.details:
        place = []
        if detail.index is not None:
            place.append(where(detail.index) if where else f"item {detail.index}")
        if detail.field:
            place.append(f"field {detail.field!r}")
        stream.write(f"  {', '.join(place) or 'request'}: {detail.message}\n")


def message(text: str, stream: TextIO, *, as_json: bool = False) -> None:
    stream.write((json.dumps({"error": text}) if as_json else f"error: {text}") + "\n")
