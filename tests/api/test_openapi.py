"""The OpenAPI document is valid OpenAPI 3.1 and describes exactly the routes function_app.py
registers, with their methods and keys; tests/e2e/test_openapi.py checks real answers
against it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, get_args

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pydantic import ValidationError

from api import documents, openapi, schemas
from api.wire import state_name
from harness.azurite import REPO
from jobs.core.models import Job, JobStatus
from jobs.reads.tasks import JobPage

# get_functions() refuses to index an app twice in one process (tests/infra reads it too):
# ask a fresh interpreter, which also proves the app indexes on its own.
LIST_ROUTES = """
import json, function_app
print(json.dumps([
    {"name": f.get_function_name(), "route": t.route, "auth": str(t.auth_level),
     "methods": sorted(str(m.value) for m in t.methods)}
    for f in function_app.app.get_functions()
    if (t := f.get_trigger()).type == "httpTrigger"
]))
"""


@pytest.fixture(scope="module")
def registered() -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", LIST_ROUTES], cwd=REPO, capture_output=True, text=True, check=True
    )
    routes: list[dict[str, Any]] = json.loads(done.stdout)
    return routes


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi.document()
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_registered_route_is_documented_with_its_methods(
    registered: list[dict[str, Any]],
) -> None:
    paths = openapi.document()["paths"]
    assert len(registered) >= 9
    for function in registered:
        path = "/" + function["route"]
        assert path in paths, f"{function['name']}: {path} is not in the OpenAPI document"
        for method in function["methods"]:
            operation = paths[path].get(method.lower())
            assert operation is not None, f"{method} {path} is not documented"
            assert operation["operationId"] == function["name"]


def test_the_document_has_no_operation_the_app_does_not_register(
    registered: list[dict[str, Any]],
) -> None:
    served = {("/" + f["route"], method.lower()) for f in registered for method in f["methods"]}
    documented = {
        (path, method) for path, item in openapi.document()["paths"].items() for method in item
    }
    assert documented == served


def test_anonymous_routes_and_only_they_need_no_key(registered: list[dict[str, Any]]) -> None:
    paths = openapi.document()["paths"]
    for function in registered:
        for method in function["methods"]:
            operation = paths["/" + function["route"]][method.lower()]
            anonymous = function["auth"].endswith("ANONYMOUS")
            assert (operation.get("security") == []) is anonymous, function["name"]
            assert ("401" in operation["responses"]) is not anonymous, function["name"]


def test_every_error_answer_has_the_error_shape() -> None:
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            for status, reply in operation["responses"].items():
                if status == "401" or path == "/health":
                    continue  # the host's empty 401; health answers 503 with its own document
                if int(status) >= 400:
                    schema = reply["content"]["application/json"]["schema"]
                    assert schema == error_ref, f"{method} {path} {status}"


def test_submits_are_described_by_the_model_the_service_validates_them_with() -> None:
    document = openapi.document()
    body = document["paths"]["/tasks"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/SubmitRequest"}
    submit = document["components"]["schemas"]["SubmitRequest"]
    assert {"kind", "items"} <= set(submit["required"])
    assert submit["additionalProperties"] is False  # unknown fields are 422


def test_job_states_in_the_schema_are_the_ones_the_api_names() -> None:
    assert set(get_args(schemas.JobState)) == {state_name(status) for status in JobStatus}


def test_the_served_bytes_are_the_document() -> None:
    assert json.loads(openapi.document_bytes()) == openapi.document()


def test_an_answer_that_strays_from_its_schema_is_refused_not_sent() -> None:
    stray = Job("5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c", index=-1, kind="echo")
    with pytest.raises(ValidationError):
        documents.job_page(JobPage([stray], more=False))
