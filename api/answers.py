"""A request as the handlers read it, and an answer as they give it: the runtime's own types
stay in function_app.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Request:
    route: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def query_of(params: Mapping[str, str], url: str) -> dict[str, str]:
    """The query parameters as the caller sent them. The host hands the app only parameters
    with a value (``?state=`` arrives as no ``state`` at all), so those sent empty are taken
    from the request's URL and kept as ``""``: an empty value is a bad value, not a missing
    one. The rest is the host's reading (repeats joined with ``,``)."""
    query = dict(params)
    given = {name.lower() for name in query}
    for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if name.lower() not in given:
            query[name] = ""
            given.add(name.lower())
    return query


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    mimetype: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def json_answer(
    document: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Answer:
    return Answer(status, json.dumps(document).encode(), headers=headers or {})
