"""The worker process: imports the app, indexes it as the Python worker does, runs invocations.

Indexing follows azure_functions_worker/loader.py (``index_function_app``: the app module is
imported by name with its folder on ``sys.path``, exactly one ``FunctionRegister`` instance
at top level) and functions.py (every function passes :func:`devhost.bindings.load_function`;
one failure fails the whole index, as the worker's metadata response does). Invocations follow
dispatcher.py: arguments from the host's typed data through the library's converters, sync
functions in a thread pool of ``PYTHON_THREADPOOL_THREAD_COUNT`` threads (the executor's own
default when unset, as the worker on Python 3.9+), async ones on this process's event loop,
and the return value checked and encoded by :func:`devhost.bindings.encode_return`.

The process dies when the host goes away (socket closed), taking running invocations with it.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import os
import signal
import socket
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.bindings import Datum, FunctionInfo, decode_argument, encode_return, load_function
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


def load_app(app_path: Path) -> func.FunctionRegister:
    """Import the app as the worker does and return its one top-level function app."""
    sys.path.insert(0, str(app_path.parent))
    module = importlib.import_module(app_path.stem)
    app: func.FunctionRegister | None = None
    for name in dir(module):
        candidate = getattr(module, name, None)
        if isinstance(candidate, func.FunctionRegister):
            if app is not None:
                raise ValueError(
                    f"More than one {type(app).__name__} or other top level function app "
                    "instances are defined."
                )
            app = candidate
    if app is None:
        raise ValueError(f"Could not find top level function app instances in {app_path.name}.")
    return app


def to_datum(data: dict[str, Any] | None) -> Datum | None:
    """The host's typed data (see devhost.typed_data) as the converters' Datum."""
    if data is None:
        return None
    if data["type"] != "http":
        return Datum(data["value"], data["type"])
    http = data["value"]

    def strings(values: dict[str, str]) -> dict[str, Datum]:
        return {k: Datum(v, "string") for k, v in values.items()}

    return Datum(
        {
            "method": Datum(http["method"], "string"),
            "url": Datum(http["url"], "string"),
            "headers": strings(http["headers"]),
            "body": to_datum(http["body"]) or Datum(b"", "bytes"),
            "params": strings(http["params"]),
            "query": strings(http["query"]),
        },
        "http",
    )


def from_datum(datum: Datum | None) -> dict[str, Any] | None:
    """An encoded return value as typed data for the host (datumdef.datum_as_proto)."""
    if datum is None or datum.type is None:
        return None
    if datum.type != "http":
        return {"type": datum.type, "value": datum.value}
    value = datum.value
    cookies = [
        morsel.OutputString() for cookie in value.get("cookies") or [] for morsel in cookie.values()
    ]
    return {
        "type": "http",
        "value": {
            "status_code": value["status_code"].value,
            "headers": {k: v.value for k, v in value["headers"].items()},
            "cookies": cookies,
            "body": from_datum(value["body"]),
        },
    }


def _describe(function: Any) -> dict[str, Any]:
    trigger = function.get_trigger()
    return {
        "name": str(function.get_function_name()),
        "trigger": _plain(trigger.get_dict_repr()) if trigger is not None else None,
        "bindings": [_plain(b.get_dict_repr()) for b in function.get_bindings()],
    }


class Worker:
    def __init__(self, app_path: Path, writer: asyncio.StreamWriter) -> None:
        self.app_path = app_path
        self.writer = writer
        self.functions: dict[str, FunctionInfo] = {}
        threads = int(os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT") or 0) or None
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="invocation")
        self.tasks: set[asyncio.Task[None]] = set()

    def send(self, message: Any) -> None:
        self.writer.write(frame(message))

    def index(self) -> list[dict[str, Any]]:
        described = []
        for function in load_app(self.app_path).get_functions():
            info = load_function(function)
            self.functions[info.name] = info
            described.append(_describe(function))
        return described

    def start(self, message: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self.invoke(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _arguments(self, info: FunctionInfo, message: dict[str, Any]) -> dict[str, Any]:
        metadata = {k: to_datum(v) for k, v in message["metadata"].items()}
        inputs = {message["trigger_name"]: to_datum(message["trigger"])}
        args = {
            name: decode_argument(info.input_types[name], data, metadata)  # type: ignore[arg-type]
            for name, data in inputs.items()
        }
        if info.requires_context:
            args["context"] = Context(message["id"], info.name, info.directory)
        return args

    async def invoke(self, message: dict[str, Any]) -> None:
        invocation_id = message["id"]
        try:
            info = self.functions[message["function"]]
            args = self._arguments(info, message)
            if info.is_async:
                result = await info.func(**args)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.pool, lambda: info.func(**args))
            value = from_datum(encode_return(info, result))
        except Exception as exc:
            detail = "".join(traceback.format_exception(exc))
            self.send({"type": "result", "id": invocation_id, "ok": False, "error": detail})
            return
        self.send({"type": "result", "id": invocation_id, "ok": True, "value": value})


async def serve(fd: int, app_path: Path) -> None:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    worker = Worker(app_path, writer)
    try:
        functions = worker.index()
    except Exception as exc:
        # As the worker's failed metadata response: "<type>: <message>" and the trace.
        error = f"{type(exc).__name__}: {exc}\n{''.join(traceback.format_exception(exc))}"
        writer.write(frame({"type": "indexed", "error": error}))
        functions = []
    else:
        writer.write(frame({"type": "indexed", "functions": functions}))
    await writer.drain()
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
