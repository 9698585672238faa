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
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost import logs
from devhost.ipc import frame, read_message

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


class Invoker:
    def __init__(self, app_path: Path, function_timeout: float | None) -> None:
        self.app_path = app_path
        self.function_timeout = function_timeout
        self._worker: WorkerProcess | None = None
        self._ready = asyncio.Event()
        self._readers: set[asyncio.Task[None]] = set()
        self._running: set[asyncio.Future[Any]] = set()
        self._closing = False

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def start(self) -> Indexed:
        """Start a worker and return its index of the app (an error when indexing failed)."""
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
            self._worker = worker
            task = asyncio.create_task(self._read(reader, worker))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)
            self._ready.set()
        return Indexed(indexed.get("functions") or [], indexed.get("error"))

    async def _read(self, reader: asyncio.StreamReader, worker: WorkerProcess) -> None:
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
        if self._worker is worker:
            self._worker = None
            self._ready.clear()
        if self._closing:
            self._fail(worker, WorkerLost("the host is stopping"))
            return
        if not worker.restarting:
            logs.HOST.warning("Worker process exited (code %s)", worker.process.returncode)
            self._fail(worker, InvocationFailed("Language worker process exited unexpectedly"))
        # Killed for a timeout: what it ran stays pending until each one's own timeout.
        await self._restart()

    @staticmethod
    def _fail(worker: WorkerProcess, error: Exception) -> None:
        lost, worker.pending = worker.pending, {}
        for future in lost.values():
            if not future.done():
                future.set_exception(error)

    def running_worker(self) -> WorkerProcess | None:
        return self._worker

    async def _restart(self) -> None:
        while not self._closing and self._worker is None:
            try:
                indexed = await self.start()
            except OSError as exc:
                indexed = Indexed([], str(exc))
            if self.running_worker() is not None:
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

    async def invoke(self, function: str, message: dict[str, Any], reason: str) -> Any:
        """Run one invocation; returns the function's encoded result.

        ``message`` carries ``trigger_name``, ``trigger`` and ``metadata`` (typed data).
        Raises InvocationFailed, or WorkerLost when the host abandons it on shutdown.
        """
        invocation_id = str(uuid.uuid4())
        while self._worker is None:
            if self._closing:
                raise WorkerLost("the host is stopping")
            await self._ready.wait()
        worker = self._worker
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
            return result["value"]
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
        span = _span(self.function_timeout)
        logs.HOST.error(
            "Timeout value of %s exceeded by function 'Functions.%s' (Id: '%s'). "
            "Initiating cancellation.", span, function, invocation_id,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError, Exception):
            await asyncio.wait_for(asyncio.shield(future), TIMEOUT_GRACE)
        if not future.done() and worker is self._worker and invocation_id in worker.pending:
            logs.HOST.warning(
                "A function timeout has occurred. Restarting worker process executing "
                "invocationId '%s'.", invocation_id,
            )  # fmt: skip
            worker.restarting = True
            self._worker = None
            self._ready.clear()
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        worker.pending.pop(invocation_id, None)
        return f"Timeout value of {span} was exceeded by function: Functions.{function}"

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
        self._ready.set()
        worker, self._worker = self._worker, None
        if worker is not None and worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        if self._readers:
            await asyncio.wait(set(self._readers))


def _span(seconds: float | None) -> str:
    total = int(seconds or 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
