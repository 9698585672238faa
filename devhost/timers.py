"""Timer triggers: the timer extension's TimerListener behind the host's singleton lock.

From Azure/azure-webjobs-sdk-extensions ``src/WebJobs.Extensions/Extensions/Timers/
Listener/TimerListener.cs``:

* At start, with the monitor on, the recorded status is read and checked (see
  devhost/schedule_monitor.py); without a status the in-memory one starts with ``Last`` and
  ``LastUpdated`` at 0001-01-01. A past-due timer runs once at once (``past_due`` true);
  otherwise ``run_on_startup`` runs once at once; otherwise the first run waits for Next.
* A run's time is taken when it starts. Afterwards the status becomes Last = that time (or
  the scheduled Next, if the run began early), Next = the schedule's next occurrence after
  Last, LastUpdated = Last, and is written when the monitor is on. The wait for the next run
  is Next minus the time now, so a run that overran its interval is followed at once by one
  catch-up run. Runs never overlap; a failed run is logged, not retried.
* The function receives ``TimerInfo``: ``Schedule``, ``ScheduleStatus`` (the status before
  this run, or null with the monitor off, so ``schedule_status`` is empty) and ``IsPastDue``.

The listener runs only while this instance holds ``locks/{hostId}/Host.Functions.<name>.Listener``
(Azure/azure-webjobs-sdk ``src/Microsoft.Azure.WebJobs.Host/Singleton/SingletonListener.cs``):
an instance that does not get it tries again every ``listenerLockRecoveryPollingInterval``
(1 min); losing it stops the host (devhost/leases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devhost import logs
from devhost.config import SingletonOptions
from devhost.connections import resolve_connection
from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, WorkerLost
from devhost.leases import BlobLease
from devhost.listening import Backoff, ListenerLoop, finish
from devhost.queue_processor import Fatal
from devhost.schedule_monitor import DEFAULT, ScheduleMonitor, ScheduleStatus


def host_id(environ: Mapping[str, str], app_dir: Path) -> str:
    """The setting when given, else stable for this machine and app folder (shared by every
    devhost process of the same app, as instances of one Function App share theirs)."""
    configured = environ.get("AzureFunctionsWebHost__hostid")
    if configured:
        return configured.lower()
    seed = f"{socket.gethostname()}|{app_dir.resolve()}".encode()
    name = re.sub(r"[^a-z0-9-]", "", socket.gethostname().lower())[:15].strip("-")
    return f"{name}-{hashlib.sha256(seed).hexdigest()}"[:32].strip("-")


def time_zone(environ: Mapping[str, str]) -> tzinfo:
    name = environ.get("WEBSITE_TIME_ZONE")
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logs.HOST.warning("WEBSITE_TIME_ZONE %r is not a known zone: using UTC", name)
        return UTC


class TimerListener(ListenerLoop):
    def __init__(
        self,
        spec: FunctionSpec,
        invoker: Invoker,
        lease: BlobLease,
        monitor: ScheduleMonitor,
        options: SingletonOptions,
        fatal: Fatal,
    ) -> None:
        super().__init__(spec, fatal)
        assert spec.schedule is not None
        self.invoker = invoker
        self.lease = lease
        self.monitor = monitor if spec.schedule.use_monitor else None
        self.schedule = spec.schedule.schedule
        self.zone = monitor.zone
        self.options = options
        self.timer_name = f"Host.Functions.{spec.name}"
        self.run_on_startup = bool(spec.properties.get("runOnStartup"))
        self.status = ScheduleStatus(DEFAULT, DEFAULT, DEFAULT)

    def _now(self) -> datetime:
        return datetime.now(self.zone)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), max(0.0, seconds))

    async def _run(self) -> None:
        retry = Backoff(maximum=120.0, minimum=2.0)
        while not self._stopping.is_set():
            acquired = past_due = False
            try:
                acquired = await self.lease.try_acquire()
                if acquired:
                    past_due = await self._begin()
            except Exception as exc:
                logs.HOST.error(
                    "The listener for function 'Functions.%s' was unable to start: %s",
                    self.spec.name, exc,
                )  # fmt: skip
                await self.lease.release()
                await self._pause(retry.next_delay(False))
                continue
            if not acquired:
                await self._pause(self.options.listener_lock_recovery_polling_interval)
                continue
            keeper = asyncio.create_task(self.lease.keep(self.fatal))
            try:
                await self._schedule(past_due)
            finally:
                await finish(keeper, cancel=True)
            return

    async def _begin(self) -> bool:
        now = self._now()
        status, past_due = None, False
        if self.monitor is not None:
            status = await self.monitor.get_status(self.timer_name)
            overdue, status = await self.monitor.check_past_due(
                self.timer_name, now, self.schedule, status
            )
            past_due = overdue.total_seconds() > 0
        self.status = status or ScheduleStatus(
            DEFAULT, self.schedule.next_after(now, self.zone), DEFAULT
        )
        upcoming, moment = [], now
        for _ in range(5):
            moment = self.schedule.next_after(moment, self.zone)
            upcoming.append(moment.isoformat())
        logs.HOST.info(
            "The next 5 occurrences of the 'Functions.%s' schedule will be:\n%s",
            self.spec.name, "\n".join(upcoming),
        )  # fmt: skip
        if past_due:
            logs.HOST.info("Timer is past due for 'Functions.%s'", self.spec.name)
        return past_due

    async def _schedule(self, past_due: bool) -> None:
        if past_due:
            await self._invoke(self._now(), past_due=True)
        elif self.run_on_startup:
            await self._invoke(self._now(), startup=True)
        while not self._stopping.is_set():
            await self._pause((self.status.next - self._now()).total_seconds())
            if self._stopping.is_set():
                return
            await self._invoke(self._now())

    async def _invoke(
        self, started: datetime, past_due: bool = False, startup: bool = False
    ) -> None:
        info = {
            "Schedule": {"AdjustForDST": self.schedule.adjust_for_dst},
            "ScheduleStatus": self.status.as_json(self.zone) if self.monitor else None,
            "IsPastDue": past_due,
        }
        request = {
            "trigger_name": self.spec.trigger_name,
            "trigger": {"type": "json", "value": json.dumps(info)},
            "metadata": {},
        }
        reason = f"Timer fired at {started.isoformat()}"
        try:
            await self.invoker.invoke(self.spec.name, request, reason)
        except InvocationFailed:
            pass  # logged by the invoker; the schedule goes on
        except WorkerLost:
            return
        last = started
        if not past_due and not startup and self.status.next > started:
            last = self.status.next
        self.status = ScheduleStatus(last, self.schedule.next_after(last, self.zone), last)
        if self.monitor is not None:
            await self.monitor.update_status(self.timer_name, self.status)

    async def close(self) -> None:
        self._stopping.set()
        await self._end_loop(cancel=True)
        await self.lease.release()


def timer_listeners(
    specs: list[FunctionSpec],
    invoker: Invoker,
    app_dir: Path,
    settings: Mapping[str, str],
    options: SingletonOptions,
    fatal: Fatal,
) -> tuple[list[TimerListener], object]:
    """Timers use the host's storage (AzureWebJobsStorage) for their lease and status; the
    second value is the blob client to close at the end."""
    blobs = resolve_connection(None, settings, "blob").blob_service()
    hid = host_id(settings, app_dir)
    monitor = ScheduleMonitor(blobs, hid, time_zone(settings))
    listeners = [
        TimerListener(
            spec,
            invoker,
            BlobLease(
                blobs,
                f"locks/{hid}/Host.Functions.{spec.name}.Listener",
                options.listener_lock_period,
            ),
            monitor,
            options,
            fatal,
        )
        for spec in specs
    ]
    return listeners, blobs
