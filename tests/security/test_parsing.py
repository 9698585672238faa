"""Inputs are read strictly and the same way everywhere: no byte sequence a caller sends is
answered with a 500, and every answer is a JSON document."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Api, own_api


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A host and Azurite of this module's own: a refused submit is checked by comparing
    storage before and after, which other suites' background work would move."""
    with own_api() as running:
        yield running


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json_and_are_refused(api: Api, constant: str) -> None:
    body = f'{{"kind": "echo", "items": [{{"x": {constant}}}]}}'
    before = api.storage_snapshot()
    answer = api.post("tasks", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "not valid JSON" in answer.json()["error"]
    assert api.storage_snapshot() == before


def test_a_limit_in_unicode_digits_is_a_400_naming_the_field(api: Api) -> None:
    task_id = api.submit("echo", [1])
    answer = api.get(f"tasks/{task_id}/jobs", params={"limit": "²"})
    assert answer.status_code == 400
    assert answer.json()["details"][0]["field"] == "limit"


def test_every_route_reads_a_task_id_in_any_spelling(api: Api) -> None:
    task_id = api.submit("echo", [1])
    assert api.get(f"tasks/{task_id.upper()}").status_code == 200
    assert api.delete(f"tasks/{{{task_id.upper()}}}").status_code == 202
    assert api.status(task_id)["task_id"] == task_id


@pytest.mark.parametrize(
    "raw",
    [b"caf\xe9-\xff\xfe", b"\xc3\x28", b"key\x01with-control"],
    ids=["latin-1", "broken-utf-8", "control"],
)
def test_an_idempotency_key_that_is_not_text_is_refused_not_a_500(api: Api, raw: bytes) -> None:
    parts = urlsplit(api.url("tasks"))
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    body = json.dumps({"kind": "echo", "items": [1]}).encode()
    connection.putrequest("POST", parts.path)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("Idempotency-Key", raw)
    connection.endheaders(body)
    answer = connection.getresponse()
    payload = answer.read()
    connection.close()
    assert answer.status in (202, 400), payload  # text it can read is a key; the rest, 400
    if answer.getheader("Content-Type", "").startswith("application/json"):  # the app's answer
        assert (
            answer.status == 202 or json.loads(payload)["details"][0]["field"] == "Idempotency-Key"
        )
    else:  # the HTTP server refused the header itself, before any function ran
        assert answer.status == 400
