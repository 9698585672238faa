"""``python -m harness.short_lease SECONDS [devhost arguments]``: the local host, except that
the messages it takes are hidden for SECONDS instead of the storage extension's 10 minutes (and
renewed every third of that while their function runs). So a test that kills hosts sees the
messages a dead host held come back within the test's time, as they would in Azure after ten
minutes. Everything else is devhost's own."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from devhost import queue_listener, queue_processor
from devhost.cli import main


def run(argv: Sequence[str]) -> int:
    seconds = int(argv[0])
    # Fail loudly rather than run with the 10 minutes should devhost rename its constants.
    for module, name in ((queue_listener, "INVISIBILITY"), (queue_processor, "INVISIBILITY"),
                         (queue_processor, "RENEW_EVERY")):  # fmt: skip
        if not hasattr(module, name):
            raise SystemExit(f"harness.short_lease: {module.__name__}.{name} is gone")
    queue_listener.INVISIBILITY = seconds
    queue_processor.INVISIBILITY = seconds
    queue_processor.RENEW_EVERY = seconds / 3
    return main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
