"""Settings and host.json, as the real host reads them.

``local.settings.json`` ``Values`` become environment variables without replacing variables
already set; ``AzureFunctionsJobHost__a__b`` settings override host.json paths with keys
matched case-insensitively (the host's configuration system is case-insensitive).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

OVERRIDE_PREFIX = "azurefunctionsjobhost__"


class ConfigError(Exception):
    """The configuration stops the host from starting; the message says why."""


def load_local_settings(app_dir: Path, environ: MutableMapping[str, str]) -> dict[str, str]:
    """Copy ``Values`` into ``environ`` unless already set; a missing file is fine."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"local.settings.json is not valid JSON: {exc}") from exc
    values = data.get("Values") or {}
    if not isinstance(values, dict):
        raise ConfigError("local.settings.json: Values must be an object")
    applied = {}
    for key, value in values.items():
        text = "" if value is None else str(value)
        applied[key] = text
        environ.setdefault(key, text)
    return applied


def load_connection_strings(app_dir: Path) -> dict[str, str]:
    """``local.settings.json`` ``ConnectionStrings`` as ``ConnectionStrings__<name>`` settings
    for connection lookups (they are not exported to the app's environment)."""
    path = app_dir / "local.settings.json"
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError:
        return {}
    strings = data.get("ConnectionStrings") if isinstance(data, dict) else None
    if not isinstance(strings, dict):
        return {}
    return {f"ConnectionStrings__{k}": str(v) for k, v in strings.items() if v}


def _set_path(tree: dict[str, Any], path: list[str], value: str) -> None:
    node = tree
    for key in path[:-1]:
        existing = next((k for k in node if k.lower() == key.lower()), None)
        child = node.get(existing) if existing is not None else None
        if not isinstance(child, dict):
            child = {}
            if existing is not None:
                del node[existing]
            node[key] = child
        node = child
    leaf = next((k for k in node if k.lower() == path[-1].lower()), None)
    if leaf is not None:
        del node[leaf]
    node[path[-1]] = value


