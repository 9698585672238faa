"""A submit's body, always the same bytes for the same request, and the Idempotency-Key
derived from them: re-running the same submission finds the task the first run made."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

KEY_PREFIX = "jobs-cli-"


def body(
    kind: str,
    items: Sequence[Any],
    *,
    queue: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    then: Mapping[str, Any] | None = None,
    priority: str | None = None,
) -> bytes:
    """The JSON body of ``POST /tasks``. ``queue``, ``metadata``, ``then`` (the next stage) and
    ``priority`` are sent only when given, so a service that does not know a field never sees
    it."""
    document: dict[str, Any] = {"kind": kind, "items": list(items)}
    if queue is not None:
        document["queue"] = queue
    if metadata is not None:
        document["metadata"] = dict(metadata)
    if then is not None:
        document["then"] = dict(then)
    if priority is not None:
        document["priority"] = priority
    # No NaN or Infinity (the service refuses them); compact and in the input's own order, so
    # the same input always gives the same bytes.
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode()


def key_for(body: bytes) -> str:
    """An Idempotency-Key naming exactly this body (kind, queue, metadata, then, priority and
    items)."""
    return KEY_PREFIX + hashlib.sha256(body).hexdigest()
