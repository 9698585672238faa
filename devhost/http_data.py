"""An HTTP request as the host hands it to the Python worker, and its answer back.

Request (Azure/azure-functions-host
``src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageConversionExtensions.cs``,
``ToRpcHttp``, with the capabilities the Python worker declares in its dispatcher.py:
``RawHttpBodyBytes`` and ``RpcHttpBodyOnly``, not ``IgnoreEmptyValuedRpcHttpHeaders``):

* the url is scheme://host + path + the raw query string;
* query keys are matched without case (ASP.NET's query collection), repeated values are joined
  with ``,`` and a key whose joined value is empty is dropped;
* header names are lower-cased, repeated values joined with ``,``; empty values are kept;
* a body is sent only when Content-Length is above 0, and then as bytes (a chunked request
  has no Content-Length, so its function sees an empty body).

Answer (``src/WebJobs.Script/Binding/Http/HttpBinding.cs`` ``CreateResult`` and
``RawScriptResult.cs``): an ``http`` value gives status, headers (``content-type`` sets the
content type), cookies (written as devhost/cookies.py says) and body. A plain string is first
tried as JSON: an object with a ``body`` key is read as a response object
(``statusCode``/``status``, ``headers``, ``body``); another JSON object or array is written
back re-serialised with indentation (.NET's ``JToken.ToString()``); anything else is the text
itself, ``text/plain; charset=utf-8``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from devhost.cookies import set_cookie_header

TEXT_PLAIN = "text/plain; charset=utf-8"


def join_query(raw_query: str) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    keys: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        first = keys.setdefault(key.lower(), key)
        grouped.setdefault(first, []).append(value)
    joined = {key: ",".join(values) for key, values in grouped.items()}
    return {key: value for key, value in joined.items() if value}


def join_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        joined[lowered] = f"{joined[lowered]},{value}" if lowered in joined else value
    return joined


def request_data(
    *,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    raw_query: str,
    route_params: Mapping[str, str],
    content_length: int | None,
    body: bytes,
) -> dict[str, Any]:
    """The ``http`` typed data for the trigger."""
    present = content_length is not None and content_length > 0
    return {
        "type": "http",
        "value": {
            "method": method,
            "url": url,
            "headers": join_headers(headers),
            "query": join_query(raw_query),
            "params": dict(route_params),
            "body": {"type": "bytes", "value": body} if present else None,
        },
    }


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def _body_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _from_http(value: Mapping[str, Any]) -> Answer:
    answer = Answer(status=int(value["status_code"]))
    content_type = None
    for name, header in value["headers"].items():
        if name.lower() == "content-type":
            content_type = header
        else:
            answer.headers.append((name, header))
    answer.headers += [("Set-Cookie", set_cookie_header(c)) for c in value.get("cookies") or []]
    body = value.get("body")
    answer.body = _body_bytes(body["value"] if body else None)
    answer.headers.append(("Content-Type", content_type or TEXT_PLAIN))
    return answer


def _from_response_object(obj: Mapping[str, Any]) -> Answer:
    lowered = {k.lower(): v for k, v in obj.items()}
    status = lowered.get("statuscode", lowered.get("status", 200))
    try:
        code = int(status)
    except (TypeError, ValueError):
        code = 200
    headers = lowered.get("headers") if isinstance(lowered.get("headers"), dict) else {}
    answer = Answer(status=code, body=_body_bytes(lowered["body"]))
    content_type = TEXT_PLAIN
    for name, header in (headers or {}).items():
        if name.lower() == "content-type":
            content_type = str(header)
        else:
            answer.headers.append((name, str(header)))
    answer.headers.append(("Content-Type", content_type))
    return answer


def _from_string(text: str) -> Answer:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and any(k.lower() == "body" for k in parsed):
        return _from_response_object(parsed)
    if isinstance(parsed, dict | list):
        text = json.dumps(parsed, indent=2, ensure_ascii=False)
    return Answer(headers=[("Content-Type", TEXT_PLAIN)], body=text.encode())


def answer_from(value: Mapping[str, Any] | None) -> Answer:
    """The HTTP answer for a function's encoded return value."""
    if value is None:
        return Answer(status=204)
    if value["type"] == "http":
        return _from_http(value["value"])
    if value["type"] == "string":
        return _from_string(str(value["value"]))
    return Answer(
        headers=[("Content-Type", "application/octet-stream")], body=_body_bytes(value["value"])
    )
