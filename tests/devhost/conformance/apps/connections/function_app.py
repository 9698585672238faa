"""One queue function on connection "Store": which setting it reads is the question."""

from __future__ import annotations

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="%CONN_QUEUE%", connection="Store")
def on_store(msg: func.QueueMessage) -> None:
    record(function="on_store", body=msg.get_body().decode())
