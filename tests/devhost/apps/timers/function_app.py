"""Timer test app: a per-second timer that records each run (and whether it was past due)."""

from __future__ import annotations

import os
import time

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp()


@app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", use_monitor=True)
def tick(timer: func.TimerRequest) -> None:
    record(function="tick", past_due=timer.past_due, start=time.time())
    time.sleep(float(os.environ.get("TICK_SECONDS", "0")))
    record(function="tick", past_due=timer.past_due, end=time.time())


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def at_startup(timer: func.TimerRequest) -> None:
    record(function="at_startup", past_due=timer.past_due)
