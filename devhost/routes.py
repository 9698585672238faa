"""ASP.NET route templates as the Functions host uses them for HTTP triggers.

Supports literal segments (case-insensitive), ``{name}``, constraints ``{name:int}`` (also
long, bool, guid, alpha, decimal, double, float, datetime, min(n), max(n), range(a,b),
length(n[,m]), minlength(n), maxlength(n), regex(...)), optional ``{name?}``, defaults
``{name=value}`` and catch-all ``{*rest}``. Literal segments match without case.

The host puts every function's route into one ASP.NET ``RouteCollection`` in function order
(Azure/azure-webjobs-sdk-extensions ``src/WebJobs.Extensions.Http/Routing/WebJobsRouteBuilder.cs``),
and a collection tries its routes in order, first match wins: there is no precedence between
templates (see devhost/http_server.py for the order).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

_PARAM = re.compile(r"\{([^{}]+)\}")


def _parses(kind: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            kind(value)
        except (ValueError, InvalidOperation):
            return False
        return True

    return check


def _int_range(low: int, high: int) -> Callable[[str], bool]:
    return lambda v: bool(re.fullmatch(r"[+-]?\d+", v)) and low <= int(v) <= high


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _int_range(-(2**31), 2**31 - 1),
    "long": _int_range(-(2**63), 2**63 - 1),
    "bool": lambda v: v.lower() in ("true", "false"),
    "guid": _parses(uuid.UUID),
    "alpha": lambda v: bool(re.fullmatch(r"[A-Za-z]+", v)),
    "decimal": _parses(Decimal),
    "double": _parses(float),
    "float": _parses(float),
    "datetime": _parses(datetime.fromisoformat),
}


def constraint(text: str) -> Callable[[str], bool]:
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.S)
    if not match:
        raise ValueError(f"invalid route constraint {text!r}")
    name, arg = match.group(1).lower(), match.group(2)
    if arg is None and name in _SIMPLE:
        return _SIMPLE[name]
    if arg is not None:
        args = [a.strip() for a in arg.split(",")] if name != "regex" else [arg]
        if name == "min":
            return lambda v: _SIMPLE["long"](v) and int(v) >= int(args[0])
        if name == "max":
            return lambda v: _SIMPLE["long"](v) and int(v) <= int(args[0])
        if name == "range":
            return lambda v: _SIMPLE["long"](v) and int(args[0]) <= int(v) <= int(args[1])
        if name == "minlength":
            return lambda v: len(v) >= int(args[0])
        if name == "maxlength":
            return lambda v: len(v) <= int(args[0])
        if name == "length":
            low, high = int(args[0]), int(args[-1])
            return lambda v: low <= len(v) <= high
        if name == "regex":
            pattern = re.compile(args[0], re.I)
            return lambda v: pattern.search(v) is not None
    raise ValueError(f"unknown route constraint {text!r}")


@dataclass
class Parameter:
    name: str
    checks: list[Callable[[str], bool]] = field(default_factory=list)
    optional: bool = False
    default: str | None = None
    catch_all: bool = False


def _parse_parameter(text: str) -> Parameter:
    catch_all = text.startswith("*")
    text = text.lstrip("*")
    default = None
    if "=" in text:
        text, default = text.split("=", 1)
    optional = text.endswith("?")
    text = text.rstrip("?")
    name, *constraints = text.split(":")
    return Parameter(
        name=name.strip(),
        checks=[constraint(c) for c in constraints],
        optional=optional or default is not None,
        default=default,
        catch_all=catch_all,
    )


class RouteTemplate:
    def __init__(self, template: str) -> None:
        self.template = template.strip("/")
        self.parameters: list[Parameter] = []
        pattern = ""
        segments = self.template.split("/") if self.template else []
        for segment in segments:
            pieces = _PARAM.split(segment)
            if len(pieces) == 3 and not pieces[0] and not pieces[2]:
                param = _parse_parameter(pieces[1])
                self.parameters.append(param)
                group = f"(?P<p{len(self.parameters) - 1}>{'.*' if param.catch_all else '[^/]+'})"
                if param.catch_all or param.optional:
                    pattern += f"(?:/{group})?"
                else:
                    pattern += f"/{group}"
                continue
            part = ""
            for index, piece in enumerate(pieces):
                if index % 2 == 0:
                    part += re.escape(piece)
                else:
                    param = _parse_parameter(piece)
                    self.parameters.append(param)
                    part += f"(?P<p{len(self.parameters) - 1}>[^/]+?)"
            pattern += f"/{part}"
        # Matched whole (``fullmatch``: ``$`` would let ``tasks\n`` pass for ``tasks``), and any
        # character, a newline too, may stand in a parameter, as in ASP.NET's TemplateMatcher.
        self._regex = re.compile(f"{pattern}/?", re.I | re.S)

    def match(self, path: str) -> dict[str, str] | None:
        """Route values for ``path`` (without the prefix), or None when it does not match."""
        candidate = "/" + path.strip("/") if path.strip("/") else ""
        found = self._regex.fullmatch(candidate)
        if not found:
            return None
        values: dict[str, str] = {}
        for index, param in enumerate(self.parameters):
            value = found.group(f"p{index}")
            if value is None or value == "":
                if param.default is not None:
                    values[param.name] = param.default
                continue
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values
