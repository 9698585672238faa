"""HTTP routing as the host builds it: one route collection, tried in function name order."""

from __future__ import annotations

import requests

from tests.devhost.conformance.conftest import Stage


def test_a_method_mismatch_is_a_404_and_overlapping_routes_go_to_the_first_by_name(
    stage: Stage,
) -> None:
    """Azure/azure-functions-host src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs
    (each function's route mapped with an HttpMethodRouteConstraint) into
    Azure/azure-webjobs-sdk-extensions src/WebJobs.Extensions.Http/Routing/WebJobsRouteBuilder.cs
    (one RouteCollection: first match wins), functions ordered by name in
    src/WebJobs.Script/Host/FunctionMetadataManager.cs."""
    host = stage.start("routes")
    api = host.api
    assert requests.get(f"{api}/things/special", timeout=30).text == "a_any_thing"
    assert requests.get(f"{api}/things/other", timeout=30).text == "a_any_thing"
    wrong = requests.get(f"{api}/orders", timeout=30)
    assert wrong.status_code == 404
    assert "Allow" not in wrong.headers
    assert requests.post(f"{api}/orders", timeout=30).text == "c_post_only"


def test_a_route_equal_to_an_earlier_one_with_a_common_method_is_disabled(stage: Stage) -> None:
    """Azure/azure-functions-host src/WebJobs.Script/Host/ScriptHost.cs (``ValidateFunction``,
    ``HttpRoutesConflict``: same template without case or slashes, methods intersecting)."""
    host = stage.start("routes")
    assert "The 'e_conflicting' function is in error" in host.logs()
    assert "conflicts with the route defined by function 'd_first'" in host.logs()
    assert requests.put(f"{host.api}/dup", timeout=30).text == "d_first"
