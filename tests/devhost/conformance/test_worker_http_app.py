"""The checks of the Python worker's own HTTP test apps, run against devhost.

Upstream (Azure/azure-functions-python-worker): ``tests/unittests/test_http_functions.py``
(class ``TestHttpFunctionsStein`` over ``tests/unittests/http_functions/http_functions_stein/
function_app.py``) and ``tests/endtoend/test_http_functions.py`` (``TestHttpFunctionsStein``,
``TestHttpFunctionsSteinGeneric``). Our app, ``apps/worker_http``, is written here to exercise
the same behaviours; each test names the upstream checks it mirrors and the source files the
behaviour comes from. One host serves the whole module.

Not mirrored, and why: the upstream checks that import missing modules or reach the internet
(``unhandled_urllib_error`` needs example.com; this machine has no internet, and the behaviour,
an unhandled exception answering 500, is covered by ``divide``), and the ``http_v2`` FastAPI
streaming app (``azurefunctions-extensions-http-fastapi`` is an SDK-type binding devhost does not
have: such a function is disabled with a log line, see test_upstream_apps.py).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import pytest
import requests
from azure.storage.queue import QueueServiceClient

from harness.azurite import Azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from tests.devhost.conformance.conftest import APPS

APP = APPS / "worker_http"


@pytest.fixture(scope="module")
def host(azurite: Azurite) -> Iterator[RunningHost]:
    queue = f"c{uuid.uuid4().hex[:12]}-out"
    QueueServiceClient.from_connection_string(azurite.connection_string).create_queue(queue)
    running = start_devhost(
        APP,
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "OUT_QUEUE": queue,
            "AzureFunctionsWebHost__hostid": f"c{uuid.uuid4().hex[:20]}",
        },
    )
    yield running
    running.kill()


def get(host: RunningHost, path: str, **kwargs: object) -> requests.Response:
    return requests.get(f"{host.api}/{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def lines(host: RunningHost) -> list[str]:
    """The log as the upstream checks read it: each line without its timestamp."""
    return [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in host.logs().splitlines()]


def test_answers_a_function_gives(host: RunningHost) -> None:
    """Upstream test_return_str, test_return_http_200, test_return_http_404,
    test_return_http_no_body, test_return_http_redirect, test_return_bytes, test_no_return and
    test_no_return_returns (stein): azure_functions_worker/dispatcher.py and bindings/meta.py
    over Azure/azure-functions-python-library azure/functions/http.py, answered as
    Azure/azure-functions-host src/WebJobs.Script/Binding/Http/RawScriptResult.cs writes them."""
    text = get(host, "text")
    assert (text.status_code, text.text) == (200, "plain words")
    assert text.headers["content-type"].startswith("text/plain")
    html = get(host, "html")
    assert (html.status_code, html.text) == (200, "<p>markup™</p>")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    gone = get(host, "gone")
    assert (gone.status_code, gone.text) == (404, "not here")
    assert gone.headers["content-type"] == "text/plain; charset=utf-8"
    empty = get(host, "empty")
    assert (empty.status_code, empty.text) == (200, "")
    moved = get(host, "moved", allow_redirects=False)
    assert moved.status_code == 302
    assert get(host, "moved").text == "<p>markup™</p>"
    assert get(host, "returns_bytes").status_code == 500
    assert get(host, "returns_none").status_code == 500
    assert get(host, "unannotated_return").text == "no annotations at all"


def test_an_out_parameter_answers_the_request(host: RunningHost) -> None:
    """Upstream test_return_out (``Out[HttpResponse]`` under ``binding_arg_name``):
    azure_functions_worker/functions.py (``validate_function_params`` checks the type inside
    ``Out`` with the output converter) and dispatcher.py (a set ``Out`` becomes an output);
    the host answers with the function's http output, whatever its name."""
    answer = get(host, "via_out")
    assert (answer.status_code, answer.text) == (201, "set through Out")
    assert answer.headers["content-type"].startswith("text/plain")


def test_queue_outputs_are_written_when_the_function_succeeds(host: RunningHost) -> None:
    """``func.Out[str]`` and ``func.Out[list[str]]`` on a queue output:
    Azure/azure-functions-python-library azure/functions/queue.py (``QueueMessageOutConverter``)
    and Azure/azure-functions-host src/WebJobs.Script/Binding/FunctionBinding.cs (a JSON array
    is one message per item); the messages reach a queue trigger like any other."""
    assert get(host, "enqueue", params={"text": "hello out"}).text == "queued"
    assert get(host, "enqueue_many").text == "queued two"
    for body in ("hello out", "first", "second"):
        wait_until(lambda b=body: f"drained {b}" in lines(host), timeout=20, message=body)  # type: ignore[misc]


