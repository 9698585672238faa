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
import re
import signal
import socket
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.bindings import (
    Datum,
    FunctionInfo,
    Out,
    Unsupported,
    decode_argument,
    encode_output,
    encode_return,
    load_function,
)
from devhost.context import Context
from devhost.cookies import rpc_cookies
from devhost.ipc import frame, read_message
from devhost.logs import configure_worker_logging


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


SCRIPT_FILE_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_\-]*\.py$")


def load_app(app_path: Path) -> func.FunctionRegister:
    """Import the app as the worker does and return its one top-level function app. A name
    from ``PYTHON_SCRIPT_FILE_NAME`` must be a plain ``.py`` file name (utils/common.py
    ``validate_script_file_name``)."""
    if os.environ.get("PYTHON_SCRIPT_FILE_NAME") == app_path.name and not (
        SCRIPT_FILE_NAME.match(app_path.name)
    ):
        raise ValueError(f"Invalid file name: {app_path.name}")
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
    cookies = rpc_cookies(value.get("cookies"))
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
        "retry": retry_options(function),
    }


def retry_options(function: Any) -> dict[str, Any] | None:
    """loader.py ``build_retry_protos``: the ``@app.retry`` setting, its intervals read as
    ``%H:%M:%S`` into whole seconds (anything else fails the index, as there)."""
    retry = function.get_settings_dict("retry_policy")
    if not retry:
        return None

    def seconds(key: str) -> int:
        parsed = time.strptime(str(retry.get(key)), "%H:%M:%S")
        return parsed.tm_hour * 3600 + parsed.tm_min * 60 + parsed.tm_sec

    strategy = str(retry.get("strategy"))
    options: dict[str, Any] = {
        "strategy": strategy,
        "max_retry_count": int(retry.get("max_retry_count")),
    }
    if strategy == "fixed_delay":
        options["delay_interval"] = seconds("delay_interval")
    else:
        options["minimum_interval"] = seconds("minimum_interval")
        options["maximum_interval"] = seconds("maximum_interval")
    return options


def serialize_exception(exc: BaseException) -> str:
    """dispatcher.py ``_serialize_exception``: "<type>: <message>" (or a fixed text when the
    message itself fails), which the host logs after "Exception: ", then the stack."""
    try:
        message = f"{type(exc).__name__}: {exc}"
    except Exception:
        message = "Unhandled exception in function. Could not serialize original exception message."
    try:
        stack = "".join(traceback.format_tb(exc.__traceback__))
    except Exception:
        stack = ""
    return f"{message}\nStack: {stack}".rstrip()


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
        """Every function as the worker checks it. A worker rule that fails
        (``FunctionLoadError``) fails the whole index as it does there; what devhost does not
        have (``Unsupported``) is reported for that function only, to be disabled."""
        described = []
        for function in load_app(self.app_path).get_functions():
            item = _describe(function)
            try:
                info = load_function(function)
            except Unsupported as exc:
                item["unsupported"] = str(exc)
            else:
                self.functions[info.name] = info
            described.append(item)
        return described

    def start(self, message: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self.invoke(message))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _arguments(self, info: FunctionInfo, message: dict[str, Any]) -> dict[str, Any]:
        metadata = {k: to_datum(v) for k, v in message["metadata"].items()}
        inputs = {message["trigger_name"]: to_datum(message["trigger"])}
        args: dict[str, Any] = {
            name: decode_argument(info.input_types[name], data, metadata)  # type: ignore[arg-type]
            for name, data in inputs.items()
        }
        for name in info.output_types:
            args[name] = Out()
        if info.requires_context:
            args["context"] = Context(
                message["id"],
                info.name,
                info.directory,
                message.get("trace") or {},
                message.get("retry") or {},
            )
        return args

    @staticmethod
    def _outputs(info: FunctionInfo, args: dict[str, Any]) -> dict[str, Any]:
        """dispatcher.py: each ``Out`` the function set, through its converter (unset: none)."""
        outputs = {}
        for name, param in info.output_types.items():
            value = args[name].get()
            if value is not None:
                outputs[name] = from_datum(encode_output(name, param, value))
        return outputs

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
            outputs = self._outputs(info, args)
            value = from_datum(encode_return(info, result))
        except Exception as exc:
            error = serialize_exception(exc)
            self.send({"type": "result", "id": invocation_id, "ok": False, "error": error})
            return
        self.send(
            {"type": "result", "id": invocation_id, "ok": True, "value": value, "outputs": outputs}
        )


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
    configure_worker_logging()
    fd, app = int(sys.argv[1]), Path(sys.argv[2])
    asyncio.run(serve(fd, app))


if __name__ == "__main__":
    main()
