"""Repeating a submit, however fast and often, creates one task and runs each job once; and a
task id cannot be worked out from the Idempotency-Key that made it."""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from composition import Service
from harness.polling import wait_until
from jobs.dispatch.submit import submit
from tests.e2e.conftest import Api


def test_ten_concurrent_repeats_of_one_submit_run_each_job_once(api: Api) -> None:
    items = [{"n": n} for n in range(40)]
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}

    def post(_: int) -> requests.Response:
        return api.post("tasks", json={"kind": "echo", "items": items}, headers=key)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(10)))

    assert {a.status_code for a in answers} == {202}
    [task_id] = {a.json()["task_id"] for a in answers}
    status = api.wait_finished(task_id)
    assert status["counts"]["completed"] == 40
    assert {job["attempts"] for job in api.jobs(task_id)} == {1}
    pattern = rf"JobEvent job_started queue=\S+ task_id={task_id} job_id=(\d+)"

    # The host writes the worker's log lines a moment after the work is stored.
    def starts() -> list[str]:
        found: list[str] = re.findall(pattern, api.host.logs())
        return found if len(set(found)) == 40 else []

    started = wait_until(starts, message="every job's start in the host's log")
    assert Counter(started) == {f"{n:08d}": 1 for n in range(40)}


def test_a_task_id_is_random_whatever_the_key_and_a_repeat_still_finds_it() -> None:
    body = json.dumps({"kind": "echo", "items": [1]}).encode()
    first, second = Service.in_memory(), Service.in_memory()  # two deployments

    made = submit(first, body, "order-1001").task.task_id
    assert submit(first, body, "order-1001").task.task_id == made  # a repeat: same task
    assert submit(second, body, "order-1001").task.task_id != made  # nothing to derive
    assert made != str(uuid.uuid5(uuid.NAMESPACE_URL, "order-1001"))
    stored = [e for e in first.table.store.query(made)]
    assert "order-1001" not in json.dumps([dict(e.props) for e in stored])
