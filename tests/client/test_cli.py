"""The ``jobs`` command end to end: a real process against the service on the local host."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from harness.azurite import free_port
from jobs.core.resources import JOBS_TABLE
from tests.client.conftest import Jobs
from tests.e2e.conftest import Api


def _ndjson(path: Path, items: list[Any]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def _task_rows(api: Api) -> int:
    table = api.tables().get_table_client(JOBS_TABLE)
    return sum(1 for _ in table.query_entities("RowKey eq 'task'", select=["RowKey"]))


def test_submit_wait_writes_every_result_in_item_order(jobs: Jobs, api: Api) -> None:
    items = [{"n": n, "tag": uuid.uuid4().hex} for n in range(200)]
    source = _ndjson(jobs.cwd / "items.ndjson", items)

    done = jobs("submit", str(source), "--kind", "echo", "--wait", "-o", "results.ndjson")

    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip()  # the task's id: the command's data, on standard output
    assert api.status(task_id)["status"] == "completed"
    lines = [json.loads(line) for line in (jobs.cwd / "results.ndjson").read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(200))
    assert [line["result"] for line in lines] == items
    assert {line["status"] for line in lines} == {"completed"}
    assert f"task {task_id} completed: 200 completed, 0 failed" in done.stderr


def test_a_task_with_failures_exits_1_and_failed_lists_each_with_its_error(
    jobs: Jobs, api: Api
) -> None:
    items = [{"fail_times": 0}, {"fail_times": 9}, {"fail_times": 0}, {"fail_times": 9}]
    source = _ndjson(jobs.cwd / "flaky.ndjson", items)

    done = jobs("submit", str(source), "--kind", "flaky", "--wait", "-o", "out.ndjson")

    assert done.returncode == 1, done.stderr
    task_id = done.stdout.strip()
    assert "completed_with_failures: 2 completed, 2 failed" in done.stderr
    results = [json.loads(line) for line in (jobs.cwd / "out.ndjson").read_text().splitlines()]
    assert [r["status"] for r in results] == ["completed", "failed", "completed", "failed"]

    table = jobs("failed", task_id)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["INDEX", "JOB", "ATTEMPTS", "ERROR"]
    assert [row.split()[:3] for row in rows] == [["1", "00000001", "5"], ["3", "00000003", "5"]]
    assert all("failing attempt 5 of 9" in row for row in rows)

    listed = json.loads(jobs("failed", task_id, "--json").stdout)
    assert [job["index"] for job in listed["jobs"]] == [1, 3]
    assert jobs("status", task_id).returncode == 1
    assert jobs("watch", task_id).returncode == 1

    retried = jobs("retry", task_id)
    assert retried.returncode == 0, retried.stderr
    assert f"requeued 2 failed jobs of task {task_id}" in retried.stdout


def test_a_bad_item_file_exits_2_naming_the_item_its_line_and_the_field(
    jobs: Jobs, api: Api
) -> None:
    source = _ndjson(jobs.cwd / "bad.ndjson", [{"fail_times": 1}, {"fail_times": "many"}])
    before = _task_rows(api)

    done = jobs("submit", str(source), "--kind", "flaky", "--wait")

    assert done.returncode == 2
    assert "items are not valid for kind 'flaky' (HTTP 422)" in done.stderr
    assert "item 1 (line 2), field 'fail_times': Input should be a valid integer" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _task_rows(api) == before


def test_an_unreadable_item_file_exits_2_naming_the_line(jobs: Jobs) -> None:
    (jobs.cwd / "broken.ndjson").write_text('{"n": 1}\n{"n": NaN}\n')
    done = jobs("submit", "broken.ndjson", "--kind", "echo")
    assert done.returncode == 2
    assert "broken.ndjson: line 2: NaN is not valid JSON" in done.stderr


def test_the_same_command_run_twice_creates_one_task(jobs: Jobs, api: Api) -> None:
    items = [{"run": uuid.uuid4().hex}, {"run": 2}]
    source = _ndjson(jobs.cwd / "once.ndjson", items)
    before = _task_rows(api)

    first = jobs("submit", str(source), "--kind", "echo")
    again = jobs("submit", str(source), "--kind", "echo")
    # The key is the content's, not the file's: the same items on standard input are a repeat.
    piped = jobs("submit", "-", "--kind", "echo", input=source.read_bytes())

    assert first.returncode == again.returncode == piped.returncode == 0, first.stderr
    assert first.stdout == again.stdout == piped.stdout
    assert _task_rows(api) == before + 1
    other = jobs("submit", str(source), "--kind", "echo", "--queue", "jobs-long")
    assert other.returncode == 0, other.stderr
    assert other.stdout != first.stdout  # another queue is another request


def test_cancel_then_watch_exits_1_for_a_cancelled_task(jobs: Jobs, api: Api) -> None:
    source = _ndjson(jobs.cwd / "slow.ndjson", [{"seconds": 0.5}] * 300)
    task_id = jobs("submit", str(source), "--kind", "sleep").stdout.strip()

    cancelled = jobs("cancel", task_id)
    watched = jobs("watch", task_id, "--json")

    assert cancelled.returncode == 0, cancelled.stderr
    assert f"cancel requested for task {task_id}" in cancelled.stdout
    assert watched.returncode == 1, watched.stderr
    final = json.loads(watched.stdout)
    assert final["status"] == "cancelled"
    assert final["counts"]["cancelled"] > 0


def test_status_and_results_of_a_finished_task(jobs: Jobs, api: Api) -> None:
    task_id = api.submit("echo", [{"a": 1}, {"b": 2}])
    api.wait_finished(task_id)

    status = jobs("status", task_id)
    document = json.loads(jobs("--json", "status", task_id).stdout)
    results = jobs("results", task_id)

    assert status.returncode == 0, status.stderr
    assert "status    completed" in status.stdout
    assert "2/2 done (100%)" in status.stdout
    assert document["task_id"] == task_id
    assert document["counts"]["completed"] == 2
    assert results.returncode == 0, results.stderr
    assert [json.loads(line)["result"] for line in results.stdout.splitlines()] == [
        {"a": 1},
        {"b": 2},
    ]


def test_an_unknown_task_exits_2_with_the_services_words(jobs: Jobs) -> None:
    done = jobs("status", str(uuid.uuid4()))
    assert done.returncode == 2
    assert done.stderr == "error: no such task, job or schedule (HTTP 404)\n"

    as_json = jobs("status", str(uuid.uuid4()), "--json")
    assert json.loads(as_json.stderr) == {
        "status": 404,
        "error": "no such task, job or schedule",
        "details": [],
    }


def test_results_of_a_running_task_exit_2_saying_so(jobs: Jobs, api: Api) -> None:
    task_id = api.submit("sleep", [{"seconds": 3}])
    done = jobs("results", task_id, "-o", "never.ndjson")
    assert done.returncode == 2
    assert "still running" in done.stderr
    assert not (jobs.cwd / "never.ndjson").exists()
    assert list(jobs.cwd.iterdir()) == []  # no half-written file left beside it either


def test_an_unreachable_service_exits_3(jobs: Jobs) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    done = jobs("status", str(uuid.uuid4()), "--url", url, "--retries", "1")
    assert done.returncode == 3
    assert "the service did not answer" in done.stderr
    assert "Connection refused" in done.stderr or "ConnectError" in done.stderr


def test_usage_errors_exit_2(jobs: Jobs) -> None:
    source = _ndjson(jobs.cwd / "one.ndjson", [1])
    assert jobs("submit", str(source)).returncode == 2  # --kind is required
    needs_wait = jobs("submit", str(source), "--kind", "echo", "-o", "out.ndjson")
    assert needs_wait.returncode == 2
    assert "needs --wait" in needs_wait.stderr
    not_object = jobs("submit", str(source), "--kind", "echo", "--metadata", "[1]")
    assert not_object.returncode == 2
    assert "--metadata must be a JSON object" in not_object.stderr
    missing = jobs("submit", "no-such-file.json", "--kind", "echo")
    assert missing.returncode == 2
    assert "cannot read no-such-file.json: No such file or directory" in missing.stderr
    nowhere = jobs("results", str(uuid.uuid4()), "-o", "no/such/dir/out.ndjson")
    assert nowhere.returncode == 2
    assert nowhere.stderr.startswith("error: cannot write no/such/dir/out.ndjson: No such file")


def test_metadata_is_sent_only_when_given_and_refused_readably_where_unsupported(
    jobs: Jobs, api: Api
) -> None:
    """POST /tasks learns `metadata` on another branch; until then the service answers 422 for
    the unknown field. The served OpenAPI document says which service this is."""
    document = api.get("openapi.json").json()
    supported = "metadata" in document["components"]["schemas"]["SubmitRequest"]["properties"]
    source = _ndjson(jobs.cwd / "meta.ndjson", [{"m": uuid.uuid4().hex}])

    without = jobs("submit", str(source), "--kind", "echo")
    done = jobs("submit", str(source), "--kind", "echo", "--metadata", '{"team": "data"}')

    assert without.returncode == 0, without.stderr
    if supported:
        assert done.returncode == 0, done.stderr
        assert done.stdout != without.stdout  # metadata is part of the request, and its key
    else:
        assert done.returncode == 2
        assert "field 'metadata': Extra inputs are not permitted" in done.stderr


def test_list_shows_the_running_tasks_newest_first(jobs: Jobs, api: Api) -> None:
    older = api.submit("sleep", [{"seconds": 5}])
    newer = api.submit("sleep", [{"seconds": 5}])

    done = jobs("list", "--state", "running")
    assert done.returncode == 0, done.stderr
    assert newer in done.stdout
    assert done.stdout.index(newer) < done.stdout.index(older)
    as_json = jobs("list", "--state", "running", "--json")
    listed = [task["task_id"] for task in json.loads(as_json.stdout)["tasks"]]
    assert listed.index(newer) < listed.index(older)
    assert jobs("list", "--state", "sideways").returncode == 2


def test_kinds_shows_each_kinds_limits_and_submit_takes_a_priority(jobs: Jobs) -> None:
    done = jobs("kinds")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert " ".join(rows["gated"]) == "gated jobs 5 - 8 at once -"
    assert "20/s" in " ".join(rows["paced"])
    as_json = json.loads(jobs("kinds", "--json").stdout)
    assert {k["name"]: k["concurrency"] for k in as_json["kinds"]}["gated"] == 8

    source = _ndjson(jobs.cwd / "urgent.ndjson", [{"u": uuid.uuid4().hex}])
    high = jobs("submit", str(source), "--kind", "echo", "--priority", "high", "--json")
    assert high.returncode == 0, high.stderr
    task_id = json.loads(high.stdout)["task_id"]
    status = jobs("status", task_id)
    assert "priority high" in status.stdout
    plain = jobs("submit", str(source), "--kind", "echo", "--json")  # another body, another key
    assert json.loads(plain.stdout)["task_id"] != task_id
    refused = jobs("submit", str(source), "--kind", "echo", "--priority", "urgent")
    assert refused.returncode == 2
    assert "--priority" in refused.stderr
