"""A kind's limits across every instance, kept in the jobs table (partition ``limit-<kind>``,
jobs.storage.keys), and the rows mapped here:

- **Concurrency**: ``slot-000`` ... one row per place a job of the kind may run in, each a
  lease: ``Holder`` (who runs there, "" when free), ``Expires`` (when the lease lapses unless
  renewed) and ``Job`` (which job, for whoever reads the table). A job takes a free or lapsed
  slot with an ETag-guarded write (a create for a slot never used), so of two workers taking
  the last slot exactly one wins; the other reads again and finds none. The holder renews the
  lease while its job runs and clears it at the end; a host that dies leaves a lease that
  lapses within ``LEASE``, and the slot is taken over.
- **Rate**: ``rate-0`` ... ``rate-4``, each counting a share of the rate (rate 20: 4 each):
  ``Second`` (the UNIX second it counts, as text) and ``Count`` (starts counted in it). A start
  picks a share at random, reads it and writes it back counted, guarded by its ETag; a row of
  an earlier second starts over at 1; a full share sends it to another. One row would take
  only as many counts a second as read-write round trips fit in it, one after the other; five
  take five times as many, and the shares still add up to the rate exactly. A full share is
  remembered in the process until its second has passed, so jobs held back meanwhile cost no
  read.

Times come from each instance's own clock: skew between instances shifts a lease's end and a
second's edges by that much."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from jobs.core import logs
from jobs.core.clock import stamp
from jobs.storage import ConcurrentUpdate, Entity, EntityExists, EntityMissing
from jobs.storage.contracts import Rows, TableStore, Write
from jobs.storage.keys import SLOT_PREFIX, SLOTS_END, limit_partition, rate_key, slot_key

LEASE = 60.0  # seconds a slot stays taken without a renewal
RENEW_EVERY = 20.0  # seconds between renewals: two may fail before the lease lapses
MAX_RACES = 8  # guarded writes tried before a claim or a count gives up (and holds back)
MAX_LOGGED_ERROR = 300
RATE_SHARDS = 5  # rows a kind's rate is counted in (fewer for a rate below it)

Clock = Callable[[], float]  # seconds since the epoch


@dataclass
class Lease:
    """A slot this process holds; ``etag`` is the row as its last write left it."""

    kind: str
    slot: int
    holder: str
    etag: str


class Limits:
    def __init__(self, store: TableStore, clock: Clock = time.time):
        self.store = store
        self.clock = clock
        self._full: dict[tuple[str, int], int] = {}  # (kind, share): a second it was seen full
        self._lock = threading.Lock()

    # -- concurrency ----------------------------------------------------------------------

    def slots(self, kind: str) -> dict[int, Entity]:
        """The kind's slot rows by number (one query); a slot never used has no row."""
        rows = self.store.query(limit_partition(kind), Rows(start=SLOT_PREFIX, end=SLOTS_END))
        return {int(row.row.removeprefix(SLOT_PREFIX)): row for row in rows}

    def claim(self, kind: str, concurrency: int, holder: str, job: str) -> Lease | None:
        """Take one of the kind's first ``concurrency`` slots that is free or lapsed; None when
        every one is held (or every try lost its race)."""
        partition = limit_partition(kind)
        tries = 0
        while tries < MAX_RACES:
            now = self.clock()
            rows = self.slots(kind)
            free = [n for n in range(concurrency) if _free(rows.get(n), now)]
            if not free:
                return None
            random.shuffle(free)  # workers claiming at once spread over the free slots
            for number in free:
                tries += 1
                row, key = rows.get(number), slot_key(number)
                props = {"Holder": holder, "Expires": _at(now + LEASE), "Job": job}
                write = (
                    Write("create", key, props)
                    if row is None
                    else Write("merge", key, props, row.etag)
                )
                try:
                    etag = self.store.transact(partition, [write])[0]
                except (ConcurrentUpdate, EntityExists):
                    if tries >= MAX_RACES:
                        return None
                    continue  # taken meanwhile: the next free one, then read again
                return Lease(kind, number, holder, etag)
        return None

    def renew(self, lease: Lease) -> bool:
        """Push the lease's end out by ``LEASE``; False when the slot is no longer ours (it
        lapsed and was taken over)."""
        props = {"Expires": _at(self.clock() + LEASE)}
        try:
            write = Write("merge", slot_key(lease.slot), props, lease.etag)
            lease.etag = self.store.transact(limit_partition(lease.kind), [write])[0]
        except (ConcurrentUpdate, EntityMissing):
            return False
        return True

    def release(self, lease: Lease) -> None:
        """Free the slot, unless it is no longer ours."""
        write = Write("merge", slot_key(lease.slot), {"Holder": "", "Expires": ""}, lease.etag)
        with contextlib.suppress(ConcurrentUpdate, EntityMissing):
            self.store.transact(limit_partition(lease.kind), [write])

    # -- rate -----------------------------------------------------------------------------

    def count_start(self, kind: str, rate: int) -> float | None:
        """Count a start of ``kind`` in this second; None when counted, else the seconds until
        the next second (every share is full, or every try lost its race)."""
        partition = limit_partition(kind)
        now = self.clock()
        second = int(now)
        shares = list(range(min(RATE_SHARDS, rate)))
        random.shuffle(shares)
        races = 0
        for share in shares:
            capacity = rate // len(shares) + (share < rate % len(shares))
            while races < MAX_RACES:
                with self._lock:
                    if self._full.get((kind, share)) == second:
                        break
                row = self.store.get(partition, rate_key(share))
                counted, count = _counted(row)
                if counted < second:  # an earlier second's: this one starts over
                    counted, count = second, 0
                # A later second (another instance's clock is ahead, or ours moved on since)
                # is taken as this one: a row never goes back to an earlier second.
                if count >= capacity:
                    with self._lock:
                        self._full[(kind, share)] = second
                    break
                props = {"Second": str(counted), "Count": count + 1}
                write = (
                    Write("create", rate_key(share), props)
                    if row is None
                    else Write("merge", rate_key(share), props, row.etag)
                )
                try:
                    self.store.transact(partition, [write])
                except (ConcurrentUpdate, EntityExists):
                    races += 1
                    continue
                return None
        return second + 1 - now


