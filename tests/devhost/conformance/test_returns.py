"""Return values, as the Python worker checks and encodes them."""

from __future__ import annotations

import base64

import requests

from devhost.http_data import answer_from
from harness.polling import wait_until
from tests.devhost.conformance.conftest import Stage


def test_a_queue_function_returning_a_value_fails_is_retried_and_poisoned(stage: Stage) -> None:
    """Azure/azure-functions-python-worker azure_functions_worker/dispatcher.py
    (``_handle__invocation_request``: no $return binding and a non-None result is a failure),
    then sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/
    QueueProcessor.cs in Azure/azure-sdk-for-net (release, then poison at maxDequeueCount)."""
    queue = stage.queue("RETURNS_QUEUE")
    host = stage.start("returns")
    stage.send(queue, b"returned")

    poisoned = wait_until(lambda: stage.peek(f"{queue}-poison"), timeout=30, message="poison")
    assert [base64.b64decode(p) for p in poisoned] == [b"returned"]
    runs = stage.records.of("queue_returns")
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    logs = host.logs()
    assert logs.count("Executed 'Functions.queue_returns' (Failed") == 3
    assert "without a $return bindingreturned a non-None value" in logs


def test_a_timer_function_returning_a_value_fails(stage: Stage) -> None:
    """azure-functions-python-worker azure_functions_worker/dispatcher.py, as above: a timer
    trigger has no $return binding either."""
    host = stage.start("returns")
    wait_until(lambda: stage.records.of("timer_returns"), timeout=20, message="startup run")
    wait_until(
        lambda: "Executed 'Functions.timer_returns' (Failed" in host.logs(),
        timeout=10,
        message="the run to fail",
    )


def test_an_http_function_returning_none_or_bytes_is_a_500_and_str_is_text(
    stage: Stage,
) -> None:
    """azure-functions-python-worker azure_functions_worker/bindings/meta.py
    (``get_datum``: the output converter's NotImplementedError becomes a TypeError) over
    Azure/azure-functions-python-library azure/functions/http.py (``HttpResponseConverter.encode``
    takes only HttpResponse and str); a str answer is written as text/plain by
    Azure/azure-functions-host src/WebJobs.Script/Binding/Http/RawScriptResult.cs."""
    host = stage.start("returns")
    assert requests.get(f"{host.api}/none", timeout=30).status_code == 500
    assert requests.get(f"{host.api}/bytes", timeout=30).status_code == 500
    text = requests.get(f"{host.api}/text", timeout=30)
    assert (text.status_code, text.text) == (200, "plain text")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    logs = host.logs()
    assert "unable to encode outgoing TypedData" in logs
    assert 'for Python type "NoneType"' in logs
    assert 'for Python type "bytes"' in logs


def test_a_str_answer_that_is_json_is_read_as_the_host_reads_it() -> None:
    """Azure/azure-functions-host src/WebJobs.Script/Binding/Http/HttpBinding.cs
    (``CreateResult``: a JSON object with a body is a response object; other JSON is a JToken
    written back with its ToString(), indented) and RawScriptResult.cs."""
    shaped = answer_from(
        {"type": "string", "value": '{"Body": "made", "statusCode": "201", "headers": {"X-A": 1}}'}
    )
    assert (shaped.status, shaped.body) == (201, b"made")
    assert ("X-A", "1") in shaped.headers
    plain = answer_from({"type": "string", "value": '{"a":[1,2]}'})
    assert plain.body == b'{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert ("Content-Type", "text/plain; charset=utf-8") in plain.headers
