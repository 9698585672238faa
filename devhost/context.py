"""The ``context`` argument a Python function can ask for (``azure.functions.Context``)."""

from __future__ import annotations

import threading
from typing import Any

import azure.functions as func
from azure.functions import _abc


class TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str) -> None:
        self._parent = trace_parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class RetryContext(_abc.RetryContext):
    """Queue triggers have no retry policy, so this is always the first try."""

    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class Context(func.Context):
    def __init__(self, invocation_id: str, function_name: str, directory: str) -> None:
        self._id = invocation_id
        self._name = function_name
        self._directory = directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id
        trace_id = invocation_id.replace("-", "")
        self._trace = TraceContext(f"00-{trace_id}-{trace_id[:16]}-00")

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return self._directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace

    @property
    def retry_context(self) -> RetryContext:
        return RetryContext()
