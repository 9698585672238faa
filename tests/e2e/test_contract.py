"""The OpenAPI document is the contract: Schemathesis, with every check, fuzzes the running
service against the document it serves (examples, coverage, fuzzing, and a stateful run over
the document's links: submit -> status -> jobs -> job -> results, schedules), once with
function keys required as in Azure and once with them off, as ``./scripts/serve`` runs.

Bounded and repeatable: a fixed seed, derandomized generation and few examples per operation.

What the checks are told beyond the document, and why:

- ``unsupported_method`` is off: a method no function takes is answered 404 by the Functions
  host itself (routes carry their methods as constraints; devhost/http_server.py), before the
  app could answer 405.
- ``ignored_auth`` is off in the run with keys off: there the host, as Core Tools does,
  checks no key, though the document (Azure's contract) requires one.
- ``use_after_free`` is off: ``DELETE /tasks/{id}`` cancels, and a cancelled task stays
  readable (the README's contract); only ``?purge=true`` deletes, and a purged task's 404 at
  once is checked by tests/jobs/reads/test_task_index.py and tests/e2e/test_parameters.py.
- ``positive_data_acceptance`` also takes a 422 from a submit and a schedule's save: the rules
  a batch is held to beyond its JSON Schema (each kind's items, `not_before` at most 7 days
  ahead, a callback host that resolves to public addresses, NCRONTAB ranges) answer 422 with
  the field named, as documented."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from harness.azurite import REPO, Azurite
from harness.localhost import start_devhost
from jobs.storage.provision import provision
from tests.e2e.conftest import Api

# As local.settings.json.example has them (what ./scripts/serve runs), test kinds on so the
# kind enum has more than one entry and jobs end fast.
SERVE = {
    "JOBS_SWEEP_SCHEDULE": "0 * * * * *",
    "JOBS_SCHEDULER_SCHEDULE": "*/10 * * * * *",
    "JOBS_TEST_KINDS": "true",
    "JOBS_CALLBACK_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "JOBS_WEBHOOK_SECRET": "local-development-only",
}
KEY = uuid.uuid4().hex
SEED = 20260101
MAX_EXAMPLES = 8


@pytest.fixture(params=[True, False], ids=["keys-on", "keys-off"])
def served(request: pytest.FixtureRequest, azurite: Azurite) -> Iterator[tuple[Api, bool]]:
    """The service as ./scripts/serve runs it, with keys checked (``--check-keys``) or not."""
    keys: bool = request.param
    env = {
        "JobsStorage": azurite.connection_string,
        "AzureWebJobsStorage": azurite.connection_string,
        **SERVE,
    }
    if keys:
        env |= {"DEVHOST_FUNCTION_KEY": KEY, "DEVHOST_MASTER_KEY": uuid.uuid4().hex}
    provision(env)
    host = start_devhost(REPO, env, args=["--check-keys"] if keys else [])
    yield Api(host, azurite), keys
    host.stop()


def config(api: Api, *, keys: bool) -> SchemathesisConfig:
    post_checks = {"positive_data_acceptance": {"expected-statuses": [
        "2xx", "3xx", "401", "404", "409", "422", "5xx"]}}  # fmt: skip
    project: dict[str, Any] = {
        "base-url": api.host.api,
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "checks": {
            "unsupported_method": {"enabled": False},
            "ignored_auth": {"enabled": keys},
            "use_after_free": {"enabled": False},
        },
        "phases": {"stateful": {"max-steps": 12, "inference": {"algorithms": []}}},
        "operations": [
            {"include-operation-id": "submit_task", "checks": post_checks},
            {"include-operation-id": "put_schedule", "checks": post_checks},
        ],
    }
    if keys:
        project["auth"] = {"openapi": {"functionKey": {"api_key": KEY}}}
    return SchemathesisConfig.from_dict(project)


def failures(api: Api, *, keys: bool) -> tuple[list[str], int]:
    """Every failure the run found (check, operation, message), and the cases it sent."""
    settings = config(api, keys=keys)
    schema = schemathesis.openapi.from_url(f"{api.host.api}/openapi.json", config=settings)
    found: list[str] = []
    cases = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            cases += len(event.recorder.cases)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(
                            f"{check.name} {failure.operation}: {failure.title}\n"
                            f"{failure.message}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            found.append(f"error in {event.label}: {event.value}")
        elif isinstance(event, events.FatalError):
            found.append(f"fatal: {event.exception}")
    return sorted(set(found)), cases


def test_the_service_answers_as_its_document_says(served: tuple[Api, bool]) -> None:
    api, keys = served
    found, cases = failures(api, keys=keys)
    assert cases > 300, cases  # every phase ran and sent requests
    assert not found, "\n\n".join(found)
