"""Timers with retry policies that fail until the last retry, as the worker's end-to-end
retry-policy apps do, one per strategy."""

from __future__ import annotations

import logging

import azure.functions as func

app = func.FunctionApp()


def _attempt(context: func.Context) -> None:
    retry = context.retry_context
    logging.info(f"{context.function_name} retry count: {retry.retry_count}")
    if retry.retry_count == retry.max_retry_count:
        logging.info(
            f"Max retries of {retry.max_retry_count} for function {context.function_name} "
            "has been reached"
        )
        return
    raise RuntimeError("retry me")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.retry(strategy="fixed_delay", max_retry_count="3", delay_interval="00:00:01")
def fixed(timer: func.TimerRequest, context: func.Context) -> None:
    _attempt(context)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.retry(
    strategy="exponential_backoff",
    max_retry_count="2",
    minimum_interval="00:00:01",
    maximum_interval="00:00:02",
)
def exponential(timer: func.TimerRequest, context: func.Context) -> None:
    _attempt(context)


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
@app.retry(strategy="fixed_delay", max_retry_count="1", delay_interval="00:00:01")
def gives_up(timer: func.TimerRequest, context: func.Context) -> None:
    raise RuntimeError(f"attempt {context.retry_context.retry_count} failed")


@app.timer_trigger(schedule="* * * * * *", arg_name="timer", use_monitor=False)
def every_second(timer: func.TimerRequest) -> None:
    logging.info("This timer ran")
