"""What one storage request is, in the terms Azure counts and limits: its service and kind
(a table query, a ``$batch``, a queue receive, a message delete, ...) and, for tables, the
entity operations it makes on which partition (each entity written, or read by a get or a
query, is one; a ``$batch`` of n operations is n). A ``Tally`` adds requests up; two
snapshots subtract into what happened between them."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SERVICES = ("blob", "queue", "table")
ENTITY_KEY = re.compile(r"\(PartitionKey='((?:[^']|'')*)',\s*RowKey='")
FILTER_PARTITION = re.compile(r"PartitionKey eq '((?:[^']|'')*)'")
BODY_PARTITION = re.compile(r'"PartitionKey"\s*:\s*"([^"]*)"')
BATCH_OPERATION = re.compile(rb"^(?:GET|POST|PUT|PATCH|MERGE|DELETE) (\S+) HTTP/1\.1\r?$", re.M)
QUEUE_MESSAGE = b"<QueueMessage>"
ANY_PARTITION = "*"  # a query or write whose partition the request does not name


@dataclass(frozen=True)
class Request:
    """A request as the proxy saw it; ``kind`` says what it is within its service."""

    service: str
    method: str
    target: str  # path and query, as sent
    body: bytes = b""

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path)

    @property
    def params(self) -> dict[str, str]:
        query = parse_qs(urlsplit(self.target).query, keep_blank_values=True)
        return {name.lower(): values[0] for name, values in query.items()}

    @property
    def kind(self) -> str:
        if self.service == "table":
            return _table_kind(self.method, self.path)
        if self.service == "queue":
            return _queue_kind(self.method, self.path, self.params)
        comp = self.params.get("comp", "blob")
        return f"{self.method} {comp}"


def _table_kind(method: str, path: str) -> str:
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    if tail == "$batch":
        return "batch"
    if tail.startswith("Tables"):
        return f"{method} Tables"
    keyed = ENTITY_KEY.search(path) is not None
    if method == "GET":
        return "get entity" if keyed else "query"
    if method == "POST":
        return "insert entity"
    if method == "DELETE":
        return "delete entity"
    return "merge entity" if method in ("PATCH", "MERGE") else "update entity"


def _queue_kind(method: str, path: str, params: dict[str, str]) -> str:
    parts = [part for part in path.split("/") if part]
    if "messages" in parts:
        by_id = parts[-1] != "messages"
        if method == "GET":
            return "peek" if params.get("peekonly") == "true" else "receive"
        if method == "POST":
            return "put message"
        if method == "DELETE":
            return "delete message" if by_id else "clear messages"
        if method == "PUT":
            return "update message"
    comp = params.get("comp")
    return f"{method} {comp}" if comp else f"{method} queue"


def entity_operations(request: Request, status: int, answer: bytes) -> tuple[str, int] | None:
    """The partition a table request works on and how many entity operations it makes there;
    None for requests on no entity (tables' own, failures before storage looked)."""
    if request.service != "table" or status >= 500:
        return None
    kind = request.kind
    if kind == "batch":
        operations = BATCH_OPERATION.findall(request.body)
        partition = _batch_partition(request.body, operations)
        return (partition, len(operations)) if operations else None
    if kind.endswith("Tables"):
        return None
    if kind == "query":
        found = FILTER_PARTITION.search(request.params.get("$filter", ""))
        partition = found.group(1).replace("''", "'") if found else ANY_PARTITION
        # A query that finds nothing still reads the partition: counted as one operation.
        return partition, max(1, _rows_in(answer))
    keyed = ENTITY_KEY.search(request.path)
    if keyed:
        return keyed.group(1).replace("''", "'"), 1
    named = BODY_PARTITION.search(request.body.decode("utf-8", "replace"))
    return (named.group(1) if named else ANY_PARTITION), 1


def _batch_partition(body: bytes, operations: list[bytes]) -> str:
    for url in operations:
        keyed = ENTITY_KEY.search(unquote(url.decode("utf-8", "replace")))
        if keyed:
            return keyed.group(1).replace("''", "'")
    named = BODY_PARTITION.search(body.decode("utf-8", "replace"))
    return named.group(1) if named else ANY_PARTITION


def _rows_in(answer: bytes) -> int:
    try:
        value = json.loads(answer).get("value", [])
    except (ValueError, AttributeError):
        return 0
    return len(value) if isinstance(value, list) else 0


@dataclass(frozen=True)
class Counts:
    """Requests by ``"<service> <kind>"``, entity operations by table partition, and the
    messages the receives brought back. Subtract two to get what happened in between."""

    requests: dict[str, int] = field(default_factory=dict)
    entities: dict[str, int] = field(default_factory=dict)
    received: int = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(_minus(self.requests, other.requests),
                      _minus(self.entities, other.entities),
                      self.received - other.received)  # fmt: skip

    def per_job(self, jobs: int, less: Counts | None = None, times: float = 0.0) -> PerJob:
        """These counts over ``jobs`` jobs, ``times`` x ``less`` (the status polls made
        meanwhile, say) taken out first."""
        less = less or Counts()

        def rate(mine: dict[str, int], theirs: dict[str, int]) -> dict[str, float]:
            return {key: (n - times * theirs.get(key, 0)) / jobs for key, n in mine.items()}

        received = (self.received - times * less.received) / jobs
        return PerJob(rate(self.requests, less.requests), rate(self.entities, less.entities),
                      received)  # fmt: skip

    def total(self, service: str | None = None) -> int:
        return sum(n for key, n in self.requests.items() if service in (None, key.split()[0]))

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "entities": self.entities, "received": self.received}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Counts:
        return cls(dict(data["requests"]), dict(data["entities"]), int(data["received"]))


@dataclass(frozen=True)
class PerJob:
    """Counts divided by the jobs they served."""

    requests: dict[str, float]
    entities: dict[str, float]
    received: float

    def total(self, service: str | None = None) -> float:
        return sum(n for key, n in self.requests.items() if service in (None, key.split()[0]))

    def breakdown(self) -> str:
        ranked = sorted(self.requests.items(), key=lambda item: -item[1])
        return ", ".join(f"{key} {n:.2f}" for key, n in ranked if abs(n) >= 0.005)


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    keys = sorted(set(a) | set(b))
    return {key: a.get(key, 0) - b.get(key, 0) for key in keys if a.get(key, 0) != b.get(key, 0)}


class Tally:
    """Thread-safe running counts."""

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._entities: Counter[str] = Counter()
        self._received = 0
        self._lock = threading.Lock()

    def add(self, request: Request, status: int, answer: bytes) -> None:
        kind = request.kind
        if kind == "receive" and status == 200 and QUEUE_MESSAGE not in answer:
            kind = "receive (empty)"
        operations = entity_operations(request, status, answer)
        with self._lock:
            self._requests[f"{request.service} {kind}"] += 1
            if kind == "receive":
                self._received += answer.count(QUEUE_MESSAGE)
            if operations is not None:
                self._entities[operations[0]] += operations[1]

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(dict(self._requests), dict(self._entities), self._received)
