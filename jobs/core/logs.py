"""Job events in the log, one line each, with the task id, job id and attempt both in the text
(so KQL can ``parse`` them from any sink) and as ``custom_dimensions`` (picked up as
customDimensions where the worker exports structured logs)."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("jobs")


def event(name: str, level: int = logging.INFO, **dimensions: Any) -> None:
    fields = " ".join(f"{key}={value}" for key, value in dimensions.items() if value is not None)
    logger.log(
        level,
        "JobEvent %s %s",
        name,
        fields,
        extra={"custom_dimensions": {"event": name, **dimensions}},
    )
