"""The host's side of the worker process: start it, invoke functions, enforce functionTimeout.

Timeouts, as Azure/azure-webjobs-sdk ``src/Microsoft.Azure.WebJobs.Host/Executors/
FunctionExecutor.cs`` and Azure/azure-functions-host
``src/WebJobs.Script.WebHost/WebScriptHostExceptionHandler.cs`` handle them: when an
invocation passes functionTimeout the host waits a 2 s grace (``TimeoutAttribute``'s
``GracePeriod``) for it; if it is still running, the worker process that runs it is killed and
started again (``RpcFunctionInvocationDispatcher.RestartWorkerWithInvocationIdAsync``); either
way the invocation fails. The other invocations in that worker are not failed by the restart
(the channel is disposed without an exception, ``GrpcWorkerChannel.cs``): they stay pending until
their own timeout fails them. A worker that exits on its own fails everything it was running
at once (``TryFailExecutions``).

Host-side failures before the worker is asked (a queue body that is not UTF-8) fail the
invocation through :meth:`Invoker.fail_binding`, with the same log lines.

``FUNCTIONS_WORKER_PROCESS_COUNT`` worker processes (1 to 10; Azure/azure-functions-host
``src/WebJobs.Script/Workers/Rpc/Configuration/RpcWorkerConfigFactory.cs``
``GetWorkerProcessCount``) each import the app; invocations go to them in turn
(``RpcFunctionInvocationDispatcherLoadBalancer.cs``), skipping one that is restarting. The host
starts the extra ones ``ProcessStartupInterval`` (10 s) apart; devhost starts them together.
Retry policies are run here (devhost/retries.py), and each invocation carries a trace context:
the caller's ``traceparent`` trace id when it sent one, else a new one, with a new span id, as
ASP.NET's ``Activity`` gives the host (``ScriptInvocationContextExtensions.cs``
``GetRpcTraceContext``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost import logs
from devhost.ipc import frame, read_message
from devhost.retries import RetryPolicy, span

_REPO_ROOT = str(Path(__file__).resolve().parents[1])
TIMEOUT_GRACE = 2.0


class InvocationFailed(Exception):
    """The invocation failed (the function raised, timed out, or its worker died)."""


class WorkerLost(Exception):
    """The host is shutting down and abandoned this invocation; nobody completes it."""


@dataclass
class WorkerProcess:
    process: asyncio.subprocess.Process
    writer: asyncio.StreamWriter
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    restarting: bool = False


@dataclass(frozen=True)
class Indexed:
    functions: list[dict[str, Any]]
    error: str | None


@dataclass(frozen=True)
class Result:
    """A successful invocation: its return value and the outputs it set (typed data)."""

    value: Any
    outputs: Mapping[str, Any] = field(default_factory=dict)


# Called with the function's name and its result once it succeeded; writing its outputs may
# fail the invocation (the host flushes output bindings as part of the execution).
OutputWriter = Callable[[str, Result], Awaitable[None]]
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$")


def trace_context(traceparent: str | None, tracestate: str | None) -> dict[str, Any]:
    """A new span: in the caller's trace when its ``traceparent`` is valid, else a new trace."""
    match = _TRACEPARENT.match((traceparent or "").strip().lower())
    trace_id = match.group(1) if match else secrets.token_hex(16)
    flags = match.group(2) if match else "00"
    return {
        "trace_parent": f"00-{trace_id}-{secrets.token_hex(8)}-{flags}",
        "trace_state": (tracestate or "") if match else "",
        "attributes": {},
    }


def process_count(environ: Mapping[str, str]) -> int:
    """``FUNCTIONS_WORKER_PROCESS_COUNT``: values under 2 are 1, more than 10 an error."""
    raw = environ.get("FUNCTIONS_WORKER_PROCESS_COUNT")
    if not raw:
        return 1
    count = max(1, int(raw))
    if count > MAX_PROCESS_COUNT:
        raise ValueError("ProcessCount must not be greater than MaxProcessCount")
    return count


MAX_PROCESS_COUNT = 10


