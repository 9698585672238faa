"""A typed client of the batch jobs service: one method per route, the function key, timeouts,
and retries of the calls that are safe to repeat.

Retried, on connection errors and timeouts and on ``503`` with ``Retry-After``: GET and DELETE,
and submits that carry an Idempotency-Key (the service returns the same task for a repeat).
Any call is retried when the connection could not even be opened, since nothing was sent."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from jobs_client import submission
from jobs_client.errors import ApiError, ClientError, Unreachable
from jobs_client.models import (
    Accepted,
    CancelAccepted,
    ErrorDocument,
    Health,
    Job,
    JobDetail,
    JobPage,
    KindList,
    ResultLine,
    RetryAccepted,
    Task,
    TaskPage,
)

DEFAULT_URL = "http://127.0.0.1:7071/api"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
KEY_HEADER = "x-functions-key"
MAX_RETRY_AFTER = 30.0  # seconds: a longer Retry-After is cut to this
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
M = TypeVar("M", bound=BaseModel)


class Client:
    """``url`` defaults to ``JOBS_URL``, then the local host; ``key`` (the function key, sent as
    ``x-functions-key``) to ``JOBS_KEY``. ``retries`` is how many times a call is repeated."""

    def __init__(
        self,
        url: str | None = None,
        *,
        key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.url = (url or os.environ.get("JOBS_URL") or DEFAULT_URL).rstrip("/")
        key = key if key is not None else os.environ.get("JOBS_KEY")
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(
            base_url=self.url + "/",
            headers={KEY_HEADER: key} if key else {},
            timeout=timeout,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- tasks -----------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        items: Sequence[Any],
        *,
        queue: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        key: str | None = None,
        then: Mapping[str, Any] | None = None,
        priority: str | None = None,
    ) -> Accepted:
        """Submit a batch. With ``key`` (an Idempotency-Key) a repeat returns the same task, so
        the call is retried; without one it is sent once. ``then``: the next stage,
        ``{"kind", "over": "each" | "all", "when"?, "queue"?, "then"?}``; ``priority``: high,
        normal (the service's default) or low."""
        body = submission.body(
            kind, items, queue=queue, metadata=metadata, then=then, priority=priority
        )
        headers = {"content-type": "application/json"}
        if key is not None:
            headers["idempotency-key"] = key
        response = self._call("POST", "tasks", retry=key is not None, content=body, headers=headers)
        return _parse(Accepted, response)

    def get_task(self, task_id: str) -> Task:
        return _parse(Task, self._call("GET", _task(task_id)))

    def list_tasks(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        continuation: str | None = None,
    ) -> TaskPage:
        """One page of tasks (``GET /tasks``), newest first, optionally in one state."""
        query = {"state": state, "kind": kind, "limit": limit, "continuation": continuation}
        return _parse(TaskPage, self._call("GET", "tasks", params=_present(query)))

    def iter_tasks(
        self, *, state: str | None = None, kind: str | None = None, page: int | None = None
    ) -> Iterator[Task]:
        continuation = None
        while True:
            found = self.list_tasks(state=state, kind=kind, limit=page, continuation=continuation)
            yield from found.tasks
            continuation = found.continuation
            if not continuation:
                return

    def cancel(self, task_id: str) -> CancelAccepted:
        return _parse(CancelAccepted, self._call("DELETE", _task(task_id)))

    def retry(self, task_id: str) -> RetryAccepted:
        """Send the task's failed jobs round again. Not repeated on a lost answer: a second
        request after the round has ended would start another."""
        return _parse(RetryAccepted, self._call("POST", f"{_task(task_id)}/retry", retry=False))

    def wait(
        self,
        task_id: str,
        *,
        interval: float = 0.5,
        timeout: float | None = None,
        on_update: Callable[[Task], None] | None = None,
    ) -> Task:
        """Poll the task until it has finished; ``on_update`` sees every poll's answer.
        TimeoutError when ``timeout`` seconds pass first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.get_task(task_id)
            if on_update is not None:
                on_update(task)
            if task.finished:
                return task
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {task_id} still {task.status} after {timeout}s")
            time.sleep(interval)

    # -- jobs and results ------------------------------------------------------------------

    def list_jobs(
        self,
        task_id: str,
        *,
        status: str | None = None,
        limit: int | None = None,
        continuation: str | None = None,
    ) -> JobPage:
        query = {"status": status, "limit": limit, "continuation": continuation}
        return _parse(JobPage, self._call("GET", f"{_task(task_id)}/jobs", params=_present(query)))

    def iter_jobs(
        self, task_id: str, *, status: str | None = None, page: int | None = None
    ) -> Iterator[Job]:
        continuation = None
        while True:
            found = self.list_jobs(task_id, status=status, limit=page, continuation=continuation)
            yield from found.jobs
            continuation = found.continuation
            if not continuation:
                return

    def get_job(self, task_id: str, job: str | int) -> JobDetail:
        job_id = f"{job:08d}" if isinstance(job, int) else job
        return _parse(
            JobDetail, self._call("GET", f"{_task(task_id)}/jobs/{quote(job_id, safe='')}")
        )

    def results(self, task_id: str) -> Iterator[ResultLine]:
        """The results, one line per item in item order (ApiError 409 while the task runs)."""
        with self._stream(f"{_task(task_id)}/results") as response:
            for line in response.iter_lines():
                if line.strip():
                    yield ResultLine.model_validate_json(line)

    def download_results(self, task_id: str, out: IO[bytes]) -> int:
        """Write the results' NDJSON to ``out`` as served; returns how many lines."""
        lines = 0
        with self._stream(f"{_task(task_id)}/results") as response:
            for chunk in response.iter_bytes():
                out.write(chunk)
                lines += chunk.count(b"\n")
        return lines

    # -- the service -----------------------------------------------------------------------

    def kinds(self) -> KindList:
        """The kinds the service runs, with each one's queue, attempts, time limit and limits
        across instances (``GET /kinds``)."""
        return _parse(KindList, self._call("GET", "kinds"))

    def health(self) -> Health:
        """Whether the service's storage answers (a 503 here is an answer, not an error)."""
        return _parse(Health, self._call("GET", "health", answers=(503,)))

    def openapi(self) -> dict[str, Any]:
        document: dict[str, Any] = self._call("GET", "openapi.json").json()
        return document

    # -- sending ---------------------------------------------------------------------------

    def _stream(self, path: str) -> _Streamed:
        return _Streamed(self._call("GET", path, stream=True))

    def _call(
        self,
        method: str,
        path: str,
        *,
        retry: bool | None = None,
        stream: bool = False,
        answers: tuple[int, ...] = (),
        **options: Any,
    ) -> httpx.Response:
        """Send, repeating as the module's docstring says; raise ApiError for an error status
        (except ``answers``) and Unreachable when the service never answered."""
        retry = method in ("GET", "DELETE") if retry is None else retry
        attempt = 0
        while True:
            request = self._http.build_request(method, path, **options)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.UnsupportedProtocol as error:
                raise ClientError(f"{self.url} is not an http(s) URL") from error
            except httpx.TransportError as error:
                if attempt >= self.retries or not (retry or isinstance(error, NOT_SENT)):
                    raise Unreachable(f"{method} {request.url}: {_describe(error)}") from error
                self._pause(attempt, None)
            else:
                status = response.status_code
                wait = _retry_after(response) if status == 503 else None
                if wait is not None and retry and attempt < self.retries:
                    response.close()
                    self._pause(attempt, wait)
                elif response.is_error and status not in answers:
                    raise _error(response)
                else:
                    return response
            attempt += 1

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is None:
            retry_after = self.backoff * 2**attempt * random.uniform(0.5, 1.0)
        time.sleep(min(retry_after, MAX_RETRY_AFTER))


class _Streamed:
    """A streamed response, closed however its reader stops."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    def __enter__(self) -> httpx.Response:
        return self.response

    def __exit__(self, *exc: object) -> None:
        self.response.close()


def _task(task_id: str) -> str:
    return f"tasks/{quote(task_id, safe='')}"


def _present(query: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in query.items() if value is not None}


def _parse(model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate_json(response.content)
    except ValidationError as error:
        raise ClientError(f"unexpected answer from {response.request.url}: {error}") from error


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error(response: httpx.Response) -> ApiError:
    """The error document as an ApiError; a body that is not one (the host's own 401 or 404)
    gets a message saying what it most likely means."""
    body = response.read()
    try:
        document = ErrorDocument.model_validate_json(body)
    except ValidationError:
        status = response.status_code
        message = HINTS.get(status, response.reason_phrase or "error")
        where = f"{response.request.method} {response.request.url}"
        return ApiError(status, f"{message} ({where})", bare=True)
    return ApiError(response.status_code, document.error, document.details)


HINTS = {
    401: "the function key is missing or wrong: pass --key or set JOBS_KEY",
    403: "the function key is not allowed here",
    404: "no such route: is the URL right, and does this service have the call?",
    405: "the service does not take this method here",
}


def _describe(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if text != type(error).__name__ else text
