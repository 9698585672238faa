"""The domain speaks no HTTP: status codes, URL paths and query parsing live in api/."""

from __future__ import annotations

import re

import pytest

from harness.azurite import REPO

HTTP = re.compile(
    r"(?<![.\d])\b(?:30[0-9]|4[0-9][0-9]|5[0-9][0-9])\b(?![.\d]|\s*(?:bytes|characters|rows|ms))"
    r"|/api\b|status_code|route_params|\.params\b|urllib\.parse|query string"
)
ALLOWED = re.compile(r"\b(?:MAX_KEY_LENGTH|PAGE|MAX_\w+)\s*=")  # named sizes, not statuses


def _offences(name: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        if HTTP.search(code) and not ALLOWED.search(code):
            found.append(f"{name}:{number}: {line.strip()}")
    return found


# Modules whose job is talking HTTP to someone else, not being our API.
OUTBOUND = {"jobs/task_end/webhooks.py"}  # calls receivers' callback URLs and reads their answers


def test_the_domain_has_no_status_code_url_path_or_query_parsing() -> None:
    offences = [
        offence
        for path in sorted((REPO / "jobs").rglob("*.py"))
        if str(path.relative_to(REPO)) not in OUTBOUND
        for offence in _offences(str(path.relative_to(REPO)), path.read_text())
    ]
    assert offences == []


@pytest.mark.parametrize(
    "line",
    ['    return error_answer(404, "no such task")', 'url = f"/api/tasks/{task_id}"',
     "limit = req.params.get('limit')", "if error.status_code == 412:"],
)  # fmt: skip
def test_the_check_catches_http_in_code(line: str) -> None:
    assert _offences("probe.py", line)
