"""What the deployment package holds: .funcignore keeps tools and tests out, and never the
files the app reads at run time (the dashboard's page is served from its own folder)."""

from __future__ import annotations

import fnmatch

import pytest

from harness.azurite import REPO

SERVED = ["function_app.py", "host.json", "requirements.txt", "api/dashboard.py",
          "ncrontab/__init__.py", "ncrontab/schedule.py",
          "dashboard/index.html", "dashboard/dashboard.css", "dashboard/dashboard.js"]  # fmt: skip


def ignored(path: str) -> bool:
    """Whether a .funcignore pattern (gitignore rules: a name matches at any depth) drops it."""
    parts = path.split("/")
    for line in (REPO / ".funcignore").read_text().splitlines():
        pattern = line.strip().rstrip("/")
        if not pattern or pattern.startswith("#"):
            continue
        if fnmatch.fnmatch(path, pattern.lstrip("/")):
            return True
        if "/" not in pattern and any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


@pytest.mark.parametrize("path", SERVED)
def test_the_package_holds_what_the_app_serves(path: str) -> None:
    assert (REPO / path).is_file()
    assert not ignored(path)


@pytest.mark.parametrize("path", ["tests/e2e/test_dashboard.py", "screenshots/x.png",
                                  "devhost/host.py", "devhost/schedules.py",
                                  "tests/ncrontab/test_schedule.py",
                                  "node_modules/a/b.js"])  # fmt: skip
def test_the_package_leaves_out_tools_tests_and_screenshots(path: str) -> None:
    assert ignored(path)
