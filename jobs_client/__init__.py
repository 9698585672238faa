"""A client of the batch jobs service, and the ``jobs`` command over it.

Depends on httpx and pydantic only: never on the service's own code or the Functions
library, so it installs anywhere::

    from jobs_client import Client

    with Client("https://<app>.azurewebsites.net/api", key="...") as jobs:
        task = jobs.submit("echo", [{"n": 1}, {"n": 2}], key="batch-42")
        done = jobs.wait(task.task_id)
        for line in jobs.results(done.task_id):
            print(line.index, line.status, line.result)
"""

from jobs_client.client import DEFAULT_URL, Client
from jobs_client.errors import ApiError, ClientError, Unreachable
from jobs_client.models import (
    Accepted,
    CancelAccepted,
    Counts,
    ErrorDetail,
    Health,
    Job,
    JobDetail,
    JobPage,
    ResultLine,
    RetryAccepted,
    Stage,
    Task,
    TaskPage,
)

__all__ = [
    "DEFAULT_URL",
    "Accepted",
    "ApiError",
    "CancelAccepted",
    "Client",
    "ClientError",
    "Counts",
    "ErrorDetail",
    "Health",
    "Job",
    "JobDetail",
    "JobPage",
    "ResultLine",
    "RetryAccepted",
    "Stage",
    "Task",
    "TaskPage",
    "Unreachable",
]
