"""Real answers of every route, through the local host, against the OpenAPI document the
service itself serves: each status code is documented for its operation, each body validates
against the documented schema, and each documented header is there."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.e2e.conftest import Api


@pytest.fixture(scope="module")
def document(api: Api) -> dict[str, Any]:
    response = api.get("openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served: dict[str, Any] = response.json()
    return served


def conforms(document: dict[str, Any], method: str, path: str, response: requests.Response) -> None:
    operation = document["paths"][path][method]
    reply = operation["responses"].get(str(response.status_code))
    assert reply is not None, f"{method} {path} answered {response.status_code}, undocumented"
    for header in reply.get("headers", {}):
        assert header in response.headers, f"{method} {path}: no {header} header"
    if "content" not in reply:
        assert not response.content
        return
    ((media, content),) = reply["content"].items()
    assert response.headers["content-type"].startswith(media)
    validator = Draft202012Validator({**content["schema"], "components": document["components"]})
    if media == "application/x-ndjson":
        bodies = [json.loads(line) for line in response.text.splitlines()]
        assert bodies
    else:
        bodies = [response.json()]
    for body in bodies:
        validator.validate(body)


def test_the_served_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_answers_as_documented(api: Api, document: dict[str, Any]) -> None:
    def check(method: str, path: str, response: requests.Response, status: int) -> None:
        assert response.status_code == status, response.text
        conforms(document, method, path, response)

    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"kind": "flaky", "items": [{"fail_times": 0}, {"fail_times": 9}]}
    submitted = api.post("tasks", json=body, headers=key)
    check("post", "/tasks", submitted, 202)
    task_id = submitted.json()["task_id"]
    check("post", "/tasks", api.post("tasks", json={**body, "queue": "jobs"}, headers=key), 409)
    check("post", "/tasks", api.post("tasks", json={"kind": "flaky", "items": [{}]}), 422)
    check("post", "/tasks", api.post("tasks", data=b"{", headers=key), 400)
    check("post", "/tasks", api.post("tasks", json={"kind": "echo", "items": ["x" * 30000]}), 413)

    task = f"/tasks/{task_id}"
    check("get", "/tasks/{task_id}/results", api.get(f"{task}/results"), 409)
    api.wait_finished(task_id)
    check("get", "/tasks/{task_id}", api.get(task), 200)
    check("get", "/tasks/{task_id}", api.get(f"tasks/{uuid.uuid4()}"), 404)
    check("get", "/tasks/{task_id}/jobs", api.get(f"{task}/jobs", params={"limit": 1}), 200)
    check("get", "/tasks/{task_id}/jobs", api.get(f"{task}/jobs", params={"limit": 0}), 400)
    check("get", "/tasks/{task_id}/jobs/{job_id}", api.get(f"{task}/jobs/00000001"), 200)
    check("get", "/tasks/{task_id}/jobs/{job_id}", api.get(f"{task}/jobs/00000009"), 404)
    check("get", "/tasks/{task_id}/results", api.get(f"{task}/results"), 200)
    check("post", "/tasks/{task_id}/retry", api.post(f"{task}/retry"), 202)
    check("delete", "/tasks/{task_id}", api.delete(task), 202)
    check("post", "/tasks/{task_id}/retry", api.post(f"{task}/retry"), 409)
    check("get", "/health", api.get("health"), 200)
