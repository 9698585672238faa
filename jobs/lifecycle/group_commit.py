"""Group commit: concurrent callers that each have one entry to write under the same key (a
task's partition) hand it over, and one of them writes every entry waiting in one call.

Per key, one call runs at a time; entries that arrive meanwhile gather for the next. The caller
that opens a group leads it: it waits until the key's running call has ended, and then a few
milliseconds at most for the rest of the callers working on that key (``expected``) to join,
then runs the group. The others wait for it. Everyone gets their own entry's result, or the
group's error. A group is closed at ``limit`` entries or ``budget`` units of ``size``, so it
always fits one transaction."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

E = TypeVar("E")
R = TypeVar("R")


@dataclass
class _Group(Generic[E, R]):
    entries: list[E] = field(default_factory=list)
    size: int = 0
    results: Sequence[R] = ()
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class GroupCommit(Generic[E, R]):
    def __init__(
        self,
        commit: Callable[[str, list[E]], Sequence[R]],
        *,
        wait: float,
        limit: int,
        size: Callable[[E], int] = lambda entry: 0,
        budget: int = 0,
        expected: Callable[[str], int] = lambda key: 1,
    ) -> None:
        """``commit(key, entries)`` writes a group and returns one result per entry, in order.
        ``expected(key)``: how many callers are working on ``key`` now, so a leader knows
        whom it may wait for; at most ``wait`` seconds."""
        self._commit = commit
        self._wait = wait
        self._limit = limit
        self._size = size
        self._budget = budget
        self._expected = expected
        self._cond = threading.Condition()
        self._gathering: dict[str, _Group[E, R]] = {}
        self._running: set[str] = set()
        self._waiting: Counter[str] = Counter()  # callers in groups not yet running
        self._leading = threading.local()  # the key this thread's running call is for

    def __call__(self, key: str, entry: E) -> R:
        """Write ``entry`` with whatever else is waiting for ``key``; its result."""
        if getattr(self._leading, "key", None) == key:
            return self._commit(key, [entry])[0]  # from inside a call for the key: no waiting
        size = self._size(entry)
        with self._cond:
            group = self._gathering.get(key)
            lead = group is None or not self._fits(group, size)
            if group is None or lead:
                group = _Group()
                self._gathering[key] = group
            position = len(group.entries)
            group.entries.append(entry)
            group.size += size
            self._waiting[key] += 1
            self._cond.notify_all()  # a leader may be waiting for this caller
        if lead:
            self._lead(key, group)
        else:
            group.done.wait()
        if group.error is not None:
            raise group.error
        return group.results[position]

    def waiting(self, key: str) -> int:
        """How many callers for ``key`` wait in groups that are not being written yet."""
        with self._cond:
            return self._waiting[key]

    def _fits(self, group: _Group[E, R], size: int) -> bool:
        if len(group.entries) >= self._limit:
            return False
        return not self._budget or group.size + size <= self._budget

    def _lead(self, key: str, group: _Group[E, R]) -> None:
        deadline = time.monotonic() + self._wait
        with self._cond:
            while True:
                remaining = deadline - time.monotonic()
                if key in self._running:
                    self._cond.wait()  # the call before ours: everyone joining meanwhile comes too
                    continue
                complete = len(group.entries) >= min(self._limit, self._expected(key))
                if complete or remaining <= 0 or self._gathering.get(key) is not group:
                    break  # everyone is here, the wait is over, or the group is full
                self._cond.wait(remaining)
            if self._gathering.get(key) is group:
                del self._gathering[key]
            self._running.add(key)
            self._waiting[key] -= len(group.entries)
            if self._waiting[key] <= 0:
                del self._waiting[key]
        self._leading.key = key
        try:
            group.results = self._commit(key, group.entries)
        except BaseException as error:  # each member raises it: the host retries their messages
            group.error = error
        finally:
            self._leading.key = None
            with self._cond:
                self._running.discard(key)
                self._cond.notify_all()
            group.done.set()
