"""Turns the worker's view of the app (the library's own indexing) into what the host runs.

The real host refuses to start when a function cannot be indexed; so do we: an unsupported
trigger or binding, a ``%SETTING%`` that resolves to nothing, a missing connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devhost.config import ConfigError
from devhost.connections import Connection, resolve_connection

SUPPORTED_TRIGGERS = ("httpTrigger", "queueTrigger", "timerTrigger")
_EXPRESSION = re.compile(r"%([^%]+)%")


def resolve_expression(value: str, environ: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(f"{where}: '%{name}%' does not resolve to a value.")
        return environ[name]

    return _EXPRESSION.sub(replace, value)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    trigger_type: str
    trigger: dict[str, Any]
    is_async: bool
    connection: Connection | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def _fail(name: str, reason: str) -> ConfigError:
    return ConfigError(f"Error indexing method 'Functions.{name}': {reason}")


def index_functions(
    described: list[dict[str, Any]], environ: Mapping[str, str]
) -> list[FunctionSpec]:
    specs: list[FunctionSpec] = []
    seen: set[str] = set()
    for item in described:
        name = str(item["name"])
        if name.lower() in seen:
            raise _fail(name, "the function name is not unique")
        seen.add(name.lower())
        trigger = item["trigger"]
        if not trigger:
            raise _fail(name, "no trigger binding")
        kind = str(trigger["type"])
        if kind not in SUPPORTED_TRIGGERS:
            raise _fail(name, f"the trigger type '{kind}' is not supported by devhost")
        for binding in item["bindings"]:
            if binding is trigger or binding.get("name") == trigger.get("name"):
                continue
            if binding.get("type") == "http" and binding.get("name") == "$return":
                continue
            raise _fail(
                name,
                f"the binding type '{binding.get('type')}' ({binding.get('name')}) is "
                "not supported by devhost",
            )
        where = f"Error indexing method 'Functions.{name}'"
        resolved = {
            key: resolve_expression(value, environ, where) if isinstance(value, str) else value
            for key, value in trigger.items()
        }
        connection = None
        if kind == "queueTrigger":
            queue = str(resolved.get("queueName") or "").lower()
            if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", queue):
                raise _fail(name, f"'{queue}' is not a valid queue name")
            resolved["queueName"] = queue
            try:
                connection = resolve_connection(resolved.get("connection") or None, environ)
            except ConfigError as exc:
                raise _fail(name, str(exc)) from exc
        specs.append(
            FunctionSpec(
                name=name,
                trigger_type=kind,
                trigger=trigger,
                is_async=bool(item["is_async"]),
                connection=connection,
                properties=resolved,
            )
        )
    return specs
