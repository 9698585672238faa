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
from typing import Any, Generic, Never, NoReturn, TypeVar, overload

import azure.functions as func
from azure.functions import _abc

T = TypeVar("T")


class Held(Generic[T]):
    """A read-only property: the value ``hold`` gave the instance under the first name this is
    assigned to in the class body (a second name is an alias)."""

    name = ""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = self.name or name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Held[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any]) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any]) -> Held[T] | T:
        if instance is None:
            return self
        value: T = vars(instance)[self.name]
        return value

    def __set__(self, instance: object, value: Never) -> NoReturn:
        raise AttributeError(f"{self.name} is read-only")


def hold(instance: object, **values: Any) -> None:
    """Give ``instance`` the values its ``Held`` properties answer."""
    vars(instance).update(values)


class TraceContext(_abc.TraceContext):
    trace_state = Held[str]()
    trace_parent = Held[str]()
    attributes = Held[dict[str, str]]()
    # The worker keeps the capitalised names, deprecated but still read by apps.
    Tracestate, Traceparent, Attributes = trace_state, trace_parent, attributes

    def __init__(self, trace_parent: str, trace_state: str, attributes: dict[str, str]) -> None:
        hold(self, trace_parent=trace_parent, trace_state=trace_state, attributes=attributes)


class RpcException(_abc.RpcException):
    """The previous attempt's failure, as the host hands it back in the retry context."""

    source = Held[str]()
    stack_trace = Held[str]()
    message = Held[str]()

    def __init__(self, message: str = "", stack_trace: str = "", source: str = "") -> None:
        hold(self, message=message, stack_trace=stack_trace, source=source)


class RetryContext(_abc.RetryContext):
    retry_count = Held[int]()
    max_retry_count = Held[int]()
    exception = Held[RpcException]()

    def __init__(self, retry_count: int, max_retry_count: int, exception: RpcException) -> None:
        hold(self, retry_count=retry_count, max_retry_count=max_retry_count, exception=exception)


class Context(func.Context):
    invocation_id = Held[str]()
    thread_local_storage = Held[Any]()
    function_name = Held[str]()
    function_directory = Held[str]()
    trace_context = Held[TraceContext]()
    retry_context = Held[RetryContext]()

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        directory: str,
        trace: Mapping[str, Any],
        retry: Mapping[str, Any],
    ) -> None:
        local = threading.local()
        local.invocation_id = invocation_id
        hold(
            self,
            invocation_id=invocation_id,
            thread_local_storage=local,
            function_name=function_name,
            function_directory=directory,
            trace_context=TraceContext(
                str(trace.get("trace_parent") or ""),
                str(trace.get("trace_state") or ""),
                dict(trace.get("attributes") or {}),
            ),
            retry_context=RetryContext(
                int(retry.get("retry_count") or 0),
                int(retry.get("max_retry_count") or 0),
                RpcException(str(retry.get("exception") or "")),
            ),
        )
