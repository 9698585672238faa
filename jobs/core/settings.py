"""The one reader of app settings. Read when first needed, never at import, so the host can
index the functions even where a setting is missing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from jobs.core.errors import ConfigurationError
from jobs.core.resources import CONTAINER_NAME, INPUTS_CONTAINER, is_private_container

# The connection name the app's bindings and its own clients use (see jobs.storage.connection):
# `JobsStorage` holds a connection string, or `JobsStorage__accountName` etc. an identity.
STORAGE_CONNECTION = "JobsStorage"

SWEEP_SCHEDULE = "JOBS_SWEEP_SCHEDULE"  # NCRONTAB, read by the host through %JOBS_SWEEP_SCHEDULE%
# NCRONTAB of the timer that submits due recurring schedules (%JOBS_SCHEDULER_SCHEDULE%).
SCHEDULER_SCHEDULE = "JOBS_SCHEDULER_SCHEDULE"
RETENTION_DAYS = "JOBS_RETENTION_DAYS"  # finished tasks older than this are purged daily
RETENTION_SCHEDULE = "0 17 3 * * *"  # the daily retention run (NCRONTAB, 03:17 UTC)
TEST_KINDS = "JOBS_TEST_KINDS"
MAX_ITEMS = "JOBS_MAX_ITEMS"
MAX_BODY_BYTES = "JOBS_MAX_BODY_BYTES"
MAX_ITEM_BYTES = "JOBS_MAX_ITEM_BYTES"
DISPATCH_WINDOW = "JOBS_DISPATCH_WINDOW"
INPUT_CONTAINERS = "JOBS_INPUT_CONTAINERS"  # where kinds may read blobs, comma-separated
MAX_INPUT_BYTES = "JOBS_MAX_INPUT_BYTES"  # the largest blob a kind may read
OUTPUT_LINK_MINUTES = "JOBS_OUTPUT_LINK_MINUTES"  # how long an output's download link works
WEBHOOK_SECRET = "JOBS_WEBHOOK_SECRET"  # signs task.finished notifications
CALLBACK_ALLOWED_HOSTS = "JOBS_CALLBACK_ALLOWED_HOSTS"  # hosts exempt from the address rules
# A worker writes its concurrent moves of one task's jobs in one transaction
# (jobs.lifecycle.writer).
GROUP_COMMIT = "JOBS_GROUP_COMMIT"
# Where a new task's moves are counted (jobs.lifecycle.counters): writers (the default) or
# shards, the layout of tasks created before writers' rows; kept for comparison.
COUNTER_LAYOUT = "JOBS_COUNTER_LAYOUT"
COUNTER_LAYOUTS = ("writers", "shards")

# Every plain setting the app reads (connection settings aside), for infra's drift check.
APP_SETTINGS: tuple[str, ...] = (
    SWEEP_SCHEDULE,
    SCHEDULER_SCHEDULE,
    RETENTION_DAYS,
    TEST_KINDS,
    MAX_ITEMS,
    MAX_BODY_BYTES,
    MAX_ITEM_BYTES,
    DISPATCH_WINDOW,
    INPUT_CONTAINERS,
    MAX_INPUT_BYTES,
    OUTPUT_LINK_MINUTES,
    WEBHOOK_SECRET,
    CALLBACK_ALLOWED_HOSTS,
    GROUP_COMMIT,
    COUNTER_LAYOUT,
)

# Counter shards per task (jobs.storage.jobs_table). The dispatch window must be a multiple
# of it.
COUNTER_SHARDS = 32
# A user delegation key, which signs the links under an identity, lives at most 7 days.
MAX_LINK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Settings:
    test_kinds: bool = False
    max_items: int = 100_000
    max_body_bytes: int = 32 * 1024 * 1024
    max_item_bytes: int = 256 * 1024
    dispatch_window: int = 128
    input_containers: tuple[str, ...] = (INPUTS_CONTAINER,)
    max_input_bytes: int = 64 * 1024 * 1024
    output_link_minutes: int = 60
    webhook_secret: str | None = None
    callback_allowed_hosts: frozenset[str] = frozenset()
    retention_days: int = 30
    group_commit: bool = True
    counter_layout: str = "writers"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        default = cls()
        settings = cls(
            test_kinds=_flag(env, TEST_KINDS, default.test_kinds),
            max_items=_positive_int(env, MAX_ITEMS, default.max_items),
            max_body_bytes=_positive_int(env, MAX_BODY_BYTES, default.max_body_bytes),
            max_item_bytes=_positive_int(env, MAX_ITEM_BYTES, default.max_item_bytes),
            dispatch_window=_positive_int(env, DISPATCH_WINDOW, default.dispatch_window),
            input_containers=_containers(env, INPUT_CONTAINERS, default.input_containers),
            max_input_bytes=_positive_int(env, MAX_INPUT_BYTES, default.max_input_bytes),
            output_link_minutes=_positive_int(
                env, OUTPUT_LINK_MINUTES, default.output_link_minutes
            ),
            webhook_secret=env.get(WEBHOOK_SECRET) or None,
            callback_allowed_hosts=frozenset(
                host.strip().lower()
                for host in env.get(CALLBACK_ALLOWED_HOSTS, "").split(",")
                if host.strip()
            ),
            retention_days=_positive_int(env, RETENTION_DAYS, default.retention_days),
            group_commit=_flag(env, GROUP_COMMIT, default.group_commit),
            counter_layout=env.get(COUNTER_LAYOUT, "").strip() or default.counter_layout,
        )
        if settings.counter_layout not in COUNTER_LAYOUTS:
            raise ConfigurationError(
                f"{COUNTER_LAYOUT} must be one of {', '.join(COUNTER_LAYOUTS)}, "
                f"got {settings.counter_layout!r}"
            )
        if settings.dispatch_window % COUNTER_SHARDS:
            raise ConfigurationError(
                f"{DISPATCH_WINDOW} must be a multiple of {COUNTER_SHARDS}, "
                f"got {settings.dispatch_window}"
            )
        if settings.output_link_minutes > MAX_LINK_MINUTES:
            raise ConfigurationError(
                f"{OUTPUT_LINK_MINUTES} must be at most {MAX_LINK_MINUTES} (7 days), "
                f"got {settings.output_link_minutes}"
            )
        return settings


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes"):
        return True
    if raw in ("0", "false", "no"):
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    return value


def _containers(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Container names, comma-separated. Naming one of the service's, the host's or the
    deployment's own containers is a mistake that would expose it: refused, not ignored."""
    parts = (part.strip() for part in env.get(name, "").split(","))
    names = tuple(dict.fromkeys(part for part in parts if part))  # in order, once each
    if not names:
        return default
    for container in names:
        if not CONTAINER_NAME.fullmatch(container):
            raise ConfigurationError(f"{name}: {container!r} is not a container name")
        if is_private_container(container):
            raise ConfigurationError(
                f"{name}: {container!r} holds the service's, the host's or the deployment's "
                "own data and can never be read by a job"
            )
    return names
