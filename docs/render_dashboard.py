"""Take the README's picture of the dashboard: a private Azurite and the local host, a few tasks
that complete, fail, run and get cancelled, and the page as a browser shows it.

    .venv/bin/python -m docs.render_dashboard          # writes docs/dashboard.png

Needs chromium (Debian: apt-get install chromium), and pngquant to keep the PNG small if it is
there; CI does not run it.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import expect, sync_playwright

from harness.azurite import REPO, start_azurite
from harness.localhost import start_devhost
from harness.polling import wait_until
from jobs.storage.provision import provision

DOCS = Path(__file__).resolve().parent
SETTINGS = {"JOBS_TEST_KINDS": "true", "JOBS_SWEEP_SCHEDULE": "*/2 * * * * *"}


def main() -> None:
    azurite = start_azurite()
    env = {"JobsStorage": azurite.connection_string,
           "AzureWebJobsStorage": azurite.connection_string}  # fmt: skip
    provision(env)
    host = start_devhost(REPO, {**env, **SETTINGS})
    try:
        api = host.api

        def submit(kind: str, items: list[Any]) -> str:
            answer = requests.post(f"{api}/tasks", json={"kind": kind, "items": items}, timeout=30)
            answer.raise_for_status()
            return str(answer.json()["task_id"])

        def finished(task_id: str) -> bool:
            status = requests.get(f"{api}/tasks/{task_id}", timeout=30).json()["status"]
            return bool(status != "running")

        done = [submit("echo", list(range(40))), submit("echo", list(range(250)))]
        failing = submit("flaky", [{"fail_times": 0}] * 9 + [{"fail_times": 9}] * 3)
        done.append(submit("fail", [{"permanent": True}] * 2))
        cancelled = submit("sleep", [{"seconds": 1}] * 200)
        requests.delete(f"{api}/tasks/{cancelled}", timeout=30)
        for task_id in [*done, failing, cancelled]:
            wait_until(partial(finished, task_id), timeout=120, message=f"{task_id} to end")
        submit("sleep", [{"seconds": 0.5}] * 120)  # running while the picture is taken

        png = DOCS / "dashboard.png"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox"],
            )
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(f"{api}/dashboard")
            expect(page.locator("li.task")).to_have_count(6, timeout=30_000)
            page.wait_for_function(
                "(document.querySelector('li.task .pct') || {}).textContent > '0 %'",
                timeout=30_000,
            )
            page.screenshot(path=str(png))
            browser.close()
    finally:
        host.stop()
        azurite.stop()
    quantizer = shutil.which("pngquant")
    if quantizer:
        subprocess.run(
            [quantizer, "--quality=60-85", "--speed=1", "--force", f"--output={png}", str(png)],
            check=True,
            timeout=120,
        )
    print(f"wrote {png.relative_to(DOCS.parent)}")


if __name__ == "__main__":
    main()
