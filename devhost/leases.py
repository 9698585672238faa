"""Blob leases: how the host keeps a timer's listener singleton across instances.

From Azure/azure-webjobs-sdk:

* ``src/Microsoft.Azure.WebJobs.Host/Singleton/SingletonManager.cs``: a held lock is renewed
  when half its period has passed; after a failed renewal the next one comes sooner
  (``LinearSpeedupStrategy``: the interval halves, down to 1 s) and a success restores it.
* ``src/Microsoft.Azure.WebJobs.Host.Storage/Singleton/BlobLeaseDistributedLockManager.cs``
  (``SingletonLockHandle.RenewAsync``): a 5xx answer is a failed renewal, logged as a warning;
  any other error (the lease was lost or broken) is rethrown, which the host treats as an
  unhandled exception: it shuts down.
* ``src/Microsoft.Azure.WebJobs.Host/Singleton/SingletonOptions.cs``: the listener lock lasts
  60 s (host.json ``singleton.listenerLockPeriod``, 15-60 s).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobClient, BlobLeaseClient, BlobServiceClient

from devhost import logs

HOSTS_CONTAINER = "azure-webjobs-hosts"
MIN_RENEWAL = 1.0


class LinearSpeedup:
    """``LinearSpeedupStrategy``: normal after a success, the last interval / 2 (not under the
    minimum) after a failure."""

    def __init__(self, normal: float, minimum: float) -> None:
        self.normal = normal
        self.minimum = minimum
        self.current = normal

    def next_delay(self, succeeded: bool) -> float:
        self.current = self.normal if succeeded else max(self.current / 2, self.minimum)
        return self.current


class BlobLease:
    def __init__(self, service: BlobServiceClient, blob_name: str, duration: float = 60) -> None:
        self.blob: BlobClient = service.get_blob_client(HOSTS_CONTAINER, blob_name)
        self.container = service.get_container_client(HOSTS_CONTAINER)
        self.name = blob_name
        self.duration = duration
        self._lease: BlobLeaseClient | None = None

    async def _ensure_blob(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.container.create_container()
        with contextlib.suppress(ResourceExistsError, HttpResponseError):
            await self.blob.upload_blob(b"", overwrite=False)

    async def try_acquire(self) -> bool:
        """True when we now hold the lease; False when another instance does."""
        for _ in range(2):
            try:
                self._lease = await self.blob.acquire_lease(lease_duration=int(self.duration))
                return True
            except ResourceNotFoundError:
                await self._ensure_blob()
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return False
                raise
        return False

    async def renew(self) -> None:
        """Raises what the storage service answered when the renewal fails."""
        assert self._lease is not None
        await self._lease.renew()

    async def keep(self, fatal: Callable[[BaseException], None]) -> None:
        """Renew until cancelled; a lost lease is fatal to the host."""
        speedup = LinearSpeedup(self.duration / 2, MIN_RENEWAL)
        delay = speedup.normal
        while True:
            await asyncio.sleep(delay)
            try:
                await self.renew()
                delay = speedup.next_delay(True)
            except HttpResponseError as exc:
                status = exc.status_code or 0
                error_code = getattr(exc, "error_code", None)
                code = f"{status}: {error_code}" if error_code else str(status)
                if 500 <= status < 600:
                    logs.HOST.warning(
                        "Singleton lock renewal failed for blob '%s' with error code %s.",
                        self.name, code,
                    )  # fmt: skip
                    delay = speedup.next_delay(False)
                    continue
                logs.HOST.error(
                    "Singleton lock renewal failed for blob '%s' with error code %s. The lease "
                    "period was %d milliseconds.", self.name, code, int(self.duration * 1000),
                )  # fmt: skip
                self._lease = None
                fatal(exc)
                return
            except Exception as exc:
                self._lease = None
                fatal(exc)
                return

    async def release(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(HttpResponseError):
                await self._lease.release()
            self._lease = None
