"""Blob leases: how the host keeps a timer's listener singleton across instances."""

from __future__ import annotations

import contextlib

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobClient, BlobLeaseClient, BlobServiceClient

HOSTS_CONTAINER = "azure-webjobs-hosts"


class BlobLease:
    def __init__(self, service: BlobServiceClient, blob_name: str, duration: int = 60) -> None:
        self.blob: BlobClient = service.get_blob_client(HOSTS_CONTAINER, blob_name)
        self.container = service.get_container_client(HOSTS_CONTAINER)
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
                self._lease = await self.blob.acquire_lease(lease_duration=self.duration)
                return True
            except ResourceNotFoundError:
                await self._ensure_blob()
            except HttpResponseError as exc:
                if exc.status_code == 409:
                    return False
                raise
        return False

    async def renew(self) -> bool:
        if self._lease is None:
            return False
        try:
            await self._lease.renew()
        except HttpResponseError:
            self._lease = None
            return False
        return True

    async def release(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(HttpResponseError):
                await self._lease.release()
            self._lease = None
