"""Queue-trigger test app: each function's queue comes from a setting, events go to RECORD_FILE."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp()


def _event(name: str, msg: func.QueueMessage, **extra: object) -> None:
    record(
        function=name,
        id=msg.id,
        body=msg.get_body().decode("latin-1"),
        dequeue_count=msg.dequeue_count,
        **extra,
    )


@app.queue_trigger(arg_name="msg", queue_name="%FAIL_QUEUE%", connection="Store")
def always_fails(msg: func.QueueMessage) -> None:
    _event("always_fails", msg)
    raise RuntimeError("always fails")


@app.queue_trigger(arg_name="msg", queue_name="%FLAKY_QUEUE%", connection="Store")
def flaky(msg: func.QueueMessage, context: func.Context) -> None:
    _event("flaky", msg, invocation_id=context.invocation_id)
    if (msg.dequeue_count or 0) < 3:
        raise RuntimeError(f"flaky attempt {msg.dequeue_count}")
    logging.info("flaky succeeded on attempt %s", msg.dequeue_count)


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="Store")
def work(msg: func.QueueMessage) -> None:
    _event("work", msg, phase="start")
    time.sleep(float(os.environ.get("WORK_SECONDS", "0")))
    _event("work", msg, phase="end")


@app.queue_trigger(arg_name="msg", queue_name="%ASYNC_QUEUE%", connection="Store")
async def async_work(msg: func.QueueMessage) -> None:
    _event("async_work", msg, phase="start")
    await asyncio.sleep(float(os.environ.get("ASYNC_SECONDS", "0")))
    _event("async_work", msg, phase="end")
