"""Reading infra/: where the Bicep files are and what pycep makes of them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, cast

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FUNCTION_MODULE = INFRA / "app" / "function.bicep"
STORAGE_MODULE = INFRA / "app" / "storage.bicep"


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@cache
def parse(path: Path) -> dict[str, Any]:
    # pycep's BicepJson is a TypedDict; the tests walk it as plain JSON.
    return cast(dict[str, Any], BicepParser().parse(file_path=path))


def variable(path: Path, name: str) -> Any:
    variables: dict[str, Any] = parse(path).get("variables", {})
    assert name in variables, f"{path.relative_to(ROOT)} has no var {name}"
    return variables[name]["value"]
