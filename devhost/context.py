"""The ``context`` argument a Python function can ask for (``azure.functions.Context``).

As the worker builds it (Azure/azure-functions-python-worker ``azure_functions_worker/
dispatcher.py`` ``_get_context``, ``bindings/tracecontext.py``, ``bindings/retrycontext.py``)
from what the host sends with each invocation (Azure/azure-functions-host
``src/WebJobs.Script.Grpc/Extensions/ScriptInvocationContextExtensions.cs``): the trace
context (W3C ``traceparent``, ``tracestate`` and attributes, each also under its older
capitalised name ``Traceparent``/``Tracestate``/``Attributes``) and the retry context (the
attempt's ``retry_count``, the policy's ``max_retry_count``, the last attempt's exception;
zeros when the function has no retry policy).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions import _abc


class TraceContext(_abc.TraceContext):
    def __init__(self, trace_parent: str, trace_state: str, attributes: dict[str, str]) -> None:
        self._parent = trace_parent
        self._state = trace_state
        self._attributes = attributes

    @property
    def trace_state(self) -> str:
        return self._state

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes

    # The worker keeps the capitalised names, deprecated but still read by apps.
    @property
    def Tracestate(self) -> str:
        return self._state

    @property
    def Traceparent(self) -> str:
        return self._parent

    @property
    def Attributes(self) -> dict[str, str]:
        return self._attributes


class RpcException(_abc.RpcException):
    """The previous attempt's failure, as the host hands it back in the retry context."""

    def __init__(self, message: str = "", stack_trace: str = "", source: str = "") -> None:
        self._message = message
        self._stack_trace = stack_trace
        self._source = source

    @property
    def source(self) -> str:
        return self._source

    @property
    def stack_trace(self) -> str:
        return self._stack_trace

    @property
    def message(self) -> str:
        return self._message


class RetryContext(_abc.RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int, exception: RpcException) -> None:
        self._count = retry_count
        self._max = max_retry_count
        self._exception = exception

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> RpcException:
        return self._exception


class Context(func.Context):
    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        directory: str,
        trace: Mapping[str, Any],
        retry: Mapping[str, Any],
    ) -> None:
        self._id = invocation_id
        self._name = function_name
        self._directory = directory
        self._local = threading.local()
        self._local.invocation_id = invocation_id
        self._trace = TraceContext(
            str(trace.get("trace_parent") or ""),
            str(trace.get("trace_state") or ""),
            dict(trace.get("attributes") or {}),
        )
        self._retry = RetryContext(
            int(retry.get("retry_count") or 0),
            int(retry.get("max_retry_count") or 0),
            RpcException(str(retry.get("exception") or "")),
        )

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
        return self._retry
