"""A transform may name only a listed input container and a plain blob name: anything else is
refused when the batch is submitted, with the item's index and field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from jobs.core.resources import OUTPUTS_CONTAINER
from tests.e2e.conftest import Api

ALLOWED = {"container": "job-inputs", "blob": "fine.txt", "operation": "upper"}


def _refused(api: Api, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Submit ``items``; assert a 422 that wrote nothing at all, and return the answer."""
    before = api.storage_snapshot()
    outputs = api.blobs().get_container_client(OUTPUTS_CONTAINER)
    outputs_before = sorted(blob.name for blob in outputs.list_blobs())
    response = api.post("tasks", json={"kind": "transform", "items": items})
    assert response.status_code == 422, response.text
    assert api.storage_snapshot() == before, "a refused submit wrote something"
    assert sorted(blob.name for blob in outputs.list_blobs()) == outputs_before
    answer: dict[str, Any] = response.json()
    assert "transform" in answer["error"]
    return answer


@pytest.mark.parametrize(
    ("container", "words"),
    [
        ("azure-webjobs-hosts", "never readable"),  # the host's locks and state
        ("azure-webjobs-secrets", "never readable"),  # the host's function keys
        ("job-payloads", "never readable"),  # other tasks' batches and large values
        ("job-outputs", "never readable"),  # other tasks' results
        ("app-package-abc123", "never readable"),  # the deployment package
        ("some-other-container", "not an input container"),
        ("Not_A_Container", "not a container name"),
    ],
)
def test_a_container_that_is_not_a_listed_input_container_is_refused_at_submit(
    guarded: Api, container: str, words: str
) -> None:
    items = [ALLOWED, {**ALLOWED, "container": container}]

    answer = _refused(guarded, items)

    [detail] = answer["details"]
    assert (detail["index"], detail["field"]) == (1, "container")
    assert container in detail["message"]
    assert words in detail["message"]


@pytest.mark.parametrize(
    ("blob", "words"),
    [
        ("../x", "'..' segment"),
        ("inputs/../../job-payloads/x", "'..' segment"),
        ("./x", "'.' or '..' segment"),
        ("/x", "must not start with '/'"),
        ("a\\..\\b", "backslash"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
        ("a//b", "empty segment"),
        ("x" * 1025, "the limit is 1024"),
        ("", "empty"),
    ],
)
def test_a_blob_name_that_is_not_plain_is_refused_at_submit(
    guarded: Api, blob: str, words: str
) -> None:
    answer = _refused(guarded, [{**ALLOWED, "blob": blob}, ALLOWED])

    [detail] = answer["details"]
    assert (detail["index"], detail["field"]) == (0, "blob")
    assert words in detail["message"]


def test_every_bad_item_of_a_batch_is_named_with_its_field(guarded: Api) -> None:
    items = [
        ALLOWED,
        {**ALLOWED, "container": "azure-webjobs-secrets"},
        {**ALLOWED, "blob": "../x"},
        {**ALLOWED, "container": "job-payloads", "blob": "/etc"},
    ]

    answer = _refused(guarded, items)

    found = {(detail["index"], detail["field"]) for detail in answer["details"]}
    assert found == {(1, "container"), (2, "blob"), (3, "container"), (3, "blob")}
