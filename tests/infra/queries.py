"""Every KQL query infra/ deploys, read from the Bicep (through pycep) and the workbook JSON, so
the checks see exactly what Azure gets: workspace functions, saved searches, alert rules and the
workbook's queries.

A query in Bicep must be ``loadTextContent('queries/<name>.kql')``, directly or through the item
of the loop that creates the resource; anything else fails loudly rather than go unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.infra.bicep import INFRA, ROOT, bicep_files, parse

QUERIES_DIR = INFRA / "app" / "queries"
SAVED_SEARCHES = "Microsoft.OperationalInsights/workspaces/savedSearches"
ALERT_RULES = "Microsoft.Insights/scheduledQueryRules"
WORKBOOKS = "Microsoft.Insights/workbooks"
WORKSPACE_PLACEHOLDER = "__WORKSPACE_ID__"

# What the portal puts in place of each workbook parameter, in the two shapes a time range takes
# (relative, or a custom range) and for a selection as well as for "All".
PARAMETER_VALUES: tuple[Mapping[str, str], ...] = (
    {
        "TimeRange": "> ago(4h)",
        "TimeRange:start": "datetime(2026-01-01T00:00:00Z)",
        "TimeRange:end": "datetime(2026-01-01T04:00:00Z)",
        "TimeRange:grain": "5m",
        "Queue": "'jobs', 'jobs-long'",
        "Kind": "'echo'",
    },
    {
        "TimeRange": "between (datetime(2026-01-01T00:00:00Z) .. datetime(2026-01-08T00:00:00Z))",
        "TimeRange:start": "datetime(2026-01-01T00:00:00Z)",
        "TimeRange:end": "datetime(2026-01-08T00:00:00Z)",
        "TimeRange:grain": "1h",
        "Queue": "'*'",
        "Kind": "'*'",
    },
)
_PARAMETER = re.compile(r"\{([A-Za-z]+(?::[a-z]+)?)\}")


class UnsupportedQuery(AssertionError):
    """A query written in a way this reader cannot resolve, and so cannot check."""


@dataclass(frozen=True)
class Query:
    name: str  # unique: where it is deployed, e.g. "alerts.bicep alertRules[poison-messages]"
    text: str
    file: Path | None  # the .kql file it was loaded from, if any
    function: str | None = None  # the workspace function alias, for a stored function


@dataclass(frozen=True)
class WorkbookQuery:
    name: str  # the item's name, or the parameter's
    title: str
    text: str  # with {Parameter} placeholders, as stored
    visualization: str
    item: dict[str, Any]  # the query item's content, or the parameter

    def expanded(self, values: Mapping[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise UnsupportedQuery(f"workbook query {self.name} uses unknown {{{key}}}")
            return values[key]

        return _PARAMETER.sub(value, self.text)


def _evaluate(node: Any, base: Path, scope: Mapping[str, Any], where: str) -> tuple[str, Path]:
    if isinstance(node, dict) and "function" in node:
        function = node["function"]
        if function["type"] == "load_text_content":
            path = (base / function["parameters"]["file_path"]).resolve()
            return path.read_text(encoding="utf-8"), path
    if isinstance(node, dict) and "operator" in node:
        operator = node["operator"]
        if operator["type"] == "property_accessor":
            operands = operator["operands"]
            item = scope.get(operands["operand_1"])
            if isinstance(item, dict) and operands["operand_2"] in item:
                return _evaluate(item[operands["operand_2"]], base, {}, where)
    raise UnsupportedQuery(
        f"{where}: a query must be loadTextContent('queries/<name>.kql'), got {node!r}"
    )


def _instances(path: Path, resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(label, scope, config) for each resource a (possibly looped) declaration creates."""
    config = resource["config"]
    loop = config.get("loop_type")
    if loop is None:
        yield "", {}, config
        return
    detail = loop["detail"]
    variables = parse(path).get("variables", {})
    if not isinstance(detail["array_name"], str) or detail["array_name"] not in variables:
        raise UnsupportedQuery(f"{path.name}: loop over {detail['array_name']!r} is not a var")
    for index, item in enumerate(variables[detail["array_name"]]["value"]):
        label = item.get("name", index) if isinstance(item, dict) else index
        yield f"[{label}]", {detail["item_name"]: item}, config["config"]


