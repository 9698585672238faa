"""Reading messages back from poison queues, which hold base64 copies and raw ones."""

from __future__ import annotations

import base64

from jobs.core.messages import RunMessage
from jobs.storage.queues import decode


def test_poison_messages_are_read_base64_or_raw() -> None:
    message = RunMessage("5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c", 7)
    encoded = base64.b64encode(message.to_json().encode()).decode()
    assert decode(encoded) == message
    assert decode(message.to_json()) == message  # a raw copy from the decode-failure path
    assert decode("%%% not ours %%%") is None
    assert decode("%%% not base64, {not json ÿ") is None  # non-ASCII: b64decode's ValueError
    assert decode(base64.b64encode(b"\xff\xfe").decode()) is None  # base64 of non-UTF-8
