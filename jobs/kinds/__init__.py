"""Job kinds: what a job does. Each module defines one ``KIND``: an input model and a handler
returning JSON (``base``); the kinds read and write blobs through ``files``, only where the
input policy (``inputs``) allows.

To add a kind, write a module here with a pydantic model and a handler, and list its KIND in
``_KINDS`` below. Test-only kinds (``testing/``) exist only when JOBS_TEST_KINDS is true.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jobs.core.settings import Settings
from jobs.kinds import echo, transform
from jobs.kinds.base import JobContext, Kind
from jobs.kinds.inputs import InputPolicy, item_context
from jobs.kinds.testing import bounded, brittle, collect, fail, flaky, gated, paced, sleep, steps

__all__ = ["JobContext", "Kind", "Kinds"]

_KINDS: tuple[Kind, ...] = (
    echo.KIND, transform.KIND, fail.KIND, flaky.KIND, sleep.KIND, steps.KIND, brittle.KIND,
    bounded.KIND, collect.KIND, gated.KIND, paced.KIND,
)  # fmt: skip


class Kinds(Mapping[str, Kind]):
    """The kinds this deployment runs, by name, and the validation context their items are
    checked with (at submit and before each run): the input policy."""

    def __init__(self, kinds: Mapping[str, Kind], context: dict[str, Any]):
        self._kinds = dict(kinds)
        self.context = context

    @classmethod
    def from_settings(cls, settings: Settings, inputs: InputPolicy) -> Kinds:
        enabled = {k.name: k for k in _KINDS if settings.test_kinds or not k.test_only}
        return cls(enabled, item_context(inputs))

    def __getitem__(self, name: str) -> Kind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)
