"""``jobs submit --then`` and what ``jobs status`` says of a task's chain, against the service
on the local host."""

from __future__ import annotations

import json

from harness.polling import wait_until
from tests.client.conftest import Jobs
from tests.e2e.conftest import Api


def test_submit_then_starts_the_next_stage_and_status_shows_the_chain(jobs: Jobs, api: Api) -> None:
    source = jobs.cwd / "numbers.json"
    source.write_text(json.dumps([1, 2, 3]))
    then = {"kind": "echo", "over": "each", "then": {"kind": "echo", "over": "all"}}

    done = jobs("submit", str(source), "--kind", "echo", "--then", json.dumps(then), "--wait")

    assert done.returncode == 0, done.stderr
    first = done.stdout.strip()
    second = wait_until(lambda: api.status(first)["next"], message="the next stage", timeout=60)
    shown = jobs("status", first)
    assert shown.returncode == 0, shown.stderr
    assert f"next      {second}" in shown.stdout
    assert "then      echo over each → echo over all" in shown.stdout
    later = jobs("status", second)
    assert f"previous  {first}" in later.stdout
    assert "then      echo over all" in later.stdout


def test_a_bad_then_is_refused_before_and_by_the_service(jobs: Jobs) -> None:
    source = jobs.cwd / "one.json"
    source.write_text("[1]")

    not_object = jobs("submit", str(source), "--kind", "echo", "--then", "[1]")
    unknown = jobs(
        "submit", str(source), "--kind", "echo", "--then", '{"kind": "x", "over": "all"}'
    )

    assert not_object.returncode == 2
    assert "--then must be a JSON object" in not_object.stderr
    assert unknown.returncode == 2
    assert "field 'then.kind': unknown kind" in unknown.stderr
