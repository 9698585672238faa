"""Timer triggers: NCRONTAB schedule, singleton via a blob lease, schedule monitor, catch-up.

The listener runs only while it holds ``azure-webjobs-hosts/locks/{hostId}/
Host.Functions.{name}.Listener`` (60 s lease, renewed; others retry each minute). Runs
never overlap: the next occurrence is computed after a run ends, so a late tick fires
once. With use_monitor, ``timers/{hostId}/Host.Functions.{name}/status`` keeps
Last/Next/LastUpdated, and a recorded Next already passed at start means one past-due run.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from devhost import logs
from devhost.config import ConfigError
from devhost.connections import resolve_connection
from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, WorkerLost
from devhost.leases import HOSTS_CONTAINER, BlobLease
from devhost.ncrontab import CronSchedule

LEASE_SECONDS = 60
RENEW_SECONDS = 20.0
RETRY_ACQUIRE_SECONDS = 60.0


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


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _parse(text: Any) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TimerListener:
    def __init__(
        self, spec: FunctionSpec, invoker: Invoker, hid: str, blobs: BlobServiceClient, zone: tzinfo
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.zone = zone
        self.blobs = blobs
        props = spec.properties
        try:
            self.schedule = CronSchedule.parse(str(props["schedule"]))
        except ValueError as exc:
            raise ConfigError(f"Error indexing method 'Functions.{spec.name}': {exc}") from exc
        self.run_on_startup = bool(props.get("runOnStartup"))
        use_monitor = props.get("useMonitor")
        self.use_monitor = self._default_monitor() if use_monitor is None else bool(use_monitor)
        full_name = f"Host.Functions.{spec.name}"
        self.lease = BlobLease(blobs, f"locks/{hid}/{full_name}.Listener", LEASE_SECONDS)
        self.status_blob = blobs.get_blob_client(
            HOSTS_CONTAINER, f"timers/{hid}/{full_name}/status"
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: asyncio.Task[Any] | None = None

    def _default_monitor(self) -> bool:
        """On unless the schedule fires more than once a minute."""
        now = datetime.now(UTC)
        first = self.schedule.next_after(now, self.zone)
        second = self.schedule.next_after(first, self.zone)
        return second - first >= timedelta(minutes=1)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), max(0.0, seconds))

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                acquired = await self.lease.try_acquire()
            except (AzureError, OSError) as exc:
                logs.HOST.warning("Timer %s: lease failed: %s", self.spec.name, exc)
                acquired = False
            if not acquired:
                await self._pause(RETRY_ACQUIRE_SECONDS)
                continue
            lost = asyncio.Event()
            keeper = asyncio.create_task(self._keep_lease(lost))
            try:
                await self._schedule(lost)
            except Exception as exc:  # keep the timer alive through storage hiccups
                logs.HOST.error("Timer %s: %r; retrying", self.spec.name, exc)
                await self._pause(5.0)
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
            if not lost.is_set():
                await self.lease.release()

    async def _keep_lease(self, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                renewed = await self.lease.renew()
            except (AzureError, OSError):
                renewed = False
            if not renewed:
                logs.HOST.warning("Timer %s: lost the singleton lease", self.spec.name)
                lost.set()
                return

    async def _read_status(self) -> dict[str, Any] | None:
        try:
            data = await (await self.status_blob.download_blob()).readall()
            status = json.loads(data)
        except (ResourceNotFoundError, ValueError):
            return None
        return status if isinstance(status, dict) else None

    async def _write_status(self, last: datetime | None, upcoming: datetime) -> None:
        if not self.use_monitor:
            return
        body = {
            "Last": _iso(last),
            "Next": _iso(upcoming),
            "LastUpdated": _iso(datetime.now(UTC)),
        }
        try:
            await self.status_blob.upload_blob(json.dumps(body).encode(), overwrite=True)
        except (AzureError, OSError) as exc:
            logs.HOST.warning("Timer %s: writing status failed: %s", self.spec.name, exc)

    async def _fire(self, past_due: bool, last: datetime | None, upcoming: datetime) -> None:
        payload = {
            "past_due": past_due,
            "schedule_status": {
                "Last": _iso(last),
                "Next": _iso(upcoming),
                "LastUpdated": _iso(datetime.now(UTC)),
            },
            "schedule": {"AdjustForDST": True},
        }
        reason = f"Timer fired at {datetime.now(UTC).isoformat()}"
        self._running = asyncio.ensure_future(
            self.invoker.invoke(self.spec.name, "timer", payload, reason)
        )
        with contextlib.suppress(InvocationFailed, WorkerLost):
            await asyncio.shield(self._running)

    async def _schedule(self, lost: asyncio.Event) -> None:
        status = await self._read_status() if self.use_monitor else None
        now = datetime.now(UTC)
        recorded_next = _parse(status.get("Next")) if status else None
        last = _parse(status.get("Last")) if status else None
        past_due = recorded_next is not None and recorded_next < now
        upcoming = self.schedule.next_after(now, self.zone)
        if past_due or self.run_on_startup:
            await self._fire(past_due, last, upcoming)
            if past_due:
                last = recorded_next
            upcoming = self.schedule.next_after(datetime.now(UTC), self.zone)
        await self._write_status(last, upcoming)
        while not self._stopping.is_set() and not lost.is_set():
            delay = (upcoming - datetime.now(UTC)).total_seconds()
            await self._pause_or_lost(delay, lost)
            if self._stopping.is_set() or lost.is_set():
                return
            await self._fire(False, last, upcoming)
            last = upcoming
            upcoming = self.schedule.next_after(datetime.now(UTC), self.zone)
            await self._write_status(last, upcoming)

    async def _pause_or_lost(self, seconds: float, lost: asyncio.Event) -> None:
        waiters = {asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(lost.wait())}
        await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    def stop_receiving(self) -> None:
        self._stopping.set()

    async def wait_idle(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lease.release()
        with contextlib.suppress(Exception):
            await self.blobs.close()


def timer_listeners(
    specs: list[FunctionSpec], invoker: Invoker, app_dir: Path, environ: Mapping[str, str]
) -> list[TimerListener]:
    """Timers need AzureWebJobsStorage for their lease and status, as in the real host."""
    connection = resolve_connection(None, environ)
    blobs = connection.blob_service()
    hid = host_id(environ, app_dir)
    zone = time_zone(environ)
    return [TimerListener(spec, invoker, hid, blobs, zone) for spec in specs]
