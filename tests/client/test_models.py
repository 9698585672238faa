"""The client's models read what the service's models write, field for field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from api import schemas
from jobs.dispatch.stages import Stage
from jobs_client import models

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (schemas.Error, models.ErrorDocument),
    (schemas.ErrorDetail, models.ErrorDetail),
    (schemas.Accepted, models.Accepted),
    (schemas.Counts, models.Counts),
    (schemas.Task, models.Task),
    (schemas.TaskPage, models.TaskPage),
    (schemas.Stats, models.Stats),
    (schemas.QueueDepth, models.QueueDepth),
    (schemas.Minute, models.Minute),
    (schemas.CancelAccepted, models.CancelAccepted),
    (schemas.PurgeAccepted, models.PurgeAccepted),
    (schemas.RetryAccepted, models.RetryAccepted),
    (schemas.Job, models.Job),
    (schemas.JobPage, models.JobPage),
    (schemas.JobDetail, models.JobDetail),
    (schemas.ResultLine, models.ResultLine),
    (schemas.Schedule, models.Schedule),
    (schemas.ScheduleList, models.ScheduleList),
    (schemas.Health, models.Health),
    (Stage, models.Stage),
    (schemas.KindList, models.KindList),
    (schemas.KindLimits, models.KindLimits),
]


@pytest.mark.parametrize(("service", "client"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_the_client_reads_every_field_the_service_writes(
    service: type[BaseModel], client: type[BaseModel]
) -> None:
    assert list(client.model_fields) == list(service.model_fields)


def test_every_document_the_service_answers_with_has_a_client_model() -> None:
    assert {service for service, _ in PAIRS} == set(schemas.RESPONSE_MODELS) | {
        schemas.ErrorDetail,
        schemas.Counts,
        schemas.Job,
        schemas.QueueDepth,
        schemas.Minute,
        Stage,
        schemas.KindLimits,
    }
