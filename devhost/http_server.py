"""HTTP triggers on 127.0.0.1: routing under routePrefix, methods, keys, and the admin status.

Routes are tried in function name order and the first whose template and method both match
wins; a method is a route constraint like any other, so a path that matches only with another
method is a 404, never a 405 (Azure/azure-functions-host
``src/WebJobs.Script.WebHost/WebScriptHostHttpRoutesManager.cs``, which maps each function's
route with an ``HttpMethodRouteConstraint`` into one ``RouteCollection``). A function that
fails or times out answers 500. What the function receives and how its answer is built:
devhost/http_data.py. The answer is the function's ``http`` output, ``$return`` or a named one
(an ``Out[HttpResponse]``).

Host endpoints: ``GET /`` when no function's route took it is the home page, 200 HTML, or 204
when ``AzureWebJobsDisableHomepage`` is true (``src/WebJobs.Script.WebHost/Middleware/
HomepageMiddleware.cs``); ``GET``/``POST /admin/host/ping`` answers 200 with an empty body and
no caching, without a key (``src/WebJobs.Script.WebHost/Controllers/HostController.cs``
``Ping``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from devhost.http_data import answer_from, request_data
from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, Result, WorkerLost, trace_context
from devhost.routes import RouteTemplate

REASON = "This function was programmatically called via the host APIs."
HOME_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Your Functions app</title></head>
<body><h1>Your Functions app is up and running</h1>
<p>This is devhost, the local stand-in for the Azure Functions host.</p></body></html>
"""
NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}


def http_answer(spec: FunctionSpec, result: Result) -> dict[str, Any] | None:
    """The typed data the host answers with: the function's http output."""
    if spec.http_output in (None, "$return"):
        value: dict[str, Any] | None = result.value
        return value
    answer: dict[str, Any] | None = result.outputs.get(spec.http_output)
    return answer


@dataclass(frozen=True)
class Keys:
    """Where keys come from with ``--check-keys``: see the package docstring."""

    master: str
    function: str | None
    per_function: Mapping[str, str]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], master: str) -> Keys:
        prefix = "devhost_function_key__"
        per_function = {
            name[len(prefix) :].lower(): value
            for name, value in environ.items()
            if name.lower().startswith(prefix) and value
        }
        return cls(master, environ.get("DEVHOST_FUNCTION_KEY") or None, per_function)

    def allows(self, level: str, function: str, key: str | None) -> bool:
        if level == "anonymous":
            return True
        if not key:
            return False
        if hmac.compare_digest(key, self.master):
            return True
        if level != "function":
            return False
        valid = [k for k in (self.function, self.per_function.get(function.lower())) if k]
        return any(hmac.compare_digest(key, k) for k in valid)


@dataclass(frozen=True)
class HttpRoute:
    function: FunctionSpec
    template: RouteTemplate
    methods: frozenset[str] | None
    auth_level: str

    @classmethod
    def from_spec(cls, spec: FunctionSpec) -> HttpRoute:
        props = spec.properties
        route = props.get("route")
        methods = props.get("methods")
        return cls(
            function=spec,
            template=RouteTemplate(str(route or "").strip() or spec.name),
            methods=frozenset(str(m).upper() for m in methods) if methods else None,
            auth_level=str(props.get("authLevel") or "function").lower(),
        )


class HttpHost:
    def __init__(
        self,
        route_prefix: str,
        functions: list[FunctionSpec],
        invoker: Invoker,
        keys: Keys | None,
        state: Callable[[], str],
        home_page_disabled: bool = False,
    ) -> None:
        self.prefix = route_prefix.strip("/").lower()
        # ``functions`` come in name order (devhost/indexing.py): the order routes are tried in.
        self.routes = [HttpRoute.from_spec(f) for f in functions if f.trigger_type == "httpTrigger"]
        self.invoker = invoker
        self.keys = keys
        self.state = state
        self.home_page_disabled = home_page_disabled

    def application(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        # Every path, whatever characters its decoded form holds: aiohttp's ``.*`` would stop at
        # a newline (``/tasks/%0A``) and aiohttp would answer its own 404 for the host.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.handle)
        return app

    def _strip_prefix(self, path: str) -> str | None:
        if not self.prefix:
            return path
        lowered = path.lower()
        if lowered == f"/{self.prefix}" or lowered.startswith(f"/{self.prefix}/"):
            return path[len(self.prefix) + 1 :]
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/").lower()
        if path == "/admin/host/status":
            state = self.state()
            status = 200 if state == "Running" else 503
            return web.json_response({"state": state}, status=status)
        if path == "/admin/host/ping" and request.method in ("GET", "POST"):
            return web.Response(status=200, headers=NO_CACHE)
        answer = await self._function(request)
        if answer is None and request.path == "/":
            if self.home_page_disabled:
                return web.Response(status=204)
            return web.Response(status=200, text=HOME_PAGE, content_type="text/html")
        return answer if answer is not None else web.Response(status=404)

    async def _function(self, request: web.Request) -> web.StreamResponse | None:
        """The answer of the function whose route matches, or None when none does."""
        rest = self._strip_prefix(request.path)
        found = None
        if rest is not None:
            for route in self.routes:
                if route.methods is not None and request.method not in route.methods:
                    continue
                values = route.template.match(rest)
                if values is not None:
                    found = (route, values)
                    break
        if found is None:
            return None
        route, values = found
        if self.keys is not None:
            key = request.headers.get("x-functions-key") or request.query.get("code")
            if not self.keys.allows(route.auth_level, route.function.name, key):
                return web.Response(status=401)
        length = request.content_length
        body = await request.read() if length is not None and length > 0 else b""
        raw_query = request.rel_url.raw_query_string
        trigger = request_data(
            method=request.method,
            url=f"{request.scheme}://{request.host}{request.path}"
            + (f"?{raw_query}" if raw_query else ""),
            headers=request.headers.items(),
            raw_query=raw_query,
            route_params=values,
            content_length=length,
            body=body,
        )
        message = {"trigger_name": route.function.trigger_name, "trigger": trigger, "metadata": {}}
        trace = trace_context(request.headers.get("traceparent"), request.headers.get("tracestate"))
        try:
            result = await self.invoker.invoke(route.function.name, message, REASON, trace)
        except (InvocationFailed, WorkerLost):
            return web.Response(status=500)
        answer = answer_from(http_answer(route.function, result))
        headers: CIMultiDict[str] = CIMultiDict(answer.headers)
        return web.Response(status=answer.status, headers=headers, body=answer.body)
