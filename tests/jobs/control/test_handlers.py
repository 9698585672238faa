"""The one table from message type to handler: every message the app writes has a route, and
the queue function and the sweep take the same one."""

from __future__ import annotations

import typing
import uuid

import pytest

from composition import Service
from jobs.control import handlers
from jobs.control.handlers import ROUTES, Swept, handle, route_of
from jobs.core.messages import (
    CancelMessage,
    DeliverMessage,
    FanOutMessage,
    FinishedMessage,
    Message,
    PurgeMessage,
    RetryMessage,
    RunMessage,
)
from jobs.core.settings import Settings

TASK = str(uuid.uuid4())
EXAMPLES: list[Message] = [
    RunMessage(TASK, 3), FanOutMessage(TASK), CancelMessage(TASK), RetryMessage(TASK, 1),
    FinishedMessage(TASK, 1), DeliverMessage(TASK, 1, 1), PurgeMessage(TASK),
]  # fmt: skip


def test_every_message_type_has_a_route() -> None:
    assert set(ROUTES) == set(typing.get_args(Message))
    assert {type(message) for message in EXAMPLES} == set(ROUTES)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_the_queue_function_routes_each_message_through_the_table(
    message: Message, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Message, handlers.Delivery]] = []
    route = ROUTES[type(message)]
    monkeypatch.setitem(
        ROUTES,
        type(message),
        handlers.Route(lambda _, m, delivery: seen.append((m, delivery)), route.poisoned),
    )
    service = Service.in_memory(Settings(test_kinds=True))
    handle(service, "jobs", message.to_json(), attempt=2, message_id="m-1")
    assert seen == [(message, handlers.Delivery("jobs", 2, "m-1"))]


def test_a_message_for_an_unknown_task_is_handled_quietly_on_both_paths() -> None:
    """No row exists for TASK: every route's delivered and poisoned steps find nothing to do,
    and a poisoned job message is stale."""
    service = Service.in_memory(Settings(test_kinds=True))
    for message in EXAMPLES:
        if not isinstance(message, FinishedMessage):  # that one waits for its end: NotYet
            route_of(message).delivered(service, message, handlers.Delivery("jobs", 1, None))
        swept = route_of(message).poisoned(service, message, "jobs")
        assert swept is (Swept.STALE if isinstance(message, RunMessage) else Swept.HANDLED)
