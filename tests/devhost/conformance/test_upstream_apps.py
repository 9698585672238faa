"""The checks of the Python worker's end-to-end blueprint, worker-count, file-name, timer,
retry-policy and ASGI/WSGI apps, run against devhost on apps of ours (``apps/blueprints``,
``apps/retries``, ``apps/frameworks``). Upstream files are in
Azure/azure-functions-python-worker ``tests/endtoend/``; each test names the ones it mirrors.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pytest
import requests

from harness.azurite import Azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from tests.devhost.conformance.conftest import APPS


def lines(host: RunningHost) -> list[str]:
    return [re.sub(r"^\[[^\]]*\]\s*", "", line).strip() for line in host.logs().splitlines()]


@pytest.fixture
def env(azurite: Azurite) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "AzureFunctionsWebHost__hostid": f"c{uuid.uuid4().hex[:20]}",
    }


@pytest.fixture
def blueprints(env: dict[str, str]) -> Iterator[RunningHost]:
    host = start_devhost(
        APPS / "blueprints",
        {
            **env,
            "FUNCTIONS_WORKER_PROCESS_COUNT": "2",
            "PYTHON_THREADPOOL_THREAD_COUNT": "1",
            "AzureWebJobs.switched_off.Disabled": "true",
        },
    )
    yield host
    host.kill()


def test_blueprint_functions_in_another_folder_with_two_workers(blueprints: RunningHost) -> None:
    """test_blueprint_functions.py (TestFunctionInBluePrintOnly, TestFunctionsInBothBlueprint
    AndFuncApp, TestBlueprintDifferentDirectory) and test_worker_process_count_functions.py
    (TestWorkerProcessCountWithBlueprintDiffDirStein): a blueprint's functions are the app's
    (Azure/azure-functions-python-library azure/functions/decorators/function_app.py
    ``register_functions``); with FUNCTIONS_WORKER_PROCESS_COUNT=2 two one-thread workers run
    two slow requests at once (Azure/azure-functions-host src/WebJobs.Script/Workers/Rpc/
    Configuration/RpcWorkerConfigFactory.cs, RpcFunctionInvocationDispatcherLoadBalancer.cs)."""
    host = blueprints
    assert requests.get(f"{host.api}/hello", params={"name": "bp"}, timeout=30).text == (
        "Hello, bp."
    )
    assert requests.get(f"{host.api}/own", timeout=30).text == "from the app"
    answers: list[str] = []

    def call() -> None:
        answers.append(requests.get(f"{host.api}/slow", timeout=30).text)

    callers = [threading.Thread(target=call) for _ in range(2)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    (first, pid_a), (second, pid_b) = (a.split() for a in answers)
    assert abs(float(first) - float(second)) < 1.0
    assert pid_a != pid_b


def test_a_disabled_or_unsupported_function_is_left_out_alone(blueprints: RunningHost) -> None:
    """``AzureWebJobs.<name>.Disabled`` (Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/
    Listeners/HostListenerFactory.cs ``IsDisabled``), and a function devhost cannot run (an
    SDK-type binding) is disabled with its reason while the app runs: the README's promise."""
    host = blueprints
    assert requests.get(f"{host.api}/switched_off", timeout=30).status_code == 404
    seen = lines(host)
    assert "Function 'switched_off' is disabled" in seen
    assert any(
        line.startswith("The 'sdk_typed' function is in error: devhost cannot load it:")
        and "SDK-type binding" in line
        for line in seen
    )
    assert requests.get(f"{host.api}/own", timeout=30).status_code == 200


