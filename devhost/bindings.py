"""The Python worker's binding rules, run over the ``azure.functions`` library's own converters.

The language worker (``azure-functions-worker`` 4.x) is not on PyPI (only the 2020 1.x line,
which predates the v2 programming model), so its rules are ported here and every argument is
still built, and every return value checked, by the library's converters
(``QueueMessageInConverter``, ``HttpRequestConverter``, ``TimerRequestConverter``,
``HttpResponseConverter``: their ``decode``, ``encode`` and ``check_*_type_annotation``).
Sources, Azure/azure-functions-python-worker:

* ``azure_functions_worker/functions.py`` (``Registry.add_indexed_function`` and helpers): the
  load-time checks: parameters and bindings must match both ways, ``context`` must be
  ``azure.functions.Context``, annotations must be types the binding accepts (``str`` and
  ``bytes`` select the "generic" binding), a return annotation must suit the ``$return``
  binding. Any failure is a ``FunctionLoadError`` and fails the indexing of the whole app.
* ``azure_functions_worker/bindings/meta.py``: a binding name maps to the library's converter
  (``azure.functions.meta.get_binding_registry()``), else to the generic binding; HTTP triggers
  and outputs use their converters' checks; a converter's ``NotImplementedError`` becomes a
  ``TypeError`` ("unable to decode/encode ...").
* ``azure_functions_worker/bindings/generic.py``: the generic binding.
* ``azure_functions_worker/dispatcher.py`` (``_handle__invocation_request``): a function without
  a ``$return`` binding that returns anything but None fails the invocation.

Where the worker compares the library's binding directions with its protobuf enums, it
compares the ints behind them (``Binding.direction`` returns the enum's value), as here.
"""

from __future__ import annotations

import inspect
import operator
import pathlib
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from azure.functions import _abc, meta
from azure.functions._thirdparty import typing_inspect as _typing_inspect

Datum = meta.Datum
# Untyped in the library; used as it is.
typing_inspect: Any = _typing_inspect
_registry: Any = meta.get_binding_registry

# protos.BindingInfo.Direction / DataType values, which Binding.direction/data_type return.
DIRECTION_OUT = 1
DIRECTION_INOUT = 2
DATA_TYPE_UNDEFINED = 0
HTTP_TRIGGER = "httpTrigger"
HTTP = "http"
RETURN = "$return"


class Unsupported(Exception):
    """Raised while indexing: the function needs what devhost does not have (an SDK-type
    binding, a converter without the checks the worker calls); only it is disabled."""


SDK_TYPE_MODULES = "azurefunctions.extensions."


