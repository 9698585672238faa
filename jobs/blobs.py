"""What kinds read and write in blob storage: input text, outputs, and short-lived read-only
links to them."""

from __future__ import annotations

from datetime import timedelta

from jobs.resources import OUTPUTS_CONTAINER
from jobs.storage import BlobStore

LINK_LIFETIME = timedelta(hours=1)


class Blobs:
    def __init__(self, store: BlobStore):
        self.store = store

    def read_text(self, container: str, name: str) -> str | None:
        """A blob's text, or None when it does not exist."""
        data = self.store.get(container, name)
        return None if data is None else data.decode("utf-8", errors="replace")

    def put_output(self, name: str, data: bytes, content_type: str) -> str:
        """Store a kind's output in the outputs container; returns a download link."""
        self.store.put(OUTPUTS_CONTAINER, name, data, content_type=content_type)
        return self.store.link(OUTPUTS_CONTAINER, name, LINK_LIFETIME)
