"""What kinds read and write in blob storage: inputs, only where the input policy allows and
never over its size limit, in chunks; outputs, in chunks, with a short-lived read-only link.

Memory: a streamed read or write holds a few chunks (jobs.storage.contracts.CHUNK_BYTES) whatever
the blob's size. A kind that needs a whole input in memory takes one of WHOLE_INPUTS places
first (``whole_input_place``), so at most that many inputs are held whole in a process."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from jobs.core.errors import JobsError, PermanentJobError
from jobs.core.resources import OUTPUTS_CONTAINER
from jobs.core.settings import MAX_INPUT_BYTES
from jobs.kinds.inputs import InputPolicy
from jobs.storage import BlobStore

# Whole inputs held in memory at once in one process, and how long a job waits for a place.
WHOLE_INPUTS = 2
WHOLE_INPUT_WAIT = timedelta(minutes=5)


class InputMissing(PermanentJobError):
    """The input blob does not exist."""


class InputTooLarge(PermanentJobError):
    """The input blob is over the size limit."""


class NoPlaceForWholeInput(JobsError):
    """Every place for a whole input stayed taken while this job waited: worth a retry."""


class Files:
    def __init__(
        self,
        store: BlobStore,
        policy: InputPolicy,
        link_lifetime: timedelta,
        whole_inputs: int = WHOLE_INPUTS,
    ):
        self._store = store
        self.policy = policy
        self.link_lifetime = link_lifetime
        self._whole = threading.BoundedSemaphore(whole_inputs)

    def input_size(self, container: str, name: str) -> int:
        """The input's size, once the policy allows reading it and it is within the limit;
        InputRefused, InputMissing or InputTooLarge (all permanent) otherwise."""
        self.policy.check(container, name)
        size = self._store.size(container, name)
        if size is None:
            raise InputMissing(f"blob {container}/{name} does not exist")
        if size > self.policy.max_bytes:
            raise InputTooLarge(self._too_large(container, name, f"is {size} bytes"))
        return size

    def read_input(self, container: str, name: str) -> Iterator[bytes]:
        """The input's bytes in chunks. Everything ``input_size`` checks is checked now, before
        anything is read; the chunks are fetched as they are consumed."""
        self.input_size(container, name)
        return self._chunks(container, name)

    @contextmanager
    def whole_input_place(self) -> Iterator[None]:
        """Hold one of the process's few places for a whole input while in the block."""
        if not self._whole.acquire(timeout=WHOLE_INPUT_WAIT.total_seconds()):
            raise NoPlaceForWholeInput(
                f"no place for a whole input within {WHOLE_INPUT_WAIT}; try again later"
            )
        try:
            yield
        finally:
            self._whole.release()

    def put_output(self, name: str, chunks: Iterable[bytes], content_type: str) -> str:
        """Store a kind's output in the outputs container from ``chunks``; returns a link that
        reads this one blob until ``link_lifetime`` has passed."""
        self._store.put_stream(OUTPUTS_CONTAINER, name, chunks, content_type=content_type)
        return self._store.link(OUTPUTS_CONTAINER, name, self.link_lifetime)

    def _chunks(self, container: str, name: str) -> Iterator[bytes]:
        chunks = self._store.read(container, name)
        if chunks is None:
            raise InputMissing(f"blob {container}/{name} does not exist")
        total = 0
        for chunk in chunks:
            total += len(chunk)
            if total > self.policy.max_bytes:  # replaced by a larger blob since it was measured
                raise InputTooLarge(self._too_large(container, name, "grew while it was read"))
            yield chunk

    def _too_large(self, container: str, name: str, what: str) -> str:
        limit = f"{self.policy.max_bytes} bytes ({MAX_INPUT_BYTES})"
        return f"blob {container}/{name} {what}; inputs are limited to {limit}"
