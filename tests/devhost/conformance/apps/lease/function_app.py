"""A timer, so the host holds its listener lease."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer")
def held(timer: func.TimerRequest) -> None:
    pass
