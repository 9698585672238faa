"""Job kinds: each module defines one ``KIND``, an input model and a handler returning JSON.

To add a kind, write a module here with a pydantic model and a handler, and list its KIND in
``_KINDS`` below. Test-only kinds exist only when the setting JOBS_TEST_KINDS is true.
"""

from __future__ import annotations

from jobs.core.settings import Settings
from jobs.kinds import echo, transform
from jobs.kinds.base import JobContext, Kind
from jobs.kinds.testing import brittle, fail, flaky, sleep, steps

__all__ = ["JobContext", "Kind", "registry"]

_KINDS: tuple[Kind, ...] = (
    echo.KIND, transform.KIND, fail.KIND, flaky.KIND, sleep.KIND, steps.KIND, brittle.KIND,
)  # fmt: skip


def registry(settings: Settings) -> dict[str, Kind]:
    return {kind.name: kind for kind in _KINDS if settings.test_kinds or not kind.test_only}
