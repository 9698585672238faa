"""The host's side of the worker process: start it, invoke functions, enforce functionTimeout.

A timed-out invocation fails and the worker is killed and started again, as the real host
restarts its language worker: every other invocation running in it dies with it
(``WorkerLost``), and its caller must not treat that as the function's failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from devhost import logs
from devhost.config import ConfigError
from devhost.ipc import frame, read_message

_REPO_ROOT = str(Path(__file__).resolve().parents[1])


class InvocationFailed(Exception):
    """The function raised or ran past functionTimeout; the message is the detail."""


class WorkerLost(Exception):
    """The worker process died under this invocation (another one timed out, or a crash)."""


class Invoker:
    def __init__(self, app_path: Path, function_timeout: float | None) -> None:
        self.app_path = app_path
        self.function_timeout = function_timeout
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._ready = asyncio.Event()
        self._writer: asyncio.StreamWriter | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def start(self) -> list[dict[str, Any]]:
        """Start the worker and return its index of the app; ConfigError when that fails."""
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, env.get("PYTHONPATH")) if p)
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "devhost.worker", str(child.fileno()), str(self.app_path),
                pass_fds=(child.fileno(),), env=env, cwd=str(self.app_path.parent),
            )  # fmt: skip
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        try:
            indexed = await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            await self._process.wait()
            raise ConfigError("the worker process exited while indexing the app") from exc
        if "error" in indexed:
            writer.close()
            await self._process.wait()
            raise ConfigError(f"Worker failed to index functions:\n{indexed['error']}")
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader, self._process))
        self._ready.set()
        functions: list[dict[str, Any]] = indexed["functions"]
        return functions

    async def _read(
        self, reader: asyncio.StreamReader, process: asyncio.subprocess.Process
    ) -> None:
        try:
            while True:
                message = await read_message(reader)
                future = self._pending.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        self._ready.clear()
        if self._writer is not None:
            self._writer.close()
        lost, self._pending = self._pending, {}
        for future in lost.values():
            if not future.done():
                future.set_exception(WorkerLost("the worker process exited"))
        self._update_idle()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        if not self._closing:
            logs.HOST.warning("Worker process exited (code %s); restarting it", process.returncode)
            while not self._closing:
                try:
                    await self.start()
                    return
                except (ConfigError, OSError) as exc:
                    logs.HOST.error("Worker restart failed, retrying in 5 s: %s", exc)
                    await asyncio.sleep(5)

    def _update_idle(self) -> None:
        if self._pending:
            self._idle.clear()
        else:
            self._idle.set()

    async def invoke(self, function: str, kind: str, payload: dict[str, Any], reason: str) -> Any:
        """Run one invocation; returns the function's encoded result.

        Raises InvocationFailed (the function's fault) or WorkerLost (not its fault).
        """
        invocation_id = str(uuid.uuid4())
        while not self._ready.is_set():
            await self._ready.wait()
        logs.executing(function, reason, invocation_id)
        started = time.monotonic()
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[invocation_id] = future
        self._update_idle()
        assert self._writer is not None
        message = {
            "type": "invoke",
            "id": invocation_id,
            "function": function,
            "kind": kind,
            "payload": payload,
        }
        self._writer.write(frame(message))
        error: str | None = None
        try:
            try:
                result = await asyncio.wait_for(asyncio.shield(future), self.function_timeout)
            except TimeoutError:
                self._pending.pop(invocation_id, None)
                error = (
                    f"Timeout value of {_span(self.function_timeout)} was exceeded by function: "
                    f"Functions.{function}"
                )
                logs.HOST.error("%s (Id: %s). Initiating cancellation.", error, invocation_id)
                self._kill_worker()
                raise InvocationFailed(error) from None
            except WorkerLost as exc:
                error = str(exc)
                raise
            if not result["ok"]:
                error = str(result["error"])
                raise InvocationFailed(error)
            return result["value"]
        finally:
            self._update_idle()
            logs.executed(function, invocation_id, (time.monotonic() - started) * 1000, error)

    def _kill_worker(self) -> None:
        self._ready.clear()
        if self._process is not None and self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        self._closing = True
        self._kill_worker()
        if self._reader_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task


def _span(seconds: float | None) -> str:
    total = int(seconds or 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