def test_the_request_as_the_function_sees_it(host: RunningHost) -> None:
    """Upstream test_return_request, test_post_return_request, test_post_json_request_is_
    untouched, test_accept_json, test_return_route_params, test_raw_body_bytes,
    test_image_png_content_type, test_application_octet_stream_content_type:
    Azure/azure-functions-host src/WebJobs.Script.Grpc/MessageExtensions/
    GrpcMessageConversionExtensions.cs (``ToRpcHttp``), the library's ``HttpRequestConverter``."""
    headers = {"xxx": "zzz", "Max-Forwards": "10"}
    seen = get(host, "echo", params={"a": 1, "b": ":%)"}, headers=headers)
    data = seen.json()
    assert (data["method"], data["params"]) == ("GET", {"a": "1", "b": ":%)"})
    assert (data["headers"]["xxx"], data["headers"]["max-forwards"]) == ("zzz", "10")
    assert "echo" in data["url"]
    form = requests.post(f"{host.api}/echo", data={"key": "value"}, timeout=30).json()
    assert (form["method"], form["get_body"]) == ("POST", "key=value")
    raw = b'{"foo":  "bar", "two":  4}'
    posted = requests.post(
        f"{host.api}/echo", data=raw, headers={"Content-Type": "application/json"}, timeout=30
    ).json()
    assert posted["sha256"] == __import__("hashlib").sha256(raw).hexdigest()
    assert posted["json"] == {"foo": "bar", "two": 4}
    assert get(host, "params/foo/bar").json() == {"first": "foo", "second": "bar"}
    image = bytes(range(256)) * 64
    for content_type in (None, "image/png", "application/octet-stream"):
        headers = {"Content-Type": content_type} if content_type else {}
        back = requests.post(f"{host.api}/bytes_back", data=image, headers=headers, timeout=30)
        assert (int(back.headers["body-len"]), back.content) == (len(image), image)