class FunctionLoadError(RuntimeError):
    """Raised while indexing: the app's functions do not fit their bindings."""

    def __init__(self, function_name: str, message: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {message}")


class GenericBinding:
    """What the worker uses for a binding the library has no converter for, and for a
    parameter annotated ``str`` or ``bytes`` (bindings/generic.py): the data as it came."""

    @classmethod
    def has_trigger_support(cls) -> bool:
        return False

    @classmethod
    def check_input_type_annotation(cls, pytype: type) -> bool:
        return issubclass(pytype, (str, bytes))

    @classmethod
    def check_output_type_annotation(cls, pytype: type) -> bool:
        return issubclass(pytype, (str, bytes, bytearray))

    @classmethod
    def has_implicit_output(cls, bind_name: str | None) -> bool:
        return bind_name != "durableClient"

    @classmethod
    def decode(cls, data: Datum | None, *, trigger_metadata: Any) -> Any:
        if data is None or data.type is None:
            return None
        if data.type in ("string", "bytes", "json"):
            return data.value
        raise ValueError(
            f'unexpected type of data received for the "generic" binding : {data.type!r}'
        )

    @classmethod
    def encode(cls, obj: Any, *, expected_type: type | None) -> Datum:
        if isinstance(obj, str):
            return Datum(obj, "string")
        if isinstance(obj, bytes | bytearray):
            return Datum(bytes(obj), "bytes")
        if obj is None:
            return Datum(None, None)
        raise NotImplementedError


def get_binding(name: str) -> Any:
    """The library's converter registered for ``name``, else the generic binding."""
    binding = _registry().get(name)
    return GenericBinding if binding is None else binding


def has_implicit_output(name: str) -> bool:
    binding = get_binding(name)
    if binding is GenericBinding:
        return GenericBinding.has_implicit_output(name)
    check: Callable[[], bool] = getattr(binding, "has_implicit_output", lambda: False)
    return bool(check())


def is_trigger_binding(name: str) -> bool:
    return bool(get_binding(name).has_trigger_support())


def _check(name: str, method: str, pytype: type) -> bool:
    if str(getattr(pytype, "__module__", "")).startswith(SDK_TYPE_MODULES):
        raise Unsupported(
            f"{getattr(pytype, '__name__', pytype)} is an SDK-type binding "
            "(azurefunctions-extensions-*), which devhost does not support"
        )
    check = getattr(get_binding(name), method, None)
    if check is None:
        raise Unsupported(f"the {name!r} binding's converter has no {method}")
    return bool(check(pytype))


def check_input_type_annotation(name: str, pytype: type) -> bool:
    return _check(name, "check_input_type_annotation", pytype)


def check_output_type_annotation(name: str, pytype: type) -> bool:
    return _check(name, "check_output_type_annotation", pytype)


class ParamType(NamedTuple):
    """What the worker keeps per parameter (functions.py ``ParamTypeInfo``)."""

    binding_name: str
    pytype: Any


@dataclass(frozen=True)
class FunctionInfo:
    """What the worker keeps per function (functions.py ``FunctionInfo``)."""

    func: Callable[..., Any]
    name: str
    directory: str
    requires_context: bool
    is_async: bool
    has_return: bool
    input_types: Mapping[str, ParamType]
    output_types: Mapping[str, ParamType]
    return_type: ParamType | None


def _is_out(annotation: Any) -> bool:
    if typing_inspect.is_generic_type(annotation):
        origin = typing_inspect.get_origin(annotation)
        if origin is not None:
            return isinstance(origin, type) and origin.__name__ == "Out"
    return isinstance(annotation, type) and annotation.__name__ == "Out"


def _out_inner(annotation: Any, name: str, fn: str) -> Any:
    """The type inside ``Out[...]`` (functions.py rebuilds a flattened generic argument)."""
    args = typing_inspect.get_args(annotation)
    if len(args) != 1:
        raise FunctionLoadError(fn, f"binding {name} has invalid Out annotation {annotation!r}")
    inner = args[0]
    if isinstance(inner, tuple) and typing_inspect.is_generic_type(inner[0]):
        inner = operator.getitem(inner[0], *inner[1:])
    return inner


def _check_param(
    name: str, binding: Any, annotations: Mapping[str, Any], fn: str
) -> tuple[ParamType, bool]:
    """One parameter as ``Registry.validate_function_params`` checks it; also whether it is an
    output (a binding with the "out" direction)."""
    is_binding_out = binding.direction == DIRECTION_OUT
    if name not in annotations:
        return ParamType(binding.type, None), is_binding_out
    annotation = annotations[name]
    is_param_out = _is_out(annotation)
    pytype = _out_inner(annotation, name, fn) if is_param_out else annotation
    if not isinstance(pytype, type) and not typing_inspect.is_generic_type(pytype):
        raise FunctionLoadError(
            fn, f"binding {name} has invalid non-type annotation {annotation!r}"
        )
    if is_binding_out and not is_param_out:
        raise FunctionLoadError(
            fn,
            f'binding {name} is declared to have the "out" direction, but its annotation in '
            "Python is not a subclass of azure.functions.Out",
        )
    if is_param_out and not is_binding_out:
        raise FunctionLoadError(
            fn,
            f'binding {name} is declared to have the "in" direction in function.json, but '
            "its annotation is azure.functions.Out in Python",
        )
    kind = binding.type
    if pytype in (str, bytes) and not has_implicit_output(binding.type):
        kind = "generic"
    if is_param_out:
        checks = check_output_type_annotation(kind, pytype)
    else:
        checks = check_input_type_annotation(kind, pytype)
    if not checks:
        type_name = getattr(pytype, "__name__", repr(pytype))
        if binding.data_type is not DATA_TYPE_UNDEFINED:
            raise FunctionLoadError(
                fn,
                f'{name!r} binding type "{binding.type}" and dataType "{binding.data_type}" '
                "in function.json do not match the corresponding function parameter's Python "
                f'type annotation "{type_name}"',
            )
        raise FunctionLoadError(
            fn,
            f'type of {name} binding in function.json "{binding.type}" does not match its '
            f'Python annotation "{type_name}"',
        )
    return ParamType(kind, pytype), is_binding_out


def _return_type(
    annotations: Mapping[str, Any], explicit: bool, implicit: bool, binding_name: str, fn: str
) -> ParamType | None:
    pytype = None
    if explicit and "return" in annotations:
        pytype = annotations["return"]
        if typing_inspect.is_generic_type(pytype) and _is_out(pytype):
            raise FunctionLoadError(fn, "return annotation should not be azure.functions.Out")
        if not isinstance(pytype, type):
            raise FunctionLoadError(fn, f"has invalid non-type return annotation {pytype!r}")
        if not check_output_type_annotation(binding_name, pytype):
            raise FunctionLoadError(
                fn,
                f'Python return annotation "{pytype.__name__}" does not match binding type '
                f'"{binding_name}"',
            )
    if implicit and "return" in annotations:
        pytype = annotations["return"]
    return ParamType(binding_name, pytype) if explicit or implicit else None


def load_function(function: Any) -> FunctionInfo:
    """The worker's ``Registry.add_indexed_function`` for one ``azure.functions`` Function."""
    func: Callable[..., Any] = function.get_user_function()
    name = str(function.get_function_name())
    params = dict(inspect.signature(func).parameters)
    annotations = typing.get_type_hints(func)
    bound: dict[str, Any] = {}
    explicit = implicit = False
    return_name = ""
    for binding in function.get_bindings():
        if binding.direction == DIRECTION_INOUT:
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == RETURN:
            if binding.direction != DIRECTION_OUT:
                raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
            if not explicit:
                return_name = binding.type
            explicit = True
        else:
            bound[binding.name] = binding
            if has_implicit_output(binding.type):
                implicit = True
                if not explicit:
                    return_name = binding.type
    requires_context = "context" in params and "context" not in bound
    if requires_context:
        params.pop("context")
        annotation = annotations.get("context")
        if "context" in annotations and (
            not isinstance(annotation, type) or annotation.__name__ != "Context"
        ):
            raise FunctionLoadError(
                name,
                'the "context" parameter is expected to be of type azure.functions.Context, '
                f"got {annotation!r}",
            )
    if set(params) - set(bound):
        raise FunctionLoadError(
            name,
            "the following parameters are declared in Python but not in function.json: "
            f"{set(params) - set(bound)!r}",
        )
    if set(bound) - set(params):
        raise FunctionLoadError(
            name,
            "the following parameters are declared in function.json but not in Python: "
            f"{set(bound) - set(params)!r}",
        )
    checked = {p: _check_param(p, bound[p], annotations, name) for p in params}
    return FunctionInfo(
        func=func,
        name=name,
        directory=str(pathlib.Path(inspect.getfile(func)).parent),
        requires_context=requires_context,
        is_async=inspect.iscoroutinefunction(func),
        has_return=explicit or implicit,
        input_types={p: t for p, (t, out) in checked.items() if not out},
        output_types={p: t for p, (t, out) in checked.items() if out},
        return_type=_return_type(annotations, explicit, implicit, return_name, name),
    )


def decode_argument(param: ParamType, data: Datum, metadata: Mapping[str, Datum]) -> Any:
    """``bindings.from_incoming_proto``: the converter turns the host's data into the argument;
    only trigger bindings see the trigger metadata."""
    binding = get_binding(param.binding_name)
    trigger_metadata = metadata if is_trigger_binding(param.binding_name) else {}
    try:
        return binding.decode(data, trigger_metadata=trigger_metadata)
    except NotImplementedError:
        raise TypeError(
            f"unable to decode incoming TypedData: unsupported combination of TypedData field "
            f"{data.type!r} and expected binding type {binding}"
        ) from None


def encode_return(info: FunctionInfo, result: Any) -> Datum | None:
    """The dispatcher's rules for a function's return value."""
    if result is not None and not info.has_return:
        # The worker's message, missing space included.
        raise RuntimeError(
            f"function {info.name!r} without a $return bindingreturned a non-None value"
        )
    if info.return_type is None:
        return None
    binding = get_binding(info.return_type.binding_name)
    try:
        datum: Datum = binding.encode(result, expected_type=info.return_type.pytype)
    except NotImplementedError:
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "{binding}" for Python '
            f'type "{type(result).__name__}"'
        ) from None
    return datum


class Out(_abc.Out[Any]):
    """What an ``Out[...]`` parameter receives (bindings/out.py): a box the function sets."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


def encode_output(name: str, param: ParamType, value: Any) -> Datum:
    """``bindings.to_outgoing_param_binding``: a set ``Out`` value through its converter."""
    binding = get_binding(param.binding_name)
    try:
        datum: Datum = binding.encode(value, expected_type=param.pytype)
    except NotImplementedError:
        raise TypeError(
            f'unable to encode outgoing TypedData: unsupported type "{binding}" for Python '
            f'type "{type(value).__name__}"'
        ) from None
    return datum
