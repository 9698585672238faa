"""The dashboard as a person uses it: the real page in headless Chromium (Debian's package,
driven by Playwright) against the local host on Azurite. It watches a task appear and its bar
fill, opens a task with failed jobs, reads an error, retries, cancels a running task, follows
a chain of stages, and takes the function key as Azure needs it. Screenshots go to
screenshots/ (not committed)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from harness.azurite import REPO
from harness.localhost import start_devhost
from jobs.core.resources import INPUTS_CONTAINER
from tests.e2e.conftest import SETTINGS, Api

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SLOW = 90_000  # ms: a task's whole run, retries and the sweep included


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        # Root in a container has no user namespace for Chromium's sandbox.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def open_page(browser: Browser, url: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(
        viewport=options.pop("viewport", DESKTOP),
        color_scheme=options.pop("color_scheme", "light"),
        accept_downloads=True,
        **options,
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.goto(url)
    page.problems = problems  # type: ignore[attr-defined]
    return context, page


def task_row(page: Page, task_id: str) -> Any:
    return page.locator(f'li.task[data-task-id="{task_id}"]')


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def no_page_errors(page: Page) -> None:
    assert page.problems == []  # type: ignore[attr-defined]


def blob_container(api: Api) -> Any:
    container = api.blobs().get_container_client(INPUTS_CONTAINER)
    if not container.exists():
        container.create_container()
    return container


def test_a_submitted_task_appears_and_its_bar_fills_to_100(api: Api, browser: Browser) -> None:
    context, page = open_page(browser, api.url("dashboard"))
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    task_id = api.submit("sleep", [{"seconds": 0.3}] * 24)

    row = task_row(page, task_id)
    expect(row).to_be_visible(timeout=15_000)
    expect(row.locator(".kind")).to_have_text("sleep")
    bar = row.get_by_role("progressbar")
    expect(bar).to_have_attribute("aria-valuenow", "100", timeout=SLOW)
    expect(row.locator(".pct")).to_have_text("100 %")
    expect(row.locator(".state")).to_have_text("completed")
    expect(row.locator(".counts-line")).to_contain_text("24 of 24 finished")
    # The chart and the overview caught up with it: the sampler runs on the sweep's timer.
    expect(page.locator("#chart svg")).not_to_have_attribute(
        "aria-label", re.compile(r"Last hour: 0 jobs completed"), timeout=15_000
    )
    expect(page.locator("#queues tr")).to_have_count(6)
    shot(page, "desktop-light-list")
    no_page_errors(page)
    context.close()


def test_a_task_with_failed_jobs_shows_their_errors_and_a_retry_fixes_them(
    api: Api, browser: Browser
) -> None:
    container = blob_container(api)
    names = [f"{uuid.uuid4().hex}.txt" for _ in range(3)]
    container.upload_blob(names[0], b"present\n")
    items = [{"container": INPUTS_CONTAINER, "blob": n, "operation": "upper"} for n in names]
    task_id = api.submit("transform", items)
    api.wait_finished(task_id, timeout=SLOW / 1000)

    context, page = open_page(browser, api.url("dashboard"), color_scheme="dark")
    task_row(page, task_id).click()  # as a person finds it in the list
    view = page.locator("#task")
    expect(view).to_be_visible()
    expect(view.locator(".state")).to_have_text("completed with failures")
    failed = page.locator("#failed-jobs li")
    expect(failed).to_have_count(2)
    expect(failed.first.locator(".error")).to_have_text(
        f"blob {INPUTS_CONTAINER}/{names[1]} does not exist"
    )
    expect(page.locator("#task-counts")).to_contain_text("failed2")
    shot(page, "desktop-dark-task-failed")

    for name in names[1:]:  # the cause fixed
        container.upload_blob(name, b"later\n")
    page.get_by_role("button", name="Retry failed jobs").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_contain_text("Run the 2 failed jobs of this task again?")
    dialog.get_by_role("button", name="Retry failed jobs").click()
    expect(page.locator("#action-note")).to_have_text("2 failed jobs sent to run again.")

    expect(page.locator("#task-counts")).to_contain_text("completed3", timeout=SLOW)
    expect(page.locator("#task-counts")).to_contain_text("failed0")
    expect(view.locator(".state")).to_have_text("completed")
    expect(page.locator("#no-failed")).to_be_visible()

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download results").click()
    lines = downloading.value.path().read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["completed"] * 3
    no_page_errors(page)
    context.close()


def test_a_tasks_priority_shows_in_the_list_and_its_view(api: Api, browser: Browser) -> None:
    urgent = api.submit("echo", [1, 2], priority="high")
    plain = api.submit("echo", [3])
    context, page = open_page(browser, api.url("dashboard"))
    expect(task_row(page, urgent).locator(".priority")).to_have_text("high priority")
    expect(task_row(page, plain).locator(".priority")).to_have_count(0)  # normal: said once, below
    task_row(page, plain).click()
    expect(page.locator("#task-priority")).to_have_text("normal priority")
    page.goto(api.url(f"dashboard#task/{urgent}"))
    expect(page.locator("#task-priority")).to_have_text("high priority")
    no_page_errors(page)
    context.close()


def test_cancel_on_a_running_task_asks_first_then_cancels_it(api: Api, browser: Browser) -> None:
    task_id = api.submit("sleep", [{"seconds": 1}] * 300)
    context, page = open_page(browser, api.url(f"dashboard#task/{task_id}"))
    view = page.locator("#task")
    expect(view.locator(".state")).to_have_text("running")
    cancel = page.get_by_role("button", name="Cancel task")

    cancel.click()
    page.locator("dialog#confirm").get_by_role("button", name="Keep as it is").click()
    expect(page.locator("dialog#confirm")).not_to_be_visible()
    assert api.status(task_id)["status"] == "running"  # changed nothing

    cancel.click()
    page.locator("dialog#confirm").get_by_role("button", name="Cancel task").click()
    expect(view.locator(".state")).to_have_text("cancelled", timeout=SLOW)
    cancelled = api.status(task_id)["counts"]["cancelled"]
    assert cancelled > 0
    expect(page.locator("#task-counts")).to_contain_text(f"cancelled{cancelled}")
    expect(cancel).to_be_disabled()
    no_page_errors(page)
    context.close()


def test_the_list_filters_by_state(api: Api, browser: Browser) -> None:
    done = api.submit("echo", [1, 2])
    api.wait_finished(done)
    running = api.submit("sleep", [{"seconds": 20}])
    context, page = open_page(browser, api.url("dashboard"))
    expect(task_row(page, running)).to_be_visible()
    expect(task_row(page, done)).to_be_visible()

    page.get_by_label("State").select_option("running")
    expect(task_row(page, done)).to_have_count(0)
    expect(task_row(page, running)).to_be_visible()
    expect(page.locator("li.task:not([data-status=running])")).to_have_count(0)

    page.get_by_label("State").select_option("completed")
    expect(task_row(page, done)).to_be_visible()
    expect(task_row(page, running)).to_have_count(0)
    api.delete(f"tasks/{running}")
    no_page_errors(page)
    context.close()


def test_a_task_links_its_stages_and_shows_what_follows_and_a_stage_error(
    api: Api, browser: Browser
) -> None:
    then = {"kind": "echo", "over": "each", "then": {"kind": "collect", "over": "all"}}
    first = api.submit("echo", [1, 2, 3], then=then)
    broken = api.submit("echo", ["a"], then={"kind": "collect", "over": "all"})
    context, page = open_page(browser, api.url(f"dashboard#task/{first}"))
    chain = page.locator("#task-chain")
    expect(chain).to_contain_text("Then: echo over each → collect over all")
    next_link = chain.get_by_role("link")
    expect(next_link).to_be_visible(timeout=SLOW)  # once the first task's end submitted it
    second = api.status(first)["next"]
    expect(chain).to_contain_text(f"Next stage {second[:8]}")
    expect(task_row(page, first)).to_have_count(0)  # the task view, not the list

    next_link.click()
    expect(page.locator("#task-id")).to_have_text(second)
    expect(chain).to_contain_text(f"Previous stage {first[:8]}")
    expect(chain).to_contain_text("Then: collect over all")
    expect(chain.get_by_role("link", name=first[:8])).to_have_attribute("href", f"#task/{first}")
    shot(page, "desktop-light-task-stages")

    page.goto(api.url(f"dashboard#task/{broken}"))
    expect(chain.locator(".error")).to_contain_text(
        "the next stage (collect, over all) was not submitted", timeout=SLOW
    )
    shot(page, "desktop-light-task-stage-error")

    page.goto(api.url("dashboard"))
    expect(task_row(page, second).locator(".chain-line")).to_contain_text(f"after {first[:8]}")
    no_page_errors(page)
    context.close()


def test_an_error_from_the_api_reads_as_a_sentence(api: Api, browser: Browser) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    context, page = open_page(browser, api.url(f"dashboard#task/{missing}"))
    expect(page.get_by_role("alert")).to_have_text("No such task, job or schedule")
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_page_fits_a_phone_in_light_and_dark(api: Api, browser: Browser, scheme: str) -> None:
    task_id = api.submit("fail", [{"permanent": True}, {"message": "kept failing"}] * 2)
    api.submit("echo", [1])
    context, page = open_page(
        browser, api.url("dashboard"), viewport=PHONE, color_scheme=scheme, is_mobile=True
    )
    expect(task_row(page, task_id)).to_be_visible()
    expect(page.locator("#chart svg")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (background == "rgb(13, 17, 23)") == (scheme == "dark")
    shot(page, f"phone-{scheme}-list")

    task_row(page, task_id).click()
    expect(page.locator("#failed-jobs li").first).to_be_visible(timeout=SLOW)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, f"phone-{scheme}-task")
    no_page_errors(page)
    context.close()


def test_the_page_takes_the_function_key_once_and_keeps_it_for_the_session(
    api: Api, browser: Browser
) -> None:
    key = uuid.uuid4().hex
    env = {"JobsStorage": api.azurite.connection_string,
           "AzureWebJobsStorage": api.azurite.connection_string,
           "DEVHOST_FUNCTION_KEY": key, "DEVHOST_MASTER_KEY": uuid.uuid4().hex}  # fmt: skip
    host = start_devhost(REPO, {**env, **SETTINGS}, args=["--check-keys"])
    try:
        assert requests.get(f"{host.api}/tasks", timeout=30).status_code == 401
        assert requests.get(f"{host.api}/dashboard", timeout=30).status_code == 200

        context, page = open_page(browser, f"{host.api}/dashboard?code={key}")
        expect(page.locator("#queues tr")).to_have_count(6)
        expect(page.get_by_role("alert")).to_be_hidden()
        assert "code=" not in page.url  # out of the address bar and the history
        page.reload()  # the same browser session: no question asked
        expect(page.locator("#queues tr")).to_have_count(6)
        expect(page.locator("dialog#key")).not_to_be_visible()
        context.close()

        context, page = open_page(browser, f"{host.api}/dashboard")  # a new session
        dialog = page.locator("dialog#key")
        expect(dialog).to_be_visible()
        dialog.locator("input").fill("wrong")
        dialog.get_by_role("button", name="Use this key").click()
        expect(page.get_by_role("alert")).to_contain_text("refused the function key")
        page.get_by_role("button", name="Function key").click()
        dialog.locator("input").fill(key)
        dialog.get_by_role("button", name="Use this key").click()
        expect(page.locator("#queues tr")).to_have_count(6)
        expect(page.get_by_role("alert")).to_be_hidden()
        context.close()
    finally:
        host.stop()
