"""infra/ parses, and creates exactly the storage resources jobs/core/resources.py names."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.core import resources
from tests.infra.bicep import INFRA, ROOT, STORAGE_MODULE, bicep_files, parse, variable


def test_infra_has_the_azd_entry_point_and_its_modules() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in bicep_files()}
    assert {"main.bicep", "app/function.bicep", "app/storage.bicep"} <= names


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_bicep_file_parses(path: Path) -> None:
    parsed = parse(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path} declares nothing"


def test_storage_module_creates_the_jobs_table() -> None:
    assert variable(STORAGE_MODULE, "jobsTable") == resources.JOBS_TABLE


def test_storage_module_creates_each_job_queue_and_its_poison_and_unreadable_queues() -> None:
    queues = variable(STORAGE_MODULE, "jobQueues")
    poison = variable(STORAGE_MODULE, "poisonSuffix")
    unreadable = variable(STORAGE_MODULE, "unreadableSuffix")
    assert queues == list(resources.LISTENED_QUEUES)
    created = [
        *queues,
        *(f"{q}{poison}" for q in queues),
        *(f"{q}{unreadable}" for q in queues),
        variable(STORAGE_MODULE, "eventsQueueName"),
    ]
    assert sorted(created) == sorted(resources.all_queues())
    assert [resources.poison_queue(q) for q in queues] == [f"{q}{poison}" for q in queues]
    assert [resources.unreadable_queue(q) for q in queues] == [f"{q}{unreadable}" for q in queues]


def test_storage_module_creates_the_app_containers() -> None:
    assert variable(STORAGE_MODULE, "appContainers") == list(resources.CONTAINERS)


def test_storage_account_allows_entra_id_only() -> None:
    account = parse(STORAGE_MODULE)["resources"]["storage"]["config"]["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["supportsHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
