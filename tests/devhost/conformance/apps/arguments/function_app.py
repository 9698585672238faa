"""What a function receives: each records the type and value of its argument."""

from __future__ import annotations

import json

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
STORE = "AzureWebJobsStorage"


def _seen(function: str, value: object) -> None:
    shown = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    record(function=function, type=type(value).__name__, value=shown)


@app.queue_trigger(arg_name="msg", queue_name="%TEXT_QUEUE%", connection=STORE)
def as_text(msg: str) -> None:
    _seen("as_text", msg)


@app.queue_trigger(arg_name="msg", queue_name="%BYTES_QUEUE%", connection=STORE)
def as_bytes(msg: bytes) -> None:
    _seen("as_bytes", msg)


@app.queue_trigger(
    arg_name="msg", queue_name="%BINARY_QUEUE%", connection=STORE, data_type=func.DataType.BINARY
)
def as_binary(msg: bytes) -> None:
    _seen("as_binary", msg)


@app.queue_trigger(arg_name="msg", queue_name="%MESSAGE_QUEUE%", connection=STORE)
def as_message(msg: func.QueueMessage) -> None:
    _seen("as_message", msg.get_body())
    record(function="as_message_meta", id=msg.id, inserted=str(msg.insertion_time))


@app.route(route="request", methods=["GET", "POST"])
def request(req: func.HttpRequest) -> func.HttpResponse:
    seen = {
        "type": f"{type(req).__module__}.{type(req).__qualname__}",
        "headers": dict(req.headers),
        "params": dict(req.params),
        "body_hex": req.get_body().hex(),
    }
    return func.HttpResponse(json.dumps(seen), mimetype="application/json")
