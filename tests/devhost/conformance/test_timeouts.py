"""functionTimeout: what a timeout does to its invocation and to the others in its worker."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from devhost.config import ConfigError, function_timeout
from harness.localhost import start_devhost
from harness.polling import wait_until
from tests.devhost.conformance.conftest import APPS, Stage


def _timed(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = requests.get(url, timeout=60).status_code
    return status, time.monotonic() - started


def test_siblings_get_the_grace_then_stay_pending_until_their_own_timeout(stage: Stage) -> None:
    """Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Executors/FunctionExecutor.cs
    (the timeout, then ``OnTimeoutExceptionAsync`` with the 2 s GracePeriod of
    src/Microsoft.Azure.WebJobs/TimeoutAttribute.cs); Azure/azure-functions-host
    src/WebJobs.Script.WebHost/WebScriptHostExceptionHandler.cs (restart the worker running
    it) and src/WebJobs.Script.Grpc/Channel/GrpcWorkerChannel.cs (the disposed channel does
    not fail what else it ran: those fail at their own timeout). functionTimeout is 4 s."""
    host = stage.start("timeouts")
    marker = stage.tmp_path / "release-b"
    work = f"{host.api}/work"
    with ThreadPoolExecutor(3) as pool:
        first: Future[tuple[int, float]] = pool.submit(_timed, f"{work}?tag=A&hold=1&sleep=60")
        wait_until(lambda: stage.records.of("work", tag="A", phase="held"), message="A running")
        # B runs until told to stop, which the test does inside A's grace period.
        second = pool.submit(_timed, f"{work}?tag=B&wait_for={marker}")
        wait_until(lambda: "exceeded by function 'Functions.work'" in host.logs(), timeout=10)
        # C starts in the same worker during the grace and outlives it.
        third = pool.submit(_timed, f"{work}?tag=C&sleep=60")
        wait_until(lambda: stage.records.of("work", tag="C"), message="C running")
        marker.touch()
        a, b, c = first.result(), second.result(), third.result()
    assert (a[0], a[1] >= 5.5) == (500, True), a  # 4 s timeout + the 2 s grace
    assert b[0] == 200, b  # finished within the grace, before the worker was restarted
    assert (c[0], c[1] >= 5.5) == (500, True), c  # its own timeout + grace, not the worker's
    logs = host.logs()
    assert logs.count("A function timeout has occurred. Restarting worker process") == 1
    assert logs.count("Timeout value of 00:00:04 was exceeded by function: Functions.work") == 2


def test_function_timeout_under_one_second_is_a_configuration_error(stage: Stage) -> None:
    """Azure/azure-functions-host src/WebJobs.Script/Config/ScriptJobHostOptionsSetup.cs
    (``ValidateTimeoutValue``; only exactly -1 means unbounded)."""
    assert function_timeout({}) == 30 * 60
    assert function_timeout({"functionTimeout": "-1"}) is None
    assert function_timeout({"functionTimeout": "00:00:01"}) == 1
    for bad in ("00:00:00.500", "-00:00:05", "00:00:00"):
        with pytest.raises(ConfigError, match="FunctionTimeout must be greater than 00:00:01"):
            function_timeout({"functionTimeout": bad})
    env = {**stage.env, "AzureFunctionsJobHost__functionTimeout": "00:00:00.500"}
    host = start_devhost(APPS / "timeouts", env, wait=False)
    stage.hosts.append(host)
    assert host.process.wait(timeout=30) == 1
    assert "FunctionTimeout must be greater than 00:00:01" in host.logs()
