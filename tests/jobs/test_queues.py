"""Reading messages back from poison queues, which hold base64 copies and raw ones."""

from __future__ import annotations

import base64

from jobs.models import RunMessage
from jobs.queues import decode


def test_poison_messages_are_read_base64_or_raw() -> None:
    message = RunMessage("t", 7)
    encoded = base64.b64encode(message.to_json().encode()).decode()
    assert decode(encoded) == message
    assert decode(message.to_json()) == message  # a raw copy from the decode-failure path
    assert decode("%%% not ours %%%") is None
