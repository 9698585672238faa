"""Reading a batch's items: a JSON array file, an NDJSON file (one item a line), or standard
input holding either. NaN and Infinity are refused here, as the service refuses them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


class InputError(Exception):
    """The items cannot be read; the message says where."""


@dataclass(frozen=True)
class Items:
    values: list[Any]
    lines: list[int] | None = None  # NDJSON: the line each item came from

    def where(self, index: int) -> str:
        """How to point a person at one item: its index, and its line when there is one."""
        if self.lines is not None and 0 <= index < len(self.lines):
            return f"item {index} (line {self.lines[index]})"
        return f"item {index}"


def read(source: str, stdin: IO[bytes]) -> Items:
    name = "standard input" if source == "-" else source
    try:
        raw = stdin.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {name}: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text (byte {error.start})") from None
    items = _parse(text, name)
    if not items.values:
        raise InputError(f"{name} holds no items")
    return items


def _parse(text: str, name: str) -> Items:
    if text.lstrip().startswith("["):
        try:
            value = _loads(text)
        except ValueError as error:
            if not str(error).startswith("Extra data"):
                raise InputError(f"{name}: {_position(error)}") from None
            # More than one value: NDJSON whose first item happens to be an array.
        else:
            if isinstance(value, list):
                return Items(value)
    values, lines = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            values.append(_loads(line))
        except ValueError as error:
            raise InputError(
                f"{name}: line {number}: {_position(error, line=False)}; expected a JSON array, "
                "or one JSON value a line (NDJSON)"
            ) from None
        lines.append(number)
    return Items(values, lines)


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse)


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _position(error: ValueError, *, line: bool = True) -> str:
    if not isinstance(error, json.JSONDecodeError):
        return str(error)
    if line:
        return f"{error.msg} at line {error.lineno}, column {error.colno}"
    return f"{error.msg} (column {error.colno})"
