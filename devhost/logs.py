"""Log lines shaped like Core Tools' console: ``[timestamp] message``.

The host and the worker both write to stdout, so the app's own ``logging`` output appears
between the host's ``Executing``/``Executed`` lines as it does under ``func start``.
"""

from __future__ import annotations

import logging
import sys

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