def bicep_queries() -> list[Query]:
    found: list[Query] = []
    for path in bicep_files():
        for symbol, resource in parse(path).get("resources", {}).items():
            if resource["type"] not in (SAVED_SEARCHES, ALERT_RULES):
                continue
            for label, scope, config in _instances(path, resource):
                where = f"{path.relative_to(INFRA).as_posix()} {symbol}{label}"
                properties = config.get("properties", {})
                if resource["type"] == SAVED_SEARCHES:
                    text, file = _evaluate(properties.get("query"), path.parent, scope, where)
                    alias = properties.get("functionAlias")
                    function = None
                    if alias is not None:
                        function = _evaluate_plain(alias, scope, where)
                    found.append(Query(where, text, file, function))
                elif resource["type"] == ALERT_RULES:
                    for n, criterion in enumerate(properties["criteria"]["allOf"]):
                        text, file = _evaluate(criterion.get("query"), path.parent, scope, where)
                        found.append(Query(f"{where} criterion {n}", text, file))
    return found


def _evaluate_plain(node: Any, scope: Mapping[str, Any], where: str) -> str:
    """A string field that is either a literal or the loop item's property."""
    if isinstance(node, dict) and "operator" in node:
        operands = node["operator"]["operands"]
        value = scope.get(operands["operand_1"], {}).get(operands["operand_2"])
        if isinstance(value, str):
            return value
    if isinstance(node, str):
        return node
    raise UnsupportedQuery(f"{where}: cannot read {node!r}")


def functions() -> dict[str, str]:
    """The workspace functions: alias -> body."""
    return {q.function: q.text for q in bicep_queries() if q.function is not None}


def workbook_files() -> list[Path]:
    """The workbook JSON files the Bicep loads: every JSON file loaded by a Bicep file that
    declares a workbook (its serializedData may go through a var)."""
    files: list[Path] = []
    for path in bicep_files():
        parsed = parse(path)
        if any(r["type"] == WORKBOOKS for r in parsed.get("resources", {}).values()):
            files += [
                (path.parent / file).resolve()
                for file in _loaded_files(parsed)
                if file.endswith(".json")
            ]
    return files


def _loaded_files(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        function = node.get("function")
        if isinstance(function, dict) and function.get("type") == "load_text_content":
            yield function["parameters"]["file_path"]
        for value in node.values():
            yield from _loaded_files(value)


@cache
def workbook(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def workbook_items(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item, groups' items included, in order."""
    for item in items:
        yield item
        if item["type"] == 12:
            yield from workbook_items(item["content"]["items"])


def workbook_queries(path: Path) -> list[WorkbookQuery]:
    found: list[WorkbookQuery] = []
    for item in workbook_items(workbook(path)["items"]):
        content = item["content"]
        if item["type"] == 3:
            found.append(
                WorkbookQuery(
                    item["name"],
                    content["title"],
                    content["query"],
                    content["visualization"],
                    content,
                )
            )
        elif item["type"] == 9:
            found += [
                WorkbookQuery(p["name"], p.get("label", p["name"]), p["query"], "parameter", p)
                for p in content["parameters"]
                if "query" in p
            ]
    return found


def all_queries() -> dict[str, str]:
    """Every query deployed, by a unique name, as the checks analyse it: workbook queries once
    for each set of parameter values."""
    queries = {q.name: q.text for q in bicep_queries()}
    for path in workbook_files():
        label = path.relative_to(ROOT).as_posix()
        for query in workbook_queries(path):
            for n, values in enumerate(PARAMETER_VALUES):
                queries[f"{label} {query.name} (parameters {n})"] = query.expanded(values)
    return queries
