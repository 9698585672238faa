"""What a function receives: built by the library's converters from what the host sends."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devhost.queue_processor import Base64Error, dotnet_base64
from harness.polling import wait_until
from tests.devhost.conformance.conftest import Stage

QUEUES = ("TEXT_QUEUE", "BYTES_QUEUE", "BINARY_QUEUE", "MESSAGE_QUEUE")


def _queues(stage: Stage) -> dict[str, str]:
    return {setting: stage.queue(setting) for setting in QUEUES}


def test_str_and_bytes_annotations_get_what_the_host_sends(stage: Stage) -> None:
    """azure-functions-python-worker azure_functions_worker/functions.py (a str or bytes
    annotation selects the "generic" binding) and bindings/generic.py (which passes the data
    as it came); the host sends a queue body as a string unless dataType is binary
    (Azure/azure-functions-host src/WebJobs.Script/Binding/GeneralScriptBindingProvider.cs, and
    Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Extensions/
    JobHostMetadataProvider.cs defaulting a trigger to string). So ``msg: bytes`` gets a str
    unless the trigger says ``data_type=BINARY``."""
    queues = _queues(stage)
    stage.start("arguments")
    body = "h\u00e9llo"
    for setting in ("TEXT_QUEUE", "BYTES_QUEUE", "BINARY_QUEUE"):
        stage.send(queues[setting], body.encode())

    wait_until(lambda: len(stage.records.all()) >= 3, timeout=20, message="three runs")
    seen = {r["function"]: (r["type"], r["value"]) for r in stage.records.all()}
    assert seen["as_text"] == ("str", body)
    assert seen["as_bytes"] == ("str", body)
    assert seen["as_binary"] == ("bytes", body.encode().decode("latin-1"))


def test_a_body_that_is_not_utf8_fails_is_retried_and_poisoned_unless_binary(
    stage: Stage,
) -> None:
    """Azure/azure-sdk-for-net sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/
    Triggers/StorageQueueMessageToStringConverter.cs with Storage.Common/src/Shared/
    BinaryDataExtensions.cs (strict UTF-8: the binding throws, the function never runs), then
    QueueProcessor.cs (retried, then poisoned); a binary trigger takes the bytes as they are."""
    queues = _queues(stage)
    host = stage.start("arguments")
    body = b"\xff\xfe not text \x80"
    stage.send(queues["MESSAGE_QUEUE"], body)
    stage.send(queues["BINARY_QUEUE"], body)

    poisoned = wait_until(
        lambda: stage.peek(f"{queues['MESSAGE_QUEUE']}-poison"), timeout=30, message="poison"
    )
    assert [base64.b64decode(p) for p in poisoned] == [body]
    assert stage.records.of("as_message") == []
    logs = host.logs()
    assert logs.count("Executed 'Functions.as_message' (Failed") == 3
    assert "Exception binding parameter 'msg'" in logs
    wait_until(lambda: stage.records.of("as_binary"), timeout=10, message="binary run")
    assert stage.records.of("as_binary")[0]["value"] == body.decode("latin-1")


def test_base64_with_whitespace_and_line_breaks_is_decoded_and_delivered(stage: Stage) -> None:
    """Azure/azure-sdk-for-net sdk/storage/Azure.Storage.Queues/src/QueueMessageCodec.cs
    (``Convert.FromBase64String``, which skips spaces, tabs and line breaks)."""
    queues = _queues(stage)
    stage.start("arguments")
    encoded = base64.b64encode(b"wrapped at 8 characters, as mail does").decode()
    wrapped = " " + "\r\n".join(encoded[i : i + 8] for i in range(0, len(encoded), 8)) + "\n\t"
    stage.send_raw(queues["MESSAGE_QUEUE"], wrapped)

    runs = wait_until(lambda: stage.records.of("as_message"), timeout=20, message="run")
    assert runs[0]["value"] == "wrapped at 8 characters, as mail does"
    assert stage.peek(f"{queues['MESSAGE_QUEUE']}-poison") == []
    meta = stage.records.of("as_message_meta")[0]
    assert meta["inserted"].endswith("+00:00")  # the metadata's time, parsed by the library


def _request_seen(url: str, **kwargs: Any) -> dict[str, Any]:
    response = requests.request(kwargs.pop("method", "GET"), url, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    return seen


def test_the_http_request_is_the_librarys_with_the_hosts_query_headers_and_body(
    stage: Stage,
) -> None:
    """Azure/azure-functions-host src/WebJobs.Script.Grpc/MessageExtensions/
    GrpcMessageConversionExtensions.cs (``ToRpcHttp``: query values joined with ',' and empty
    ones dropped, header names lower-cased, a body only with Content-Length > 0), decoded by
    Azure/azure-functions-python-library azure/functions/http.py (``HttpRequestConverter``)."""
    host = stage.start("arguments")
    url = f"{host.api}/request"

    seen = _request_seen(f"{url}?a=1&a=2&A=3&empty=&b=&c=%20x+y")
    assert seen["type"] == "azure.functions.http.HttpRequest"
    assert seen["params"] == {"a": "1,2,3", "c": " x y"}

    connection = http.client.HTTPConnection("127.0.0.1", host.port, timeout=30)
    connection.putrequest("GET", "/api/request")
    connection.putheader("X-Repeated", "one")
    connection.putheader("X-Repeated", "two")
    connection.putheader("X-Mixed-Case", "Value")
    connection.endheaders()
    headers = json.loads(connection.getresponse().read())["headers"]
    connection.close()
    assert headers["x-repeated"] == "one,two"
    assert headers["x-mixed-case"] == "Value"
    assert all(name == name.lower() for name in headers)

    assert _request_seen(url, method="POST", data=b"abc")["body_hex"] == "616263"

    def chunked() -> Iterator[bytes]:
        yield b"sent without a Content-Length"

    assert _request_seen(url, method="POST", data=chunked())["body_hex"] == ""


def test_parameters_that_do_not_match_the_bindings_fail_the_whole_index(stage: Stage) -> None:
    """azure-functions-python-worker azure_functions_worker/functions.py
    (``validate_function_params``) raised while indexing, which fails the worker's metadata
    response (dispatcher.py); Azure/azure-functions-host src/WebJobs.Script.Grpc/Channel/
    GrpcWorkerChannel.cs logs "Worker failed to index functions" and the host runs none."""
    host = stage.start("mismatch")
    wait_until(lambda: "Host started" in host.logs(), timeout=10, message="start-up")
    logs = host.logs()
    assert "Worker failed to index functions" in logs
    assert "FunctionLoadError: cannot load the extra function" in logs
    assert "declared in Python but not in function.json: {'unbound'}" in logs
    assert requests.get(f"{host.api}/fine", timeout=30).status_code == 404


def test_base64_is_strict_apart_from_whitespace() -> None:
    """Azure/azure-sdk-for-net sdk/storage/Azure.Storage.Queues/src/QueueMessageCodec.cs
    (``Convert.FromBase64String``)."""
    assert dotnet_base64(" QU\tJD\r\n") == b"ABC"
    assert dotnet_base64("QQ = =") == b"A"
    assert dotnet_base64("") == b""
    for bad in ("QQ=", "Q@==", "QQ==QQ==", "QUJD-", "A==="):
        with pytest.raises(Base64Error):
            dotnet_base64(bad)
