"""Blob storage: submitted batches, values too large for a table property, kinds' outputs,
and short-lived download links that work with an account key (Azurite) or an identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)

from jobs.resources import OUTPUTS_CONTAINER, PAYLOADS_CONTAINER

LINK_LIFETIME = timedelta(hours=1)


class Blobs:
    def __init__(self, service: BlobServiceClient):
        self.service = service

    def put_payload(self, path: str, data: bytes) -> None:
        self.service.get_blob_client(PAYLOADS_CONTAINER, path).upload_blob(data, overwrite=True)

    def get_payload(self, path: str) -> bytes:
        return self.service.get_blob_client(PAYLOADS_CONTAINER, path).download_blob().readall()

    def read_text(self, container: str, name: str) -> str | None:
        """A blob's text, or None when it does not exist."""
        try:
            data = self.service.get_blob_client(container, name).download_blob().readall()
        except ResourceNotFoundError:
            return None
        return data.decode("utf-8", errors="replace")

    def put_output(self, name: str, data: bytes, content_type: str) -> str:
        """Store a kind's output in the outputs container; returns a download link."""
        blob = self.service.get_blob_client(OUTPUTS_CONTAINER, name)
        blob.upload_blob(
            data, overwrite=True, content_settings=ContentSettings(content_type=content_type)
        )
        return self.download_link(OUTPUTS_CONTAINER, name)

    def download_link(self, container: str, name: str) -> str:
        """A read-only SAS URL valid for LINK_LIFETIME: signed with the account key where the
        connection has one, else with a user delegation key obtained through the identity."""
        now = datetime.now(UTC)
        start, expiry = now - timedelta(minutes=5), now + LINK_LIFETIME
        credential = self.service.credential
        account_key: str | None = getattr(credential, "account_key", None)
        delegation_key: UserDelegationKey | None = None
        if account_key is None:
            delegation_key = self.service.get_user_delegation_key(start, expiry)
        token = generate_blob_sas(
            account_name=str(self.service.account_name),
            container_name=container,
            blob_name=name,
            account_key=account_key,
            user_delegation_key=delegation_key,
            permission=BlobSasPermissions(read=True),
            start=start,
            expiry=expiry,
        )
        return f"{self.service.get_blob_client(container, name).url}?{token}"
