"""The input policy itself: which containers and blob names a kind may read, what a setting
may list, and that the reader kinds are given enforces it too, not only the item model."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from jobs.core.errors import ConfigurationError, PermanentJobError
from jobs.core.resources import (
    DEPLOYMENT_CONTAINER_PREFIX,
    INPUTS_CONTAINER,
    OUTPUTS_CONTAINER,
    PAYLOADS_CONTAINER,
    is_private_container,
)
from jobs.core.settings import Settings
from jobs.kinds.files import Files
from jobs.kinds.inputs import InputPolicy, InputRefused, item_context
from jobs.kinds.transform import TransformInput
from jobs.storage.memory import MemoryBlobStore
from tests.infra.bicep import INFRA, variable

PRIVATE = [
    PAYLOADS_CONTAINER,
    OUTPUTS_CONTAINER,
    "azure-webjobs-hosts",
    "azure-webjobs-secrets",
    "azure-webjobs-blobtrigger-x",
    f"{DEPLOYMENT_CONTAINER_PREFIX}abc123",
]


@pytest.mark.parametrize("container", PRIVATE)
def test_a_setting_naming_a_private_container_stops_the_app_from_starting(container: str) -> None:
    with pytest.raises(ConfigurationError, match="never be read"):
        Settings.from_env({"JOBS_INPUT_CONTAINERS": f"{INPUTS_CONTAINER},{container}"})


def test_the_input_containers_setting_lists_names_and_defaults_to_job_inputs() -> None:
    assert Settings.from_env({}).input_containers == (INPUTS_CONTAINER,)
    listed = Settings.from_env({"JOBS_INPUT_CONTAINERS": " uploads , job-inputs,,uploads "})
    assert listed.input_containers == ("uploads", INPUTS_CONTAINER)
    with pytest.raises(ConfigurationError, match="not a container name"):
        Settings.from_env({"JOBS_INPUT_CONTAINERS": "Uploads"})


@pytest.mark.parametrize("container", PRIVATE)
def test_a_private_container_is_refused_even_when_a_policy_lists_it(container: str) -> None:
    assert is_private_container(container)
    policy = InputPolicy(frozenset({container}), 1024)  # as if the setting check were bypassed

    with pytest.raises(InputRefused, match="never readable"):
        policy.check(container, "x")


def test_the_blob_reader_given_to_kinds_refuses_what_the_policy_refuses() -> None:
    store = MemoryBlobStore()
    store.put("azure-webjobs-secrets", "host.json", b"keys")
    store.put("elsewhere", "x", b"data")
    store.put(INPUTS_CONTAINER, "x", b"data")
    policy = InputPolicy(frozenset({INPUTS_CONTAINER, "azure-webjobs-secrets"}), 1024)
    blobs = Files(store, policy, timedelta(minutes=5))

    for container, name in [
        ("azure-webjobs-secrets", "host.json"),
        ("elsewhere", "x"),
        (INPUTS_CONTAINER, "../azure-webjobs-secrets/host.json"),
        (INPUTS_CONTAINER, "/x"),
    ]:
        with pytest.raises(InputRefused) as refused:
            blobs.read_input(container, name)
        assert isinstance(refused.value, PermanentJobError)  # the job fails, no retry
        with pytest.raises(InputRefused):
            blobs.input_size(container, name)
    assert b"".join(blobs.read_input(INPUTS_CONTAINER, "x")) == b"data"


def test_an_item_checked_without_a_policy_is_refused() -> None:
    item = {"container": INPUTS_CONTAINER, "blob": "x", "operation": "upper"}
    with pytest.raises(ValidationError, match="no input policy"):
        TransformInput.model_validate(item)
    policy = InputPolicy(frozenset({INPUTS_CONTAINER}), 1024)
    assert TransformInput.model_validate(item, context=item_context(policy)).blob == "x"


@pytest.mark.parametrize(
    "name",
    ["a.txt", "dir/sub/a.txt", "a..b", "...", "name with spaces", "ünïcode/名前.txt", "x" * 1024],
)
def test_plain_blob_names_are_accepted(name: str) -> None:
    policy = InputPolicy(frozenset({INPUTS_CONTAINER}), 1024)
    policy.check(INPUTS_CONTAINER, name)


def test_the_deployment_container_infra_creates_is_one_the_code_keeps_private() -> None:
    name = variable(INFRA / "main.bicep", "deploymentContainerName")
    assert name.startswith(DEPLOYMENT_CONTAINER_PREFIX)
    assert is_private_container(name.replace("${resourceToken}", "abcdef0123456"))
