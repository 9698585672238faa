"""What users install: the client needs httpx and pydantic, never the service's code or the
Functions library, and its declared dependencies are the versions the repository pins."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from harness.azurite import REPO

CHECK = (
    "import json, sys, jobs_client, jobs_client.cli; "
    "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
)


def test_the_client_imports_nothing_of_the_service_or_azure() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert {"jobs_client", "httpx", "pydantic"} <= loaded
    assert not loaded & {"azure", "jobs", "api", "devhost", "harness", "requests"}


def _pins(name: str) -> dict[str, str]:
    lines = (REPO / name).read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_the_declared_dependencies_are_the_pinned_ones() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = dict(d.split("==", 1) for d in project["dependencies"])
    pinned = {**_pins("requirements.txt"), **_pins("requirements-dev.txt")}
    assert set(declared) == {"httpx", "pydantic"}
    assert {name: pinned[name] for name in declared} == declared
    assert project["scripts"] == {"jobs": "jobs_client.cli:run"}
