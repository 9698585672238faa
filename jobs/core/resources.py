"""Names of every storage resource the app uses. Provisioning (locally) and infra/ (in Azure)
create exactly these; the app never creates them on a hot path."""

from __future__ import annotations

import re

# One table: a task's partition holds its task row, its counter shards and its job rows.
JOBS_TABLE = "jobs"

# Job queues, each with a queue-triggered function in function_app.py. The first is the default;
# a kind or a submit may pick another (long-running kinds keep out of short ones' way).
DEFAULT_QUEUE = "jobs"
JOB_QUEUES: tuple[str, ...] = (DEFAULT_QUEUE, "jobs-long")
# Where small tasks of the default queue run (jobs.dispatch.queue_choice): a queue of their
# own, so a task of a few jobs never waits behind the windows of the large tasks on `jobs`.
# Not a queue a caller names: it is chosen by the task's size.
SMALL_QUEUE = "jobs-small"
# Priority lanes of the default queue (jobs.dispatch.queue_choice): a task submitted with
# priority high runs from `jobs-high`, one with priority low from `jobs-low`, whatever its size.
# Not queues a caller names: the priority picks them. Before a job of a lower lane starts, its
# worker looks whether a higher lane has work waiting (jobs.lifecycle.admission).
HIGH_QUEUE = "jobs-high"
LOW_QUEUE = "jobs-low"
# The default queue's lanes by priority, and each lane's priority. A lane not listed here
# (`jobs-long`) has no priority: its jobs are never held back for other work.
PRIORITIES: tuple[str, ...] = ("high", "normal", "low")
LANE_PRIORITY: dict[str, str] = {
    HIGH_QUEUE: "high", DEFAULT_QUEUE: "normal", SMALL_QUEUE: "normal", LOW_QUEUE: "low",
}  # fmt: skip
# Every message but a job's (fan-out, cancel, retry, finished, deliver, purge): a queue of
# their own, so a new task's setup never waits behind other tasks' windows of job messages.
CONTROL_QUEUE = "jobs-control"
# Where each task's end is announced, for other apps that prefer a queue to a callback. No
# function of ours listens to it.
EVENTS_QUEUE = "task-events"
# Every queue with a trigger (and so a poison queue the sweep reads).
LISTENED_QUEUES: tuple[str, ...] = (*JOB_QUEUES, SMALL_QUEUE, CONTROL_QUEUE, HIGH_QUEUE, LOW_QUEUE)
POISON_SUFFIX = "-poison"
# Where the sweep moves a poison message it cannot read (logged, kept visible, out of its way).
UNREADABLE_SUFFIX = "-unreadable"

# Blob containers: submitted batches and values too large for a table property; kinds' outputs;
# and the default place kinds read their inputs from (JOBS_INPUT_CONTAINERS lists the others).
PAYLOADS_CONTAINER = "job-payloads"
OUTPUTS_CONTAINER = "job-outputs"
INPUTS_CONTAINER = "job-inputs"
CONTAINERS: tuple[str, ...] = (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER, INPUTS_CONTAINER)

# What Azure accepts as a container name: 3-63 lowercase letters, digits and single hyphens.
CONTAINER_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")

# Containers no kind may ever read, whatever JOBS_INPUT_CONTAINERS says: the service's own, the
# Functions host's (keys in azure-webjobs-secrets, locks in azure-webjobs-hosts, ...) and the
# deployment package's, which infra/main.bicep names `app-package-<token>`.
SERVICE_CONTAINERS: tuple[str, ...] = (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER)
HOST_CONTAINER_PREFIX = "azure-webjobs-"
DEPLOYMENT_CONTAINER_PREFIX = "app-package-"


def poison_queue(queue: str) -> str:
    return f"{queue}{POISON_SUFFIX}"


def unreadable_queue(queue: str) -> str:
    return f"{queue}{UNREADABLE_SUFFIX}"


def all_queues() -> tuple[str, ...]:
    """The listened queues, their poison and unreadable queues, and the events queue."""
    return (
        LISTENED_QUEUES
        + tuple(poison_queue(q) for q in LISTENED_QUEUES)
        + tuple(unreadable_queue(q) for q in LISTENED_QUEUES)
        + (EVENTS_QUEUE,)
    )


def is_private_container(name: str) -> bool:
    """True for a container that holds the service's, the host's or the deployment's data."""
    return name in SERVICE_CONTAINERS or name.startswith(
        (HOST_CONTAINER_PREFIX, DEPLOYMENT_CONTAINER_PREFIX)
    )
