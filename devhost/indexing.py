"""Turns the worker's index of the app into the functions the host runs, one at a time.

The host starts with whatever it can (partial startup): a function that fails here is logged
and disabled, and the others run. Two kinds of failure, logged as the host logs them:

* the script host's own checks (Azure/azure-functions-host
  ``src/WebJobs.Script/Host/ScriptHost.cs`` ``GetFunctionDescriptorsAsync`` /
  ``ValidateFunction``): a binding this host cannot run, a route under ``admin`` or
  ``runtime``, a route equal to an earlier function's with a method in common. Logged as
  "The '<name>' function is in error: ...".
* the job host's indexing (Azure/azure-webjobs-sdk
  ``src/Microsoft.Azure.WebJobs.Host/Indexers/FunctionIndexer.cs`` with the host's
  ``AllowPartialHostStartup``): a ``%SETTING%`` that resolves to nothing, a missing or
  unusable connection, a bad queue name, a schedule that is neither NCRONTAB nor a TimeSpan.
  Logged as "Error indexing method 'Functions.<name>'" and "Function 'Functions.<name>'
  failed indexing and will be disabled."

Functions are taken in name order without case (``src/WebJobs.Script/Host/
FunctionMetadataManager.cs``), which is also the order HTTP routes are tried in.

Output bindings: ``http`` (the answer of an HTTP trigger, under ``$return`` or any name, as an
``Out[HttpResponse]``) and ``queue`` (``func.Out`` or ``$return``; its queue name and
connection are resolved here like a trigger's). A function the worker could not load for a
reason of devhost's own (not a worker rule) is disabled with that reason, never the app.
``AzureWebJobs.<name>.Disabled`` (or ``AzureWebJobs_<name>_Disabled``) set to true or 1 disables a
function (Azure/azure-webjobs-sdk ``src/Microsoft.Azure.WebJobs.Host/Listeners/
HostListenerFactory.cs`` ``IsDisabled``): logged "Function '<name>' is disabled", no listener,
its route not served.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from devhost import logs
from devhost.config import ConfigError
from devhost.connections import Connection, resolve_connection
from devhost.retries import SUPPORTS_RETRY, RetryPolicy
from devhost.schedules import ParsedSchedule, parse_schedule

SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger")
SUPPORTED_OUTPUTS = ("http", "queue")
RESERVED_ROUTES = ("admin", "runtime")
_EXPRESSION = re.compile(r"%([^%]+)%")
_QUEUE_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")


class FunctionError(Exception):
    """The script host refuses this function."""


class IndexingError(Exception):
    """The job host could not index this function."""


def resolve_expression(value: str, environ: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise IndexingError(f"'%{name}%' does not resolve to a value.")
        return environ[name]

    return _EXPRESSION.sub(replace, value)


@dataclass(frozen=True)
class QueueOutput:
    """A queue output binding: the parameter (or ``$return``) and where it writes."""

    name: str
    queue_name: str
    connection: Connection


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger_type: str
    trigger_name: str
    properties: dict[str, Any] = field(default_factory=dict)
    connection: Connection | None = None
    schedule: ParsedSchedule | None = None
    http_output: str | None = None
    queue_outputs: tuple[QueueOutput, ...] = ()
    retry: RetryPolicy | None = None
    disabled: bool = False

    @property
    def binary(self) -> bool:
        """``dataType: binary``: the trigger value is bytes, not strictly decoded text."""
        return str(self.properties.get("dataType") or "").lower() in ("binary", "2")


@dataclass
class Index:
    functions: list[FunctionSpec] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _route(item: Mapping[str, Any]) -> tuple[str, frozenset[str] | None]:
    trigger = item["trigger"]
    route = str(trigger.get("route") or "").strip() or str(item["name"])
    methods = trigger.get("methods")
    return route, frozenset(str(m).upper() for m in methods) if methods else None


def _check_host_rules(item: Mapping[str, Any], routes: dict[str, tuple[str, Any]]) -> None:
    trigger = item["trigger"]
    if not trigger:
        raise FunctionError("No trigger binding specified.")
    kind = str(trigger["type"])
    if kind not in SUPPORTED_TRIGGERS:
        raise FunctionError(f"The binding type(s) '{kind}' are not supported by devhost.")
    if item.get("unsupported"):
        raise FunctionError(f"devhost cannot load it: {item['unsupported']}")
    for binding in item["bindings"]:
        if binding.get("name") == trigger.get("name"):
            continue
        direction = str(binding.get("direction") or "").upper()
        if direction in ("OUT", "1") and binding.get("type") in SUPPORTED_OUTPUTS:
            if binding.get("type") == "http" and kind != "httpTrigger":
                raise FunctionError("An http output binding needs an httpTrigger.")
            continue
        raise FunctionError(
            f"The binding type(s) '{binding.get('type')}' are not supported by devhost."
        )
    if kind != "httpTrigger":
        return
    route, methods = _route(item)
    if route.strip("/").lower().startswith(RESERVED_ROUTES):
        raise FunctionError("The specified route conflicts with one or more built in routes.")
    for other, (other_route, other_methods) in routes.items():
        same = route.strip("/").lower() == other_route.strip("/").lower()
        if same and (methods is None or other_methods is None or methods & other_methods):
            raise FunctionError(
                f"The route specified conflicts with the route defined by function '{other}'."
            )
    routes[str(item["name"])] = (route, methods)


def _queue(props: Mapping[str, Any], settings: Mapping[str, str]) -> tuple[str, Connection]:
    queue = str(props.get("queueName") or "").lower()
    if not _QUEUE_NAME.fullmatch(queue):
        raise IndexingError(f"Invalid queue name: {queue}")
    try:
        connection = resolve_connection(props.get("connection") or None, settings, "queue")
    except ConfigError as exc:
        raise IndexingError(str(exc)) from exc
    return queue, connection


def _outputs(
    item: Mapping[str, Any], settings: Mapping[str, str]
) -> tuple[str | None, tuple[QueueOutput, ...]]:
    http: str | None = None
    queues = []
    trigger_name = item["trigger"].get("name")
    for binding in item["bindings"]:
        if binding.get("name") == trigger_name:
            continue
        if binding.get("type") == "http":
            http = http or str(binding["name"])
        elif binding.get("type") == "queue":
            props = {
                key: resolve_expression(value, settings) if isinstance(value, str) else value
                for key, value in binding.items()
            }
            queue, connection = _queue(props, settings)
            queues.append(QueueOutput(str(binding["name"]), queue, connection))
    return http, tuple(queues)


def is_disabled(name: str, settings: Mapping[str, str]) -> bool:
    wanted = {f"azurewebjobs.{name}.disabled".lower(), f"azurewebjobs_{name}_disabled".lower()}
    for key, value in settings.items():
        if key.lower() in wanted and value.strip().lower() in ("1", "true"):
            return True
    return False


def _spec(
    item: Mapping[str, Any], settings: Mapping[str, str], zone: tzinfo, now: datetime
) -> FunctionSpec:
    spec = _trigger_spec(item, settings, zone, now)
    http, queues = _outputs(item, settings)
    retry = None
    if item.get("retry"):
        try:
            retry = RetryPolicy.from_options(item["retry"])
        except (TypeError, ValueError) as exc:
            raise FunctionError(f"Invalid retry options: {exc}") from exc
        if spec.trigger_type not in SUPPORTS_RETRY:
            logs.HOST.warning(
                "Soon retries will not be supported for function '%s'. For more information, "
                "please visit http://aka.ms/func-retry-policies.", spec.name,
            )  # fmt: skip
    return dataclasses.replace(
        spec,
        http_output=http,
        queue_outputs=queues,
        retry=retry,
        disabled=is_disabled(spec.name, settings),
    )


def _trigger_spec(
    item: Mapping[str, Any], settings: Mapping[str, str], zone: tzinfo, now: datetime
) -> FunctionSpec:
    trigger = item["trigger"]
    kind = str(trigger["type"])
    props = {
        key: resolve_expression(value, settings) if isinstance(value, str) else value
        for key, value in trigger.items()
    }
    spec = FunctionSpec(str(item["name"]), kind, str(trigger["name"]), props)
    if kind == "queueTrigger":
        queue, connection = _queue(props, settings)
        props["queueName"] = queue
        return FunctionSpec(spec.name, kind, spec.trigger_name, props, connection=connection)
    if kind == "timerTrigger":
        monitor = props.get("useMonitor")
        try:
            schedule = parse_schedule(
                str(props.get("schedule") or ""),
                None if monitor is None else bool(monitor),
                zone,
                now,
            )
        except ValueError as exc:
            raise IndexingError(str(exc)) from exc
        return FunctionSpec(spec.name, kind, spec.trigger_name, props, schedule=schedule)
    return spec


def index_functions(
    described: list[dict[str, Any]], settings: Mapping[str, str], zone: tzinfo, now: datetime
) -> Index:
    index = Index()
    routes: dict[str, tuple[str, Any]] = {}
    for item in sorted(described, key=lambda f: str(f["name"]).lower()):
        name = str(item["name"])
        try:
            _check_host_rules(item, routes)
            index.functions.append(_spec(item, settings, zone, now))
        except FunctionError as exc:
            index.errors[name] = str(exc)
            logs.HOST.error("The '%s' function is in error: %s", name, exc)
        except IndexingError as exc:
            index.errors[name] = str(exc)
            logs.HOST.error("Error indexing method 'Functions.%s'\n%s", name, exc)
            logs.HOST.warning("Function 'Functions.%s' failed indexing and will be disabled.", name)
    return index
