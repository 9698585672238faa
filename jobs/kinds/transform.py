"""``transform``: reads the text of a blob in an input container, transforms it, writes the
output to the outputs container and returns where it is, with a short-lived download link.

``upper``, ``lower`` and ``title`` stream: each chunk's complete lines are transformed and
written as they come (a line break ends every case rule's context, so line by line gives what
the whole text would), holding a chunk or two whatever the input's size. A line longer than
LONG_LINE is held whole, so it first takes one of the process's places for a whole input.
``sort_lines`` and ``reverse_lines`` need the whole text: they always take such a place."""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Literal

from pydantic import BaseModel, ConfigDict

from jobs.core.models import JsonValue
from jobs.core.resources import OUTPUTS_CONTAINER
from jobs.kinds.base import JobContext, Kind
from jobs.kinds.files import Files
from jobs.kinds.inputs import BlobName, InputContainer
from jobs.storage.contracts import CHUNK_BYTES

Operation = Literal["upper", "lower", "title", "sort_lines", "reverse_lines"]

_LINEWISE: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
}
_WHOLE: dict[str, Callable[[list[str]], None]] = {
    "sort_lines": list.sort,  # in place: the lines are held once
    "reverse_lines": list.reverse,
}
LONG_LINE = 1024 * 1024  # characters of one line held before it counts as a whole input
CONTENT_TYPE = "text/plain; charset=utf-8"


class TransformInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    container: InputContainer
    blob: BlobName
    operation: Operation


def transform(item: TransformInput, context: JobContext) -> JsonValue:
    blobs = context.files
    name = f"{context.task_id}/{context.job_id}.txt"
    output = _Output()
    if item.operation in _LINEWISE:
        chunks = blobs.read_input(item.container, item.blob)  # refused or too large: raises
        transformed = _linewise(chunks, _LINEWISE[item.operation], blobs)
        link = blobs.put_output(name, output.measure(transformed), CONTENT_TYPE)
    else:
        blobs.input_size(item.container, item.blob)  # refused or too large: before waiting
        with blobs.whole_input_place():
            lines = _whole_text(blobs.read_input(item.container, item.blob)).splitlines()
            _WHOLE[item.operation](lines)
            data = "\n".join(lines).encode("utf-8")
            del lines
            link = blobs.put_output(name, output.measure(_pieces(data)), CONTENT_TYPE)
    return {
        "output": {"container": OUTPUTS_CONTAINER, "blob": name},
        "bytes": output.size,
        "lines": output.lines,
        "sha256": output.sha256.hexdigest(),
        "download_url": link,
    }


def _linewise(
    chunks: Iterable[bytes], operation: Callable[[str], str], blobs: Files
) -> Iterator[bytes]:
    """``operation`` over the text of ``chunks``, a run of complete lines at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending: list[str] = []  # the text after the last line break, not yet transformed
    pending_length = 0
    holding = False
    with ExitStack() as place:
        for chunk in chunks:
            text = decoder.decode(chunk)
            end = text.rfind("\n") + 1
            if end:
                yield operation("".join([*pending, text[:end]])).encode("utf-8")
                pending, pending_length = [text[end:]], len(text) - end
                continue
            pending.append(text)
            pending_length += len(text)
            if pending_length > LONG_LINE and not holding:
                place.enter_context(blobs.whole_input_place())
                holding = True
        rest = "".join([*pending, decoder.decode(b"", final=True)])
        if rest:
            yield operation(rest).encode("utf-8")


def _whole_text(chunks: Iterable[bytes]) -> str:
    data = bytearray()
    for chunk in chunks:
        data += chunk
    return data.decode("utf-8", errors="replace")


def _pieces(data: bytes) -> Iterator[bytes]:
    for at in range(0, len(data), CHUNK_BYTES):
        yield data[at : at + CHUNK_BYTES]


class _Output:
    """What the result says about the output: its size, lines and sha256, taken as it is
    written."""

    def __init__(self) -> None:
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.breaks = 0
        self.last = b""

    def measure(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if chunk:
                self.sha256.update(chunk)
                self.size += len(chunk)
                self.breaks += chunk.count(b"\n")
                self.last = chunk[-1:]
                yield chunk

    @property
    def lines(self) -> int:
        return self.breaks + (1 if self.size and self.last != b"\n" else 0)


KIND = Kind("transform", TransformInput, transform, queue="jobs-long")
