"""The counter shards a process keeps between its writes of one task's moves: each write's
ETags guard the next, so a shard another process moved fails the write and is read again."""

from __future__ import annotations

import threading
from collections import OrderedDict

from jobs.storage.jobs_table import Shard


class ShardCache:
    """The counter shards of the tasks this process moved last, as it wrote them."""

    def __init__(self, tasks: int = 256) -> None:
        self._tasks = tasks
        self._shards: OrderedDict[str, dict[int, Shard]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str) -> dict[int, Shard] | None:
        with self._lock:
            shards = self._shards.get(task_id)
            return None if shards is None else dict(shards)

    def put(self, task_id: str, shards: dict[int, Shard]) -> None:
        with self._lock:
            self._shards[task_id] = shards
            self._shards.move_to_end(task_id)
            while len(self._shards) > self._tasks:
                self._shards.popitem(last=False)

    def forget(self, task_id: str) -> None:
        with self._lock:
            self._shards.pop(task_id, None)