def apply_overrides(host_json: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for name, value in sorted(environ.items()):
        if name.lower().startswith(OVERRIDE_PREFIX):
            path = [p for p in name[len(OVERRIDE_PREFIX) :].split("__") if p]
            if path:
                _set_path(host_json, path, value)
    return host_json


def load_host_json(app_dir: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    path = app_dir / "host.json"
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"host.json is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError("host.json must be an object")
        data = loaded
    return apply_overrides(data, environ)


def lookup(tree: Mapping[str, Any], *path: str) -> Any:
    """Case-insensitive path lookup; None when any step is missing."""
    node: Any = tree
    for key in path:
        if not isinstance(node, Mapping):
            return None
        match = next((k for k in node if str(k).lower() == key.lower()), None)
        if match is None:
            return None
        node = node[match]
    return node


_TIMESPAN = re.compile(
    r"^\s*(?P<neg>-)?(?:(?P<days>\d+)\.)?(?P<h>\d+):(?P<m>\d+)(?::(?P<s>\d+)(?:\.(?P<f>\d+))?)?\s*$"
)


def parse_timespan(value: Any) -> timedelta:
    """.NET ``TimeSpan.Parse``: ``[-][d.]hh:mm[:ss[.fffffff]]``; a bare integer means days."""
    text = str(value).strip()
    if re.fullmatch(r"-?\d+", text):
        return timedelta(days=int(text))
    match = _TIMESPAN.match(text)
    if not match:
        raise ConfigError(f"{value!r} is not a TimeSpan (expected hh:mm:ss)")
    hours, minutes = int(match["h"]), int(match["m"])
    seconds = int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ConfigError(f"{value!r} is not a TimeSpan: a component is out of range")
    fraction = float(f"0.{match['f']}") if match["f"] else 0.0
    span = timedelta(
        days=int(match["days"] or 0), hours=hours, minutes=minutes, seconds=seconds + fraction
    )
    return -span if match["neg"] else span


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError as exc:
        raise ConfigError(f"host.json {name}: {value!r} is not an integer") from exc


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @classmethod
    def from_host_json(
        cls, host_json: Mapping[str, Any], environ: Mapping[str, str], cpu_count: int
    ) -> QueueOptions:
        section = lookup(host_json, "extensions", "queues") or {}

        def get(key: str) -> Any:
            return lookup(section, key)

        batch = _int(get("batchSize"), "batchSize") if get("batchSize") is not None else 16
        if not 1 <= batch <= 32:
            raise ConfigError(f"host.json extensions.queues.batchSize must be 1..32, not {batch}")
        threshold_raw = get("newBatchThreshold")
        threshold = (
            _int(threshold_raw, "newBatchThreshold")
            if threshold_raw is not None
            else (batch // 2) * cpu_count
        )
        development = environ.get("AZURE_FUNCTIONS_ENVIRONMENT", "").lower() == "development"
        polling_raw = get("maxPollingInterval")
        polling = parse_timespan(polling_raw).total_seconds() if polling_raw is not None else 60.0
        if development and polling == 60.0:
            # StorageQueuesWebJobsBuilderExtensions.cs: in Development a value equal to the
            # one-minute default, set or not, becomes 2 s; any other value stays.
            polling = 2.0
        if polling < 0.1:
            raise ConfigError("host.json extensions.queues.maxPollingInterval must be >= 100 ms")
        visibility_raw = get("visibilityTimeout")
        visibility = parse_timespan(visibility_raw).total_seconds() if visibility_raw else 0.0
        dequeue_raw = get("maxDequeueCount")
        dequeue = _int(dequeue_raw, "maxDequeueCount") if dequeue_raw is not None else 5
        encoding = str(get("messageEncoding") or "base64").lower()
        if encoding not in ("base64", "none"):
            raise ConfigError(f"host.json messageEncoding must be base64 or none, not {encoding}")
        return cls(batch, threshold, polling, visibility, dequeue, encoding)


def function_timeout(host_json: Mapping[str, Any]) -> float | None:
    """functionTimeout as Azure/azure-functions-host
    ``src/WebJobs.Script/Config/ScriptJobHostOptionsSetup.cs`` reads it off Consumption: unset
    is 30 minutes, exactly ``-1`` (a TimeSpan of minus one day) is unbounded, anything under
    one second is a configuration error."""
    raw = lookup(host_json, "functionTimeout")
    if raw is None:
        return 30 * 60.0
    span = parse_timespan(raw)
    if span == timedelta(days=-1):
        return None
    if span < timedelta(seconds=1):
        raise ConfigError(
            "FunctionTimeout must be greater than 00:00:01 and less than 10675199.02:48:05.4775807."
        )
    return span.total_seconds()


@dataclass(frozen=True)
class SingletonOptions:
    """host.json ``singleton``, as Azure/azure-webjobs-sdk
    ``src/Microsoft.Azure.WebJobs.Host/Singleton/SingletonOptions.cs`` bounds it."""

    listener_lock_period: float = 60.0
    listener_lock_recovery_polling_interval: float = 60.0

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> SingletonOptions:
        period_raw = lookup(host_json, "singleton", "listenerLockPeriod")
        period = 60.0 if period_raw is None else parse_timespan(period_raw).total_seconds()
        if not 15.0 <= period <= 60.0:
            raise ConfigError(
                "The value must be between 00:00:15 and 00:01:00. (listenerLockPeriod)"
            )
        polling_raw = lookup(host_json, "singleton", "listenerLockRecoveryPollingInterval")
        polling = 60.0 if polling_raw is None else parse_timespan(polling_raw).total_seconds()
        if polling < 15.0:
            raise ConfigError(
                "The value must not be less than 00:00:15. (listenerLockRecoveryPollingInterval)"
            )
        return cls(period, polling)


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str
    function_timeout: float | None
    queues: QueueOptions
    singleton: SingletonOptions = SingletonOptions()

    @classmethod
    def load(
        cls, host_json: Mapping[str, Any], environ: Mapping[str, str], cpu_count: int
    ) -> HostConfig:
        prefix = lookup(host_json, "extensions", "http", "routePrefix")
        return cls(
            route_prefix=("api" if prefix is None else str(prefix)).strip("/"),
            function_timeout=function_timeout(host_json),
            queues=QueueOptions.from_host_json(host_json, environ, cpu_count),
            singleton=SingletonOptions.from_host_json(host_json),
        )


def development_defaults(environ: MutableMapping[str, str]) -> None:
    """What Core Tools sets for the process it starts."""
    environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Development")
    environ.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")


def cpu_count() -> int:
    return os.cpu_count() or 1
