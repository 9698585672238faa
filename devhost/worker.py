"""The worker process: imports the app, indexes it with the library, runs invocations.

Like the Python language worker, sync functions run in a thread pool of
``PYTHON_THREADPOOL_THREAD_COUNT`` threads (default min(32, cpu + 4)) and async functions on
this process's event loop. It dies when the host goes away (socket closed), taking running
invocations with it: that is what lets the host recover from a timeout by killing it.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import inspect
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from devhost.context import Context
from devhost.ipc import frame, read_message
from devhost.logs import configure_logging


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def load_app(app_path: Path) -> func.FunctionApp:
    """Import the app file as a top-level module and find its one FunctionApp."""
    sys.path.insert(0, str(app_path.parent))
    spec = importlib.util.spec_from_file_location(app_path.stem, app_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {app_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[app_path.stem] = module
    spec.loader.exec_module(module)
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionApp)]
    if len(apps) != 1:
        raise ValueError(f"{app_path.name} must define exactly one FunctionApp, found {len(apps)}")
    return apps[0]


class Worker:
    def __init__(self, app_path: Path, writer: asyncio.StreamWriter) -> None:
        self.app_path = app_path
        self.writer = writer
        self.functions: dict[str, Callable[..., Any]] = {}
        self.params: dict[str, list[str]] = {}
        self.trigger_arg: dict[str, str] = {}
        threads = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or 0)
        threads = threads or min(32, (os.cpu_count() or 1) + 4)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="invocation")
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: Any) -> None:
        self.writer.write(frame(message))

    def index(self) -> list[dict[str, Any]]:
        app = load_app(self.app_path)
        described = []
        for function in app.get_functions():
            name = str(function.get_function_name())
            user = function.get_user_function()
            trigger = function.get_trigger()
            bindings = [_plain(b.get_dict_repr()) for b in function.get_bindings()]
            params = list(inspect.signature(user).parameters)
            names = {b["name"] for b in bindings}
            unbound = [p for p in params if p not in names and p != "context"]
            if unbound:
                raise ValueError(
                    f"Function {name}: the following parameters are declared in Python but "
                    f"not in the bindings: {unbound}"
                )
            self.functions[name] = user
            self.params[name] = params
            self.trigger_arg[name] = trigger.name if trigger is not None else ""
            described.append(
                {
                    "name": name,
                    "trigger": _plain(trigger.get_dict_repr()) if trigger else None,
                    "bindings": bindings,
                    "is_async": inspect.iscoroutinefunction(user),
                }
            )
        return described

    def _argument(self, kind: str, payload: dict[str, Any]) -> Any:
        if kind == "queue":
            return QueueMessage(**payload)  # type: ignore[no-untyped-call]
        if kind == "timer":
            return TimerRequest(**payload)
        return func.HttpRequest(**payload)

    def start(self, message: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self.invoke(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def invoke(self, message: dict[str, Any]) -> None:
        invocation_id, name = message["id"], message["function"]
        try:
            user = self.functions[name]
            kwargs = {self.trigger_arg[name]: self._argument(message["kind"], message["payload"])}
            if "context" in self.params[name]:
                kwargs["context"] = Context(invocation_id, name, str(self.app_path.parent))
            if inspect.iscoroutinefunction(user):
                result = await user(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.pool, lambda: user(**kwargs))
            value = self._encode(message["kind"], result)
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc))
            self.send({"type": "result", "id": invocation_id, "ok": False, "error": detail})
            return
        self.send({"type": "result", "id": invocation_id, "ok": True, "value": value})

    @staticmethod
    def _encode(kind: str, result: Any) -> Any:
        if kind != "http":
            return None
        if isinstance(result, func.HttpResponse):
            headers = result.headers
            if "content-type" not in headers:
                mimetype = result.mimetype
                ct = (
                    f"{mimetype}; charset={result.charset}"
                    if mimetype.startswith("text/")
                    else mimetype
                )
                headers["content-type"] = ct
            body = result.get_body() or b""
            return {"status": result.status_code, "headers": list(headers.items()), "body": body}
        if isinstance(result, str | bytes):
            body = result.encode() if isinstance(result, str) else result
            return {
                "status": 200,
                "headers": [("content-type", "text/plain; charset=utf-8")],
                "body": body,
            }
        if result is None:
            return {"status": 204, "headers": [], "body": b""}
        raise TypeError(f"an HTTP function must return func.HttpResponse, got {type(result)!r}")


async def serve(fd: int, app_path: Path) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    worker = Worker(app_path, writer)
    try:
        functions = worker.index()
    except Exception as exc:
        writer.write(frame({"type": "indexed", "error": "".join(traceback.format_exception(exc))}))
        await writer.drain()
        return
    writer.write(frame({"type": "indexed", "functions": functions}))
    while True:
        try:
            message = await read_message(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            # The host is gone: so are we, with whatever is running.
            os._exit(0)
        if message["type"] == "invoke":
            worker.start(message)
        await writer.drain()


def main() -> None:
    # The host owns shutdown; a Ctrl-C reaching the whole process group must not kill us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    configure_logging()
    fd, app = int(sys.argv[1]), Path(sys.argv[2])
    asyncio.run(serve(fd, app))


if __name__ == "__main__":
    main()
