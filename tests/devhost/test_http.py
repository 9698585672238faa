"""HTTP triggers through a real devhost process: routing, methods, bodies, headers, keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harness.localhost import RunningHost, start_devhost
from tests.devhost.conftest import APPS


@pytest.fixture(scope="module")
def http_host() -> Iterator[RunningHost]:
    host = start_devhost(APPS / "http", {"FROM_BOTH": "env"})
    yield host
    assert host.stop() == 0


def _json(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_constraints_pick_the_route_and_literals_win(http_host: RunningHost) -> None:
    api = http_host.api
    assert _json(requests.get(f"{api}/items/42"))["function"] == "item_by_number"
    assert _json(requests.get(f"{api}/items/42"))["route_params"] == {"id": "42"}
    guid = str(uuid.uuid4())
    assert _json(requests.get(f"{api}/items/{guid}"))["function"] == "item_by_guid"
    assert _json(requests.get(f"{api}/items/special"))["function"] == "item_special"
    assert _json(requests.get(f"{api}/ITEMS/Special"))["function"] == "item_special"
    assert requests.get(f"{api}/items/not-a-number").status_code == 404
    assert requests.get(f"{api}/items/99999999999").status_code == 404  # past int range


def test_optional_catch_all_and_empty_route(http_host: RunningHost) -> None:
    api = http_host.api
    assert _json(requests.get(f"{api}/optional"))["route_params"] == {}
    assert _json(requests.get(f"{api}/optional/bob"))["route_params"] == {"name": "bob"}
    assert _json(requests.get(f"{api}/files/a/b/c.txt"))["route_params"] == {"path": "a/b/c.txt"}
    assert _json(requests.get(f"{api}/empty_route"))["function"] == "empty_route"
    assert requests.get(f"{http_host.base_url}/items/42").status_code == 404  # no prefix


def test_any_character_may_stand_in_a_parameter_and_literals_match_whole(
    http_host: RunningHost,
) -> None:
    api = http_host.api
    assert _json(requests.get(f"{api}/optional/a%0Ab"))["route_params"] == {"name": "a\nb"}
    assert _json(requests.get(f"{api}/optional/%0A"))["route_params"] == {"name": "\n"}
    assert _json(requests.get(f"{api}/files/a%0A/b"))["route_params"] == {"path": "a\n/b"}
    assert requests.get(f"{api}/text%0A").status_code == 404  # not the literal ``text``
    assert requests.get(f"{api}/text%0A").text == ""  # the host's 404, not aiohttp's


def test_methods_select_the_route_and_a_wrong_one_is_a_404(http_host: RunningHost) -> None:
    api = http_host.api
    assert requests.post(f"{api}/items/42").status_code == 404
    assert requests.delete(f"{api}/items/{uuid.uuid4()}").status_code == 200
    assert requests.get(f"{api}/nowhere").status_code == 404
    assert requests.get(f"{api}/echo").status_code == 404
    assert _json(requests.patch(f"{api}/optional/x"))["method"] == "PATCH"  # no methods: all


def test_request_fields_reach_the_function(http_host: RunningHost) -> None:
    seen = _json(
        requests.get(f"{http_host.api}/items/7?a=1&b=two%20words", headers={"X-Custom": "hi"})
    )
    assert seen["method"] == "GET"
    assert seen["params"] == {"a": "1", "b": "two words"}
    assert seen["headers"]["x-custom"] == "hi"
    assert seen["url"] == f"{http_host.api}/items/7?a=1&b=two%20words"


def test_binary_body_and_headers_round_trip(http_host: RunningHost) -> None:
    body = bytes(range(256)) * 40 + b"\x00\xff"
    response = requests.post(
        f"{http_host.api}/echo?status=201",
        data=body,
        headers={"Content-Type": "image/png", "X-Custom": "custom value"},
    )
    assert response.status_code == 201
    assert response.content == body
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Echo"] == "custom value"
    assert response.headers["X-Multi"] == "a, b"


def test_text_response_charset_and_failures(http_host: RunningHost) -> None:
    response = requests.get(f"{http_host.api}/text")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.content == "héllo".encode()
    assert requests.get(f"{http_host.api}/boom").status_code == 500
    logs = http_host.logs()
    assert "Executed 'Functions.boom' (Failed" in logs
    assert "ValueError: boom" in logs
    assert "Executing 'Functions.text' (Reason=" in logs


def test_environment_wins_over_local_settings(http_host: RunningHost) -> None:
    seen = _json(requests.get(f"{http_host.api}/settings"))
    assert seen == {
        "FROM_FILE": "file",
        "FROM_BOTH": "env",
        "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    }


def test_keys_checked_only_with_check_keys(http_host: RunningHost) -> None:
    assert requests.get(f"{http_host.api}/secured/admin").status_code == 200
    env = {
        "DEVHOST_MASTER_KEY": "master-secret",
        "DEVHOST_FUNCTION_KEY": "host-fn-key",
        "DEVHOST_FUNCTION_KEY__secured_function": "own-key",
    }
    host = start_devhost(APPS / "http", env, args=["--check-keys"])
    try:
        fn, admin = f"{host.api}/secured/function", f"{host.api}/secured/admin"
        assert requests.get(fn).status_code == 401
        assert requests.get(fn, params={"code": "wrong"}).status_code == 401
        assert requests.get(fn, params={"code": "host-fn-key"}).status_code == 200
        assert requests.get(fn, headers={"x-functions-key": "own-key"}).status_code == 200
        assert requests.get(fn, params={"code": "master-secret"}).status_code == 200
        # The header wins over the query.
        wins = requests.get(fn, params={"code": "host-fn-key"}, headers={"x-functions-key": "x"})
        assert wins.status_code == 401
        assert requests.get(admin, params={"code": "host-fn-key"}).status_code == 401
        assert requests.get(admin, headers={"x-functions-key": "master-secret"}).status_code == 200
        assert requests.get(f"{host.api}/text").status_code == 200  # anonymous
    finally:
        assert host.stop() == 0


def test_host_json_override_setting_takes_effect() -> None:
    env = {"AzureFunctionsJobHost__Extensions__HTTP__routePrefix": "custom"}
    host = start_devhost(APPS / "http", env)
    try:
        assert requests.get(f"{host.base_url}/custom/text").status_code == 200
        assert requests.get(f"{host.base_url}/api/text").status_code == 404
    finally:
        assert host.stop() == 0
