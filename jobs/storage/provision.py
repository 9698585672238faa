"""Creates the tables, queues and containers the app uses, for local runs (in Azure, infra/
creates them). Safe to run any number of times: ``python -m jobs.storage.provision``."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping

from azure.core.exceptions import ResourceExistsError

from jobs.core.resources import CONTAINERS, JOBS_TABLE, all_queues
from jobs.core.settings import STORAGE_CONNECTION
from jobs.storage.connection import StorageConnection


def provision(env: Mapping[str, str] | None = None) -> None:
    connection = StorageConnection.from_env(STORAGE_CONNECTION, os.environ if env is None else env)
    connection.table_service().create_table_if_not_exists(JOBS_TABLE)
    queues = connection.queue_service()
    for queue in all_queues():
        with contextlib.suppress(ResourceExistsError):
            queues.create_queue(queue)
    blobs = connection.blob_service()
    for container in CONTAINERS:
        with contextlib.suppress(ResourceExistsError):
            blobs.create_container(container)


def main() -> None:
    """Run from the app's folder: settings come from the environment, then from the Values of
    local.settings.json, as the host reads them."""
    env = dict(os.environ)
    if os.path.exists("local.settings.json"):
        with open("local.settings.json", encoding="utf-8") as file:
            values = json.load(file).get("Values", {})
        env = {**{k: str(v) for k, v in values.items()}, **env}
    provision(env)
    print(f"storage ready: table {JOBS_TABLE}, queues {', '.join(all_queues())}")


if __name__ == "__main__":
    main()
