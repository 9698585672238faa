"""The Kusto language service, driven through node: parse and analyse KQL against the schema of
the workspace's tables (tables.json) and its stored functions."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SCRIPT = HERE / "analyze.cjs"
TABLES = HERE / "tables.json"
SERVICE = ROOT / "node_modules" / "@kusto" / "language-service-next"


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    start: int
    length: int

    def where(self, text: str) -> str:
        line = text.count("\n", 0, self.start) + 1
        snippet = text[self.start : self.start + max(self.length, 1)]
        return f"line {line} {snippet!r}: {self.severity} {self.code} {self.message}"


@dataclass(frozen=True)
class Assignment:
    """``name = expression`` in an extend, project or summarize."""

    name: str
    text: str  # the expression
    literals: tuple[str, ...]  # the string literals in it


@dataclass(frozen=True)
class Analysis:
    name: str
    diagnostics: tuple[Diagnostic, ...]
    columns: tuple[tuple[str, str], ...]  # the result's columns: (name, type)
    references: frozenset[str]  # every column name the query reads
    events: frozenset[str]  # string literals compared with a column named `event`
    assignments: tuple[Assignment, ...]


@cache
def tables() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(TABLES.read_text())["tables"]
    return schema


def analyze(
    queries: Mapping[str, str], functions: Mapping[str, str] | None = None
) -> dict[str, Analysis]:
    """Analyse each of ``queries`` (name -> text); ``functions`` (name -> body) are stored
    functions the queries may call, as the workspace's saved functions are."""
    node = shutil.which("node")
    if node is None or not SERVICE.exists():
        raise RuntimeError("node and node_modules/@kusto/language-service-next are needed")
    request = {
        "tables": tables(),
        "functions": dict(functions or {}),
        "queries": [{"name": name, "text": text} for name, text in queries.items()],
    }
    run = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    if run.returncode != 0:
        raise RuntimeError(f"{SCRIPT.name} exited {run.returncode}:\n{run.stderr[-3000:]}")
    return {item["name"]: _analysis(item) for item in json.loads(run.stdout)["queries"]}


def _analysis(item: dict[str, Any]) -> Analysis:
    diagnostics: Sequence[dict[str, Any]] = item["diagnostics"]
    return Analysis(
        name=item["name"],
        diagnostics=tuple(Diagnostic(**d) for d in diagnostics),
        columns=tuple((str(n), str(t)) for n, t in item["columns"]),
        references=frozenset(item["references"]),
        events=frozenset(item["events"]),
        assignments=tuple(
            Assignment(a["name"], a["text"], tuple(a["literals"])) for a in item["assignments"]
        ),
    )
