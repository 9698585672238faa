"""HTTP triggers on 127.0.0.1: routing under routePrefix, methods, keys, and the admin status.

No route matches the path: 404. A route matches but not for this method: 405 with ``Allow``
(what ASP.NET routing answers). A function that fails or times out answers 500.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from multidict import CIMultiDict

from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, WorkerLost
from devhost.routes import RouteTemplate, sort_key

REASON = "This function was programmatically called via the host APIs."


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
            template=RouteTemplate(spec.name if route is None or route == "" else str(route)),
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
    ) -> None:
        self.prefix = route_prefix.strip("/").lower()
        routes = [HttpRoute.from_spec(f) for f in functions if f.trigger_type == "httpTrigger"]
        self.routes = sorted(routes, key=lambda r: sort_key(r.template))
        self.invoker = invoker
        self.keys = keys
        self.state = state

    def application(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    def _strip_prefix(self, path: str) -> str | None:
        if not self.prefix:
            return path
        lowered = path.lower()
        if lowered == f"/{self.prefix}" or lowered.startswith(f"/{self.prefix}/"):
            return path[len(self.prefix) + 1 :]
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.rstrip("/").lower() == "/admin/host/status":
            state = self.state()
            status = 200 if state == "Running" else 503
            return web.json_response({"state": state}, status=status)
        rest = self._strip_prefix(request.path)
        matches = []
        if rest is not None:
            for route in self.routes:
                values = route.template.match(rest)
                if values is not None:
                    matches.append((route, values))
        if not matches:
            return web.Response(status=404)
        allowed = [(r, v) for r, v in matches if r.methods is None or request.method in r.methods]
        if not allowed:
            methods = sorted({m for r, _ in matches for m in (r.methods or ())})
            return web.Response(status=405, headers={"Allow": ", ".join(methods)})
        route, values = allowed[0]
        if self.keys is not None:
            key = request.headers.get("x-functions-key") or request.query.get("code")
            if not self.keys.allows(route.auth_level, route.function.name, key):
                return web.Response(status=401)
        body = await request.read()
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            lowered = name.lower()
            headers[lowered] = f"{headers[lowered]}, {value}" if lowered in headers else value
        payload = {
            "method": request.method,
            "url": str(request.url),
            "headers": headers,
            "params": dict(request.query),
            "route_params": values,
            "body": body,
        }
        try:
            result = await self.invoker.invoke(route.function.name, "http", payload, REASON)
        except (InvocationFailed, WorkerLost):
            return web.Response(status=500)
        response_headers: CIMultiDict[str] = CIMultiDict(result["headers"])
        response_headers.popall("content-length", None)
        response_headers.popall("transfer-encoding", None)
        return web.Response(status=result["status"], headers=response_headers, body=result["body"])
