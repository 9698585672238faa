"""``transform``: reads the text of a blob, transforms it, writes the output to the outputs
container and returns where it is, with a short-lived download link."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.errors import PermanentJobError
from jobs.kinds.base import JobContext, Kind
from jobs.models import JsonValue
from jobs.resources import OUTPUTS_CONTAINER

Operation = Literal["upper", "lower", "title", "sort_lines", "reverse_lines"]

_OPERATIONS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "sort_lines": lambda text: "\n".join(sorted(text.splitlines())),
    "reverse_lines": lambda text: "\n".join(reversed(text.splitlines())),
}


class TransformInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container: str = Field(
        min_length=3, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"
    )
    blob: str = Field(min_length=1, max_length=1024)
    operation: Operation


def transform(item: TransformInput, context: JobContext) -> JsonValue:
    text = context.blobs.read_text(item.container, item.blob)
    if text is None:
        raise PermanentJobError(f"blob {item.container}/{item.blob} does not exist")
    output = _OPERATIONS[item.operation](text).encode("utf-8")
    name = f"{context.task_id}/{context.job_id}.txt"
    link = context.blobs.put_output(name, output, "text/plain; charset=utf-8")
    return {
        "output": {"container": OUTPUTS_CONTAINER, "blob": name},
        "bytes": len(output),
        "lines": output.count(b"\n") + (1 if output and not output.endswith(b"\n") else 0),
        "sha256": hashlib.sha256(output).hexdigest(),
        "download_url": link,
    }


KIND = Kind("transform", TransformInput, transform, queue="jobs-long")
