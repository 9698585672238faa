"""Log lines shaped like Core Tools' console: ``[timestamp] message``.

The host and the worker both write to stdout, so the app's own ``logging`` output appears
between the host's ``Executing``/``Executed`` lines as it does under ``func start``.

What the console does not show, in the worker process:

* records of the worker's system categories, loggers named ``azure_functions_worker...`` or
  ``azure.functions...`` (Azure/azure-functions-python-worker ``azure_functions_worker/
  logging.py`` ``is_system_log_category``): the worker sends them to the host as system logs,
  which go to the platform's tables, not to the console, even when app code writes to them;
* lines the worker process prints to stdout or stderr that start with
  ``LanguageWorkerConsoleLog`` (Azure/azure-functions-host ``src/WebJobs.Script/Workers/
  ProcessManagement/WorkerProcessUtilities.cs`` ``IsConsoleLog``), which the host logs as its
  own system logs.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

HOST = logging.getLogger("devhost")

# Noise that Core Tools does not show: every storage request logged at INFO by azure-core.
_QUIET = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "aiohttp.access")


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        import datetime as dt

        moment = dt.datetime.fromtimestamp(record.created, tz=dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(_UtcFormatter("[%(asctime)s] %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


def executing(function: str, reason: str, invocation_id: str) -> None:
    HOST.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function, reason, invocation_id)


def executed(
    function: str, invocation_id: str, duration_ms: float, error: str | None = None
) -> None:
    outcome = "Failed" if error is not None else "Succeeded"
    HOST.info(
        "Executed 'Functions.%s' (%s, Id=%s, Duration=%dms)",
        function,
        outcome,
        invocation_id,
        round(duration_ms),
    )
    if error is not None:
        HOST.error(
            "System.Private.CoreLib: Exception while executing function: Functions.%s. "
            "Result: Failure\nException: %s",
            function,
            error.rstrip(),
        )


SYSTEM_CATEGORIES = ("azure_functions_worker", "azure.functions")
CONSOLE_LOG_PREFIX = "LanguageWorkerConsoleLog"


def _user_record(record: logging.LogRecord) -> bool:
    return not record.name.startswith(SYSTEM_CATEGORIES)


class _ConsoleLines:
    """A stream that passes on whole lines, dropping the host's console-log lines."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if not line.lower().startswith(CONSOLE_LOG_PREFIX.lower()):
                self._target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def configure_worker_logging() -> None:
    configure_logging()
    for handler in logging.getLogger().handlers:
        handler.addFilter(_user_record)
    sys.stdout = cast(TextIO, _ConsoleLines(sys.stdout))
    sys.stderr = cast(TextIO, _ConsoleLines(sys.stderr))