def test_the_context_carries_trace_and_retry_contexts(host: RunningHost) -> None:
    """Upstream test_return_context (``trace_context.Traceparent``/``Tracestate``):
    azure_functions_worker/bindings/tracecontext.py keeps the capitalised names beside
    ``trace_parent``; Azure/azure-functions-host src/WebJobs.Script.Grpc/Extensions/
    ScriptInvocationContextExtensions.cs (``GetRpcTraceContext``) sends the request's trace."""
    data = get(host, "context").json()
    assert data["function_name"] == "context"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", data["Traceparent"])
    assert data["Traceparent"] == data["trace_parent"]
    assert (data["Tracestate"], data["Attributes"]) == ("", {})
    assert (data["retry_count"], data["max_retry_count"]) == (0, 0)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    traced = get(host, "context", headers={"traceparent": parent, "tracestate": "k=v"}).json()
    assert traced["Traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert traced["Traceparent"] != parent
    assert traced["Tracestate"] == "k=v"


def test_errors_fail_with_the_workers_message(host: RunningHost) -> None:
    """Upstream test_unhandled_error (log line ``Exception: ZeroDivisionError: division by
    zero``) and test_unhandled_unserializable_error: azure_functions_worker/dispatcher.py
    (``_serialize_exception``)."""
    assert get(host, "divide").status_code == 500
    assert get(host, "unprintable").status_code == 500
    seen = lines(host)
    assert "Exception: ZeroDivisionError: division by zero" in seen
    assert (
        "Exception: Unhandled exception in function. Could not serialize original exception "
        "message." in seen
    )


def test_cookies_are_written_in_the_hosts_format(host: RunningHost) -> None:
    """Upstream test_multiple_cookie_header_in_response, test_set_cookie_header_in_response_
    empty_value, ..._default_value, test_response_cookie_header_nullable_timestamp_err,
    ..._bool_err and ..._double_err: azure_functions_worker/bindings/datumdef.py
    (``parse_to_rpc_http_cookie_list``), Azure/azure-functions-host
    src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageExtensionUtilities.cs."""
    two = "|".join(
        f"foo3={n}; Domain=example.com; Expires=Thu, 12-Jan-{year} 13:55:08 GMT; Path=/; "
        "Max-Age=10000000; Secure; HttpOnly"
        for n, year in ((42, 2017), (43, 2018))
    )
    answer = get(host, "cookies", params={"set": two})
    assert answer.status_code == 200
    assert answer.headers["Set-Cookie"] == (
        "foo3=42; expires=Thu, 12 Jan 2017 13:55:08 GMT; max-age=10000000; domain=example.com; "
        "path=/; secure; httponly, foo3=43; expires=Fri, 12 Jan 2018 13:55:08 GMT; "
        "max-age=10000000; domain=example.com; path=/; secure; httponly"
    )
    defaults = get(host, "cookies", params={"set": "foo=bar"})
    assert defaults.headers["Set-Cookie"] == "foo=bar; domain=; path="
    assert "Set-Cookie" not in get(host, "cookies", params={"set": ""}).headers
    for unreadable in (
        "foo3=42; Domain=example.com; Path=/; SecureFalse; HttpOnly",
        "foo3=42; Max-Age=Dummy; SecureFalse",
    ):
        answer = get(host, "cookies", params={"set": unreadable})
        assert (answer.status_code, "Set-Cookie" in answer.headers) == (200, False)
    bad_date = get(host, "cookies", params={"set": "foo=bar; Domain=123; Expires=Dummy"})
    assert bad_date.status_code == 500
    message = "Can not parse value Dummy of expires in the cookie due to invalid format."
    assert message in lines(host)


def test_logs_show_the_apps_lines_only(host: RunningHost) -> None:
    """Upstream check_log_* of test_async_logging, test_debug_logging, test_print_logging_*,
    test_print_to_console_stdout/stderr and test_hijack_current_event_loop: records of the
    worker's own categories are system logs (azure_functions_worker/logging.py
    ``is_system_log_category``), printed ``LanguageWorkerConsoleLog`` lines are the host's
    (Azure/azure-functions-host src/WebJobs.Script/Workers/ProcessManagement/
    WorkerProcessUtilities.cs); the root level is Information."""
    tag = uuid.uuid4().hex[:8]
    assert get(host, "logs", params={"tag": tag}).text == "logged"
    wait_until(lambda: f"printed {tag}" in lines(host), timeout=10, message="the print")
    seen = lines(host)
    assert f"app info {tag}" in seen
    assert f"root warning {tag}" in seen
    assert not [line for line in seen if line.endswith(f"debug {tag}")]
    assert not [line for line in seen if line.endswith(f"system info {tag}")]
    assert not [line for line in seen if f"console {tag}" in line or f"stderr {tag}" in line]


def test_event_loop_use_in_functions(host: RunningHost) -> None:
    """Upstream test_create_task_with_context, test_create_task_without_context,
    test_hijack_current_event_loop and test_user_event_loop_error: async functions run on the
    worker's loop (tasks with their own contexts included), sync ones in its thread pool where
    they may run a loop of their own (azure_functions_worker/dispatcher.py)."""
    assert get(host, "tasks").text == "a:2 b:3 c:1"
    assert get(host, "own_loop").text == "own:2"
    assert "tasks scheduled" in lines(host)


def test_a_retry_policy_on_http_is_kept_with_a_warning(host: RunningHost) -> None:
    """Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Indexers/FunctionIndexer.cs
    (``CheckRetrySupport``: a trigger without ``[SupportsRetry]`` keeps its policy and warns);
    the first attempt's retry context has the policy's maximum."""
    assert get(host, "retried").text == "attempt 0"
    assert any(
        line.startswith("Soon retries will not be supported for function 'retried'")
        for line in lines(host)
    )


def test_host_endpoints(host: RunningHost) -> None:
    """Upstream test_function_index_page_should_return_ok and test_worker_status_endpoint_*:
    Azure/azure-functions-host src/WebJobs.Script.WebHost/Middleware/HomepageMiddleware.cs and
    Controllers/HostController.cs (``Ping``, no key, not cached)."""
    home = requests.get(f"{host.base_url}/", timeout=10)
    assert (home.status_code, home.headers["content-type"]) == (200, "text/html; charset=utf-8")
    for method in ("GET", "POST"):
        ping = requests.request(
            method, f"{host.base_url}/admin/host/ping", params={"checkHealth": "1"}, timeout=10
        )
        assert (ping.status_code, ping.text) == (200, "")
        assert "no-store" in ping.headers["Cache-Control"]
    assert requests.get(f"{host.base_url}/nothing-here", timeout=10).status_code == 404


def test_the_generic_decorators_declare_an_http_function(azurite: Azurite) -> None:
    """Upstream TestHttpFunctionsSteinGeneric (tests/endtoend/test_http_functions.py):
    ``generic_trigger(type="httpTrigger")`` with ``generic_output_binding("$return", "http")``
    is an HTTP function; the script is chosen with ``PYTHON_SCRIPT_FILE_NAME``
    (azure_functions_worker/loader.py, upstream tests/endtoend/test_file_name_functions.py)."""
    host = start_devhost(
        APP,
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "PYTHON_SCRIPT_FILE_NAME": "generic_app.py",
        },
    )
    try:
        assert requests.get(f"{host.api}/greet", params={"name": "query"}, timeout=30).text == (
            "Hello, query."
        )
        posted = requests.post(f"{host.api}/greet", data=json.dumps({"name": "body"}), timeout=30)
        assert posted.text == "Hello, body."
        assert requests.get(f"{host.base_url}/", timeout=10).status_code == 200
    finally:
        host.kill()
