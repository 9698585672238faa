"""Status polls during a run: what each cost, and whether the counts they showed were exact
(every job counted once, none negative, completed never going back)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bench.report import median

STATUSES = ("pending", "in_progress", "completed", "failed", "cancelled")


@dataclass
class Polls:
    """Every poll's seconds and entities read, and the invariants each one broke."""

    total: int
    seconds: list[float] = field(default_factory=list)
    entities: list[int] = field(default_factory=list)
    requests: int = 0  # storage requests the polls made (where this process makes them)
    violations: list[str] = field(default_factory=list)
    completed: int = 0  # the last poll's

    def check(self, counts: Mapping[str, int], seconds: float, entities: int = 0) -> None:
        number = len(self.seconds) + 1
        self.seconds.append(seconds)
        self.entities.append(entities)
        shown = {status: int(counts.get(status, 0)) for status in STATUSES}
        if sum(shown.values()) != self.total:
            self.violations.append(f"poll {number}: counts add up to {sum(shown.values())}, "
                                   f"not {self.total}: {shown}")  # fmt: skip
        negative = [status for status, n in shown.items() if n < 0]
        if negative:
            self.violations.append(f"poll {number}: negative {negative}: {shown}")
        if shown["completed"] < self.completed:
            self.violations.append(f"poll {number}: completed went back from {self.completed} "
                                   f"to {shown['completed']}")  # fmt: skip
        self.completed = max(self.completed, shown["completed"])

    def finish(self, counts: Mapping[str, int]) -> None:
        """The last counts, once the run has ended: all completed."""
        if int(counts.get("completed", 0)) != self.total:
            self.violations.append(f"at the end: completed {counts.get('completed')} of "
                                   f"{self.total}: {dict(counts)}")  # fmt: skip

    @property
    def count(self) -> int:
        return len(self.seconds)

    @property
    def median_seconds(self) -> float:
        return median(self.seconds)

    @property
    def median_entities(self) -> float:
        return median([float(n) for n in self.entities])

    def summary(self) -> str:
        verdict = "no violation" if not self.violations else f"{len(self.violations)} VIOLATIONS"
        return f"{self.count} polls, {verdict}"


Query = Callable[[], tuple[Counter[str], int, int]]  # counts by status, entities, requests


class Poller:
    """Runs ``query`` every ``interval`` seconds in a thread until stopped, checking each
    answer: the seed design's status poll, beside the driver that runs its jobs."""

    def __init__(self, query: Query, total: int, interval: float) -> None:
        self.query = query
        self.interval = interval
        self.polls = Polls(total)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="seed-poller", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                counts, entities, requests = self.query()
            except Exception as error:  # reported by the caller; the run goes on
                self.error = error
                return
            self.polls.check(counts, time.perf_counter() - started, entities)
            self.polls.requests += requests
            self._stop.wait(self.interval)