class Renewal:
    """Keeps a lease alive while its job runs: renews it every ``RENEW_EVERY`` seconds on a
    thread of its own, and releases it when the job is over, however it ended."""

    def __init__(self, limits: Limits, lease: Lease, every: float = RENEW_EVERY):
        self._limits = limits
        self._lease = lease
        self._every = every
        self._over = threading.Event()
        self._lock = threading.Lock()  # a renewal and the release never write at once
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{lease.kind}-{lease.slot}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while not self._over.wait(self._every):
            with self._lock:
                if self._over.is_set():
                    return
                try:
                    kept = self._limits.renew(self._lease)
                except Exception as error:  # storage away: the next renewal may get through
                    logs.event(
                        "limit_renewal_failed", logging.WARNING, kind=self._lease.kind,
                        error=_said(error),
                    )  # fmt: skip
                    continue
            if not kept:
                logs.event("limit_lease_lost", logging.WARNING, kind=self._lease.kind,
                           slot=self._lease.slot)  # fmt: skip
                return

    def release(self) -> None:
        """A release that fails leaves the lease to lapse: the slot is free within LEASE."""
        self._over.set()
        with self._lock:
            try:
                self._limits.release(self._lease)
            except Exception as error:
                logs.event(
                    "limit_release_failed", logging.WARNING, kind=self._lease.kind,
                    error=_said(error),
                )  # fmt: skip


def _counted(row: Entity | None) -> tuple[int, int]:
    """The second a share's row counts and its count (-1, 0 for none)."""
    if row is None:
        return -1, 0
    return int(row.props.get("Second") or -1), int(row.props.get("Count") or 0)


def _said(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_LOGGED_ERROR]


def _free(row: Entity | None, now: float) -> bool:
    if row is None or not row.props.get("Holder"):
        return True
    return str(row.props.get("Expires") or "") <= _at(now)


def _at(moment: float) -> str:
    return stamp(datetime.fromtimestamp(moment, UTC))
