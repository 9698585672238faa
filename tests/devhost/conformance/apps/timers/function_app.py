"""Timers whose schedules come from settings; a setting left at its default never fires."""

from __future__ import annotations

import time

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp()
_runs = {"overrun": 0}


def _seen(function: str, timer: func.TimerRequest, **extra: object) -> None:
    record(
        function=function,
        past_due=timer.past_due,
        # azure.functions.timer.TimerRequest has it; the public abstract type does not.
        schedule_status=getattr(timer, "schedule_status", None),
        **extra,
    )


@app.timer_trigger(schedule="%OVERRUN_SCHEDULE%", arg_name="timer")
def overrun(timer: func.TimerRequest) -> None:
    """The first run takes longer than the interval; the others are quick."""
    _runs["overrun"] += 1
    _seen("overrun", timer, phase="start", start=time.time())
    if _runs["overrun"] == 1:
        time.sleep(6)
    _seen("overrun", timer, phase="end", end=time.time())


@app.timer_trigger(schedule="%MONITORED_SCHEDULE%", arg_name="timer", run_on_startup=True)
def monitored(timer: func.TimerRequest) -> None:
    _seen("monitored", timer)


@app.timer_trigger(schedule="%WATCHED_SCHEDULE%", arg_name="timer")
def watched(timer: func.TimerRequest) -> None:
    _seen("watched", timer)


@app.timer_trigger(schedule="%FREQUENT_SCHEDULE%", arg_name="timer", use_monitor=True)
def frequent(timer: func.TimerRequest) -> None:
    _seen("frequent", timer)


@app.timer_trigger(schedule="%SPAN_SCHEDULE%", arg_name="timer")
def span(timer: func.TimerRequest) -> None:
    _seen("span", timer, at_time=time.time())
