"""A task's progress as a person watches it: a live bar redrawn in place on a terminal, and
on anything else (a pipe, a CI log) a plain line now and then instead, never control codes."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from typing import TextIO

from jobs_client.models import Task

BAR = 20  # characters of the bar itself
PLAIN_EVERY = 10.0  # seconds between plain lines when there is no terminal
CLEAR_LINE = "\r\x1b[K"


class Progress:
    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        plain_every: float = PLAIN_EVERY,
    ) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.clock = clock
        self.plain_every = plain_every
        self._first: tuple[float, int] | None = None  # when we first looked, and what was done
        self._last_plain = -math.inf
        self._drawn = False

    def update(self, task: Task) -> None:
        now = self.clock()
        if self._first is None:
            self._first = (now, task.done)
        if self.live:
            columns = shutil.get_terminal_size().columns
            self.stream.write(CLEAR_LINE + self.bar(task, now)[: max(columns - 1, 20)])
            self.stream.flush()
            self._drawn = True
        elif not task.finished and now - self._last_plain >= self.plain_every:
            self.stream.write(self.plain(task, now) + "\n")
            self.stream.flush()
            self._last_plain = now

    def close(self, task: Task) -> None:
        """End the bar's line and say how the task ended."""
        if self._drawn:
            self.stream.write("\n")
        elapsed = self.clock() - self._first[0] if self._first else 0.0
        counts = task.counts
        self.stream.write(
            f"task {task.task_id} {task.status}: {counts.completed} completed, "
            f"{counts.failed} failed, {counts.cancelled} cancelled of {task.total} "
            f"({_duration(elapsed)})\n"
        )
        self.stream.flush()

    def rate(self, task: Task, now: float) -> float | None:
        """Jobs ended per second since we started watching; None before there is a measure."""
        if self._first is None:
            return None
        started, done = self._first
        if now - started <= 0 or task.done <= done:
            return None
        return (task.done - done) / (now - started)

    def bar(self, task: Task, now: float) -> str:
        total = max(task.total, 1)
        filled = BAR * task.done // total
        rate = self.rate(task, now)
        left = task.total - task.done
        eta = _duration(left / rate) if rate else "--:--"
        counts = task.counts
        line = (
            f"[{'#' * filled}{'-' * (BAR - filled)}] {task.done}/{task.total} "
            f"{100 * task.done // total}%  {_rate(rate)}  ETA {eta}  failed {counts.failed}  "
            f"running {counts.in_progress}"
        )
        return line + (f"  cancelled {counts.cancelled}" if counts.cancelled else "")

    def plain(self, task: Task, now: float) -> str:
        return (
            f"task {task.task_id}: {task.done}/{task.total} done, {task.counts.failed} failed, "
            f"{_rate(self.rate(task, now))}"
        )


def _rate(rate: float | None) -> str:
    return "-- jobs/s" if rate is None else f"{rate:.1f} jobs/s"


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