@pytest.mark.parametrize("script", ["only_blueprint.py", "two_apps.py"])
def test_scripts_without_exactly_one_function_app_serve_nothing(
    env: dict[str, str], script: str
) -> None:
    """test_blueprint_functions.py (TestOnlyBlueprint, TestMultipleFunctionRegisters): the
    worker's loader needs exactly one top-level function app (azure_functions_worker/loader.py
    ``index_function_app``); the script is chosen by PYTHON_SCRIPT_FILE_NAME
    (test_file_name_functions.py)."""
    host = start_devhost(APPS / "blueprints", {**env, "PYTHON_SCRIPT_FILE_NAME": script})
    try:
        assert requests.get(f"{host.api}/hello", timeout=30).status_code == 404
        assert "Worker failed to index functions" in lines(host)
        assert requests.get(f"{host.base_url}/", timeout=10).status_code == 200
    finally:
        host.kill()


def test_retry_policies_run_a_timer_again(env: dict[str, str]) -> None:
    """test_retry_policy_functions.py (fixed and exponential strategies) and
    test_timer_functions.py: Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Executors/
    FunctionExecutorExtensions.cs (retry loop, log lines), ExponentialBackoffRetryAttribute.cs,
    FixedDelayRetryAttribute.cs; azure_functions_worker/loader.py (``build_retry_protos``) and
    dispatcher.py (``retry_context``)."""
    host = start_devhost(APPS / "retries", env)
    try:
        done = [
            "Max retries of 3 for function fixed has been reached",
            "Max retries of 2 for function exponential has been reached",
            "Function execution failed after '1' retries.",
        ]
        wait_until(
            lambda: all(line in lines(host) for line in done), timeout=30, message="the retries"
        )
        seen = lines(host)
        assert [f"fixed retry count: {n}" for n in range(4)] == [
            line for line in seen if line.startswith("fixed retry count")
        ]
        assert [f"exponential retry count: {n}" for n in range(3)] == [
            line for line in seen if line.startswith("exponential retry count")
        ]
        assert (
            "Waiting for `00:00:01` before retrying function execution. Next attempt: '1'. "
            "Max retry count: '3'." in seen
        )
        gives_up = [line for line in seen if line.startswith("Executed 'Functions.gives_up'")]
        assert [line.split(",")[0] for line in gives_up] == [
            "Executed 'Functions.gives_up' (Failed"
        ] * 2
        assert "This timer ran" in seen
    finally:
        host.kill()


@pytest.mark.parametrize("script", ["asgi_app.py", "wsgi_app.py"])
def test_asgi_and_wsgi_apps(env: dict[str, str], script: str) -> None:
    """test_third_party_http_functions.py (TestAsgiHttpFunctions, TestWsgiHttpFunctions), with
    routePrefix "": the library's ``AsgiFunctionApp``/``WsgiFunctionApp`` register one
    catch-all function (azure/functions/decorators/function_app.py), so "/" is theirs and the
    host's home page is not shown (HomepageMiddleware.cs)."""
    host = start_devhost(APPS / "frameworks", {**env, "PYTHON_SCRIPT_FILE_NAME": script})
    base = host.base_url
    try:
        assert requests.get(f"{base}/", timeout=30).status_code == 404
        assert requests.get(f"{base}/get_query_param", timeout=30).text == "hello world"
        named = requests.get(f"{base}/get_query_param", params={"name": "dummy"}, timeout=30)
        assert named.text == "hello dummy"
        posted = requests.post(
            f"{base}/post_str", data="dummy", headers={"content-type": "text/plain"}, timeout=30
        )
        assert (posted.status_code, posted.text) == (200, "hello dummy")
        assert requests.get(f"{base}/get_path_param/1", timeout=30).text == "hello 1"
        fruit = {"name": "apple", "description": "yummy"}
        echoed = requests.post(f"{base}/post_json_return_json_response", json=fruit, timeout=30)
        assert echoed.json() == fruit
        missing = requests.get(f"{base}/raise_http_exception", timeout=30)
        assert (missing.status_code, missing.json()) == (404, {"detail": "Item not found"})
        for method in ("GET", "POST"):
            ping = requests.request(method, f"{base}/admin/host/ping", timeout=10)
            assert ping.status_code == 200
    finally:
        host.kill()
