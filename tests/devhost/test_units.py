"""Pure-logic pieces of devhost: no processes, no storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.queue import StorageErrorCode

from devhost.config import (
    ConfigError,
    HostConfig,
    QueueOptions,
    apply_overrides,
    load_local_settings,
    parse_timespan,
)
from devhost.indexing import IndexingError, index_functions, resolve_expression
from devhost.queue_processor import ignorable, poison_queue_name
from devhost.routes import RouteTemplate
from devhost.timers import host_id

UTC = UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:02", timedelta(seconds=2)),
        ("00:00:00.500", timedelta(milliseconds=500)),
        ("01:02", timedelta(hours=1, minutes=2)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("5", timedelta(days=5)),  # a bare number means days, as in .NET
        ("-1", timedelta(days=-1)),
    ],
)
def test_timespan(text: str, expected: timedelta) -> None:
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["2s", "00:60:00", "abc", ""])
def test_timespan_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_timespan(text)


def test_overrides_match_keys_case_insensitively_and_create_paths() -> None:
    host = {"extensions": {"queues": {"maxDequeueCount": 5}}}
    env = {
        "AzureFunctionsJobHost__Extensions__QUEUES__maxdequeuecount": "3",
        "AZUREFUNCTIONSJOBHOST__functionTimeout": "00:00:05",
        "AzureFunctionsJobHost__extensions__http__routePrefix": "",
        "Unrelated": "x",
    }
    result = apply_overrides(host, env)
    assert result["extensions"]["queues"] == {"maxdequeuecount": "3"}
    config = HostConfig.load(result, {}, cpu_count=2)
    assert config.queues.max_dequeue_count == 3
    assert config.function_timeout == 5
    assert config.route_prefix == ""


def test_queue_defaults_follow_the_environment_and_cpu_count() -> None:
    development = QueueOptions.from_host_json({}, {"AZURE_FUNCTIONS_ENVIRONMENT": "Development"}, 2)
    assert development.max_polling_interval == 2.0
    assert development.new_batch_threshold == 16  # 16 / 2 * 2 cpus
    assert QueueOptions.from_host_json({}, {}, 4).max_polling_interval == 60.0
    with pytest.raises(ConfigError):
        QueueOptions.from_host_json({"extensions": {"queues": {"batchSize": 33}}}, {}, 1)


def test_local_settings_do_not_replace_the_environment(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"Values": {"A": "file", "B": "file"}}')
    env = {"A": "env"}
    load_local_settings(tmp_path, env)
    assert env == {"A": "env", "B": "file"}
    assert load_local_settings(tmp_path / "missing", {}) == {}


def test_binding_expressions() -> None:
    assert resolve_expression("%Q%-%R%", {"Q": "a", "R": "b"}) == "a-b"
    with pytest.raises(IndexingError, match="'%NOPE%' does not resolve"):
        resolve_expression("%NOPE%", {})


def test_a_function_that_cannot_be_indexed_is_left_out_and_the_others_kept() -> None:
    bad = {"type": "queueTrigger", "name": "msg", "queueName": "Bad_Name", "connection": ""}
    good = {**bad, "queueName": "good"}
    output = {"type": "queue", "name": "out", "queueName": "o"}
    described = [
        {"name": "b_bad_name", "trigger": bad, "bindings": [bad]},
        {"name": "a_output", "trigger": good, "bindings": [good, output]},
        {"name": "c_good", "trigger": good, "bindings": [good]},
    ]
    index = index_functions(described, {"AzureWebJobsStorage": "x"}, UTC, datetime.now(UTC))
    assert [f.name for f in index.functions] == ["c_good"]
    assert "Invalid queue name" in index.errors["b_bad_name"]
    assert "'queue'" in index.errors["a_output"]


def test_route_templates() -> None:
    guid = RouteTemplate("items/{id:guid}")
    assert guid.match("items/1b4e28ba-2fa1-11d2-883f-0016d3cca427") is not None
    assert guid.match("items/42") is None
    assert RouteTemplate("a/{n:int}").match("A/7") == {"n": "7"}
    assert RouteTemplate("a/{n:int:range(1,5)}").match("a/7") is None
    assert RouteTemplate("a/{b:bool}").match("a/True") == {"b": "True"}
    assert RouteTemplate("a/{x:alpha}").match("a/x1") is None
    assert RouteTemplate("a/{x?}").match("a") == {}
    assert RouteTemplate("a/{x=dflt}").match("a") == {"x": "dflt"}
    assert RouteTemplate("a/{*rest}").match("a/b/c") == {"rest": "b/c"}
    assert RouteTemplate("f/{name}.{ext}").match("f/report.pdf") == {"name": "report", "ext": "pdf"}
    assert RouteTemplate("a/{x}").match("a/b/c") is None


def test_poison_queue_names() -> None:
    assert poison_queue_name("jobs") == "jobs-poison"
    assert poison_queue_name("jobs-poison") is None
    assert poison_queue_name("q" * 57) is None
    assert poison_queue_name("q" * 56) == "q" * 56 + "-poison"


def test_host_id_is_stable_per_app_folder(tmp_path: Path) -> None:
    assert host_id({}, tmp_path) == host_id({}, tmp_path)
    assert host_id({}, tmp_path) != host_id({}, tmp_path / "other")
    assert len(host_id({}, tmp_path)) <= 32
    assert host_id({"AzureFunctionsWebHost__hostid": "MyHost"}, tmp_path) == "myhost"


@pytest.mark.parametrize(
    ("status", "code", "ignored"),
    [
        (400, StorageErrorCode.POP_RECEIPT_MISMATCH, True),
        (404, StorageErrorCode.MESSAGE_NOT_FOUND, True),
        (404, StorageErrorCode.QUEUE_NOT_FOUND, True),
        (409, StorageErrorCode.QUEUE_BEING_DELETED, True),
        (400, "PopReceiptMismatch", True),
        (500, StorageErrorCode.INTERNAL_ERROR, False),
        (404, StorageErrorCode.BLOB_NOT_FOUND, False),
    ],
)
def test_the_storage_errors_a_processor_shrugs_off_are_told_by_the_sdks_codes(
    status: int, code: object, ignored: bool
) -> None:
    """The SDK raises its codes as str enums; a delete or renewal of a message someone else
    took must be shrugged off, not stop the host."""
    error = HttpResponseError(message="x")
    error.status_code = status
    setattr(error, "error_code", code)  # noqa: B010  # as the SDK sets it
    assert ignorable(error) is ignored