class _Slot:
    """One worker process's place: its current process, replaced when it restarts."""

    def __init__(self) -> None:
        self.worker: WorkerProcess | None = None

    def running(self) -> bool:
        return self.worker is not None


class Invoker:
    def __init__(self, app_path: Path, function_timeout: float | None, processes: int = 1) -> None:
        self.app_path = app_path
        self.function_timeout = function_timeout
        self.retry_policies: dict[str, RetryPolicy] = {}
        self.write_outputs: OutputWriter | None = None
        self._slots = [_Slot() for _ in range(processes)]
        self._turn = itertools.count()
        self._changed = asyncio.Event()
        self._readers: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Future[Any]] = set()
        self._closing = False
        self._cancel_retries = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def start(self) -> Indexed:
        """Start the workers and return the first one's index of the app (an error when
        indexing failed)."""
        results = await asyncio.gather(*(self._start(slot) for slot in self._slots))
        for slot, indexed in zip(self._slots[1:], results[1:], strict=True):
            if slot.worker is None:
                task = asyncio.create_task(self._restart(slot))
                self._readers.add(task)
                task.add_done_callback(self._readers.discard)
            elif indexed.error and not results[0].error:
                logs.HOST.error("Worker failed to index functions\n%s", indexed.error)
        return results[0]

    async def _start(self, slot: _Slot) -> Indexed:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "devhost.worker", str(child.fileno()), str(self.app_path),
                pass_fds=(child.fileno(),), env=env, cwd=str(self.app_path.parent),
            )  # fmt: skip
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        try:
            indexed = await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            await process.wait()
            indexed = {"error": f"the worker process exited (code {process.returncode})"}
        worker = WorkerProcess(process, writer)
        if process.returncode is None:
            slot.worker = worker
            task = asyncio.create_task(self._read(reader, worker, slot))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)
            self._changed.set()
        return Indexed(indexed.get("functions") or [], indexed.get("error"))

    async def _read(self, reader: asyncio.StreamReader, worker: WorkerProcess, slot: _Slot) -> None:
        try:
            while True:
                message = await read_message(reader)
                future = worker.pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        worker.writer.close()
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        await worker.process.wait()
        if slot.worker is worker:
            slot.worker = None
        if self._closing:
            self._fail(worker, WorkerLost("the host is stopping"))
            return
        if not worker.restarting:
            logs.HOST.warning("Worker process exited (code %s)", worker.process.returncode)
            self._fail(worker, InvocationFailed("Language worker process exited unexpectedly"))
        # Killed for a timeout: what it ran stays pending until each one's own timeout.
        await self._restart(slot)

    @staticmethod
    def _fail(worker: WorkerProcess, error: Exception) -> None:
        lost, worker.pending = worker.pending, {}
        for future in lost.values():
            if not future.done():
                future.set_exception(error)

    async def _restart(self, slot: _Slot) -> None:
        while not self._closing and slot.worker is None:
            try:
                indexed = await self._start(slot)
            except OSError as exc:
                indexed = Indexed([], str(exc))
            if slot.running():
                if indexed.error:
                    logs.HOST.error("Worker failed to index functions\n%s", indexed.error)
                return
            logs.HOST.error("Worker restart failed, retrying in 5 s: %s", indexed.error)
            await asyncio.sleep(5)

    def fail_binding(self, function: str, reason: str, error: str) -> None:
        """Log an invocation that failed before it reached the worker."""
        invocation_id = str(uuid.uuid4())
        logs.executing(function, reason, invocation_id)
        logs.executed(function, invocation_id, 0, error)

    async def _next_worker(self) -> WorkerProcess:
        """The next running worker in turn, waiting while none is."""
        while True:
            if self._closing:
                raise WorkerLost("the host is stopping")
            for _ in range(len(self._slots)):
                worker = self._slots[next(self._turn) % len(self._slots)].worker
                if worker is not None:
                    return worker
            self._changed.clear()
            await self._changed.wait()

    def stop_retries(self) -> None:
        """The host is stopping: retries waiting for their delay give up."""
        self._cancel_retries.set()

    async def invoke(
        self,
        function: str,
        message: dict[str, Any],
        reason: str,
        trace: Mapping[str, Any] | None = None,
    ) -> Result:
        """Run one invocation, with the function's retry policy; returns its result.

        ``message`` carries ``trigger_name``, ``trigger`` and ``metadata`` (typed data).
        Raises InvocationFailed, or WorkerLost when the host abandons it on shutdown.
        """
        policy = self.retry_policies.get(function)
        delays = policy.delays() if policy else None
        trace = dict(trace or trace_context(None, None))
        attempt, last_error = 0, ""
        while True:
            retry = {"retry_count": attempt, "exception": last_error}
            if policy is not None:
                retry["max_retry_count"] = policy.max_retry_count
            try:
                return await self._invoke_once(
                    function, {**message, "trace": trace, "retry": retry}, reason
                )
            except InvocationFailed as exc:
                if policy is None or delays is None:
                    raise
                if policy.max_retry_count != -1 and attempt == policy.max_retry_count:
                    logs.HOST.error("Function execution failed after '%s' retries.", attempt)
                    raise
                attempt, last_error = attempt + 1, str(exc)
                delay = delays.next()
                logs.HOST.info(
                    "Waiting for `%s` before retrying function execution. Next attempt: '%s'. "
                    "Max retry count: '%s'.", span(delay), attempt, policy.max_retry_count,
                )  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cancel_retries.wait(), delay)
                if self._cancel_retries.is_set():
                    logs.HOST.warning("Invocation cancelled - exiting retry loop.")
                    raise

    async def _invoke_once(self, function: str, message: dict[str, Any], reason: str) -> Result:
        invocation_id = str(uuid.uuid4())
        worker = await self._next_worker()
        logs.executing(function, reason, invocation_id)
        started = time.monotonic()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        worker.pending[invocation_id] = future
        self._running.add(future)
        worker.writer.write(
            frame({"type": "invoke", "id": invocation_id, "function": function, **message})
        )
        error: str | None = None
        try:
            try:
                result = await asyncio.wait_for(asyncio.shield(future), self.function_timeout)
            except TimeoutError:
                error = await self._timed_out(function, invocation_id, worker, future)
                raise InvocationFailed(error) from None
            except (InvocationFailed, WorkerLost) as exc:
                error = str(exc)
                raise
            if not result["ok"]:
                error = str(result["error"])
                raise InvocationFailed(error)
            done = Result(result["value"], result.get("outputs") or {})
            if self.write_outputs is not None:
                try:
                    await self.write_outputs(function, done)
                except Exception as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    raise InvocationFailed(error) from exc
            return done
        finally:
            self._running.discard(future)
            if not isinstance(future.exception() if future.done() else None, WorkerLost):
                logs.executed(function, invocation_id, (time.monotonic() - started) * 1000, error)

    async def _timed_out(
        self,
        function: str,
        invocation_id: str,
        worker: WorkerProcess,
        future: asyncio.Future[dict[str, Any]],
    ) -> str:
        limit = _span(self.function_timeout)
        logs.HOST.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
            "Initiating cancellation.", limit, function, invocation_id,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(future), TIMEOUT_GRACE)
        slot = next((s for s in self._slots if s.worker is worker), None)
        if not future.done() and slot is not None and invocation_id in worker.pending:
            logs.HOST.warning(
                "A function timeout has occurred. Restarting worker process executing "
                "invocationId '%s'.", invocation_id,
            )  # fmt: skip
            worker.restarting = True
            slot.worker = None
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        worker.pending.pop(invocation_id, None)
        return f"Timeout value of {limit} was exceeded by function: Functions.{function}"

    async def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._running:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.wait(set(self._running), timeout=remaining)
        return True

    async def close(self) -> None:
        self._closing = True
        self._changed.set()
        self._cancel_retries.set()
        for slot in self._slots:
            worker, slot.worker = slot.worker, None
            if worker is not None and worker.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
        if self._readers:
            await asyncio.wait(set(self._readers))


def _span(seconds: float | None) -> str:
    total = int(seconds or 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
