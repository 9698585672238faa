"""Where kinds may read: the input policy.

A kind reads blobs only from the containers JOBS_INPUT_CONTAINERS lists, never from the
service's, the Functions host's or the deployment's own containers (jobs.core.resources), and only
under a plain blob name. Kinds declare their fields with ``InputContainer`` and ``BlobName``;
items are checked at submit and again before each run through pydantic's validation context
(``item_context``), and the reader kinds are given (jobs.kinds.files) checks the policy once
more."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from jobs.core.errors import PermanentJobError
from jobs.core.resources import CONTAINER_NAME, is_private_container
from jobs.core.settings import Settings

MAX_BLOB_NAME = 1024  # characters, as Azure allows
CONTEXT_KEY = "inputs"  # where the policy sits in pydantic's validation context


class InputRefused(PermanentJobError):
    """A read the input policy does not allow: retrying cannot make it allowed."""


@dataclass(frozen=True)
class InputPolicy:
    containers: frozenset[str]
    max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> InputPolicy:
        return cls(frozenset(settings.input_containers), settings.max_input_bytes)

    def container_problem(self, container: str) -> str | None:
        """Why ``container`` may not be read, or None when it may."""
        if not CONTAINER_NAME.fullmatch(container):
            return f"{container!r} is not a container name"
        if is_private_container(container):
            return (
                f"container {container!r} belongs to the service, the Functions host or the "
                "deployment and is never readable"
            )
        if container not in self.containers:
            allowed = ", ".join(sorted(self.containers))
            return f"container {container!r} is not an input container (allowed: {allowed})"
        return None

    def check(self, container: str, name: str) -> None:
        """InputRefused unless the blob ``name`` in ``container`` may be read."""
        problem = self.container_problem(container) or blob_name_problem(name)
        if problem is not None:
            raise InputRefused(problem)


def blob_name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain blob name, or None when it is one."""
    if not name:
        return "blob name is empty"
    if len(name) > MAX_BLOB_NAME:
        return f"blob name is {len(name)} characters; the limit is {MAX_BLOB_NAME}"
    if name.startswith("/"):
        return "blob name must not start with '/'"
    if "\\" in name:
        return "blob name must not contain a backslash"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        return "blob name must not contain control characters"
    segments = name.split("/")
    if any(segment in (".", "..") for segment in segments):
        return "blob name must not contain a '.' or '..' segment"
    if "" in segments:
        return "blob name must not contain an empty segment ('//' or a trailing '/')"
    return None


def item_context(policy: InputPolicy) -> dict[str, Any]:
    """The validation context items are checked with: ``adapter.validate_python(items,
    context=item_context(policy))``."""
    return {CONTEXT_KEY: policy}


def _refused(reason: str) -> PydanticCustomError:
    return PydanticCustomError("input_refused", "{reason}", {"reason": reason})


def _allowed_container(container: str, info: ValidationInfo) -> str:
    context = info.context
    policy = context.get(CONTEXT_KEY) if isinstance(context, Mapping) else None
    if not isinstance(policy, InputPolicy):  # fail closed: no policy, no reading
        raise _refused("no input policy to check the container against")
    problem = policy.container_problem(container)
    if problem is not None:
        raise _refused(problem)
    return container


def _plain_blob_name(name: str) -> str:
    problem = blob_name_problem(name)
    if problem is not None:
        raise _refused(problem)
    return name


# A container a kind reads from: allowed by the policy in the validation context.
InputContainer = Annotated[str, AfterValidator(_allowed_container)]
# The name of a blob a kind reads: no '..', no leading '/', no backslash or control character.
BlobName = Annotated[str, AfterValidator(_plain_blob_name)]
