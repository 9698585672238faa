"""One queue message, from receipt to delete, release or poison, as the storage extension does it.

Sources, Azure/azure-sdk-for-net ``sdk/storage/``:

* ``Azure.Storage.Queues/src/QueueMessageCodec.cs``: base64 bodies are decoded with .NET's
  ``Convert.FromBase64String``, which skips spaces, tabs and line breaks anywhere in the text
  but is strict about the alphabet and padding. An undecodable body is copied raw to the
  poison queue and deleted, without an invocation.
* ``Microsoft.Azure.WebJobs.Extensions.Storage.Common/src/Shared/Queues/QueueProcessor.cs``:
  poison before invoking past maxDequeueCount; after a failure poison at maxDequeueCount or
  release with visibilityTimeout; no poison queue means the message is left invisible; delete
  and release ignore a lost pop receipt, a missing message or queue and a queue being deleted,
  and any other storage error is unhandled (the host stops). The poison copy is a new message
  with the same body, encoded the same way.
* ``.../Queues/QueueListener.cs`` ``ProcessMessageAsync`` and
  ``.../Shared/UpdateQueueMessageVisibilityCommand.cs``: while the function runs the
  message's 10-minute invisibility is renewed every 5 minutes; a lost pop receipt or a missing
  message/queue ends the renewals, anything else is unhandled. (The command's 5xx branch falls
  through to its rethrow: a 5xx on renewal stops the host too.)
* ``Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/Triggers/
  StorageQueueMessageToStringConverter.cs`` with ``Storage.Common/src/Shared/
  BinaryDataExtensions.cs``: the Python worker is sent the body as a string, decoded as strict
  UTF-8; a body that is not UTF-8 fails the binding, so the invocation fails (retried, then
  poisoned) without the function running. With ``dataType: binary`` the bytes go as they are.
  The trigger metadata (``QueueTriggerBinding.cs``) carries Id, DequeueCount, the three times
  and PopReceipt, and QueueTrigger when the body is text.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from devhost import logs
from devhost.config import QueueOptions
from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, WorkerLost
from devhost.listening import finish

INVISIBILITY = 600
RENEW_EVERY = 300.0
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MAX_TIME = "9999-12-31T23:59:59.9999999+00:00"

Fatal = Callable[[BaseException], None]


class Base64Error(ValueError):
    pass


def dotnet_base64(text: str) -> bytes:
    """``Convert.FromBase64String``: whitespace and line breaks skipped, the rest strict."""
    compact = re.sub(r"[ \t\r\n]", "", text)
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        raise Base64Error("The input is not a valid Base-64 string")
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error as exc:
        raise Base64Error(str(exc)) from exc


def poison_queue_name(queue: str) -> str | None:
    if queue.endswith("-poison") or len(queue) + len("-poison") > 63:
        return None
    return f"{queue}-poison"


def ignorable(exc: BaseException) -> bool:
    """Errors QueueProcessor and the renewal command shrug off: the message is someone else's
    or gone, or its queue is being deleted."""
    if not isinstance(exc, HttpResponseError):
        return False
    # The SDK's codes are str enums: compared as they are, never through str(), which names
    # the member ("StorageErrorCode.POP_RECEIPT_MISMATCH") rather than giving its value.
    code = getattr(exc, "error_code", None)
    return (
        (exc.status_code == 400 and code == "PopReceiptMismatch")
        or (exc.status_code == 404 and code in ("MessageNotFound", "QueueNotFound"))
        or (exc.status_code == 409 and code == "QueueBeingDeleted")
    )


def _time(moment: datetime | None, default: str) -> dict[str, str]:
    text = moment.astimezone(UTC).isoformat() if moment else default
    return {"type": "json", "value": json.dumps(text)}


def trigger_data(
    message: QueueMessage, body: bytes, binary: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(trigger, metadata) as typed data; UnicodeDecodeError when text is due and impossible."""
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        if not binary:
            raise
        text = None
    trigger = {"type": "bytes", "value": body} if binary else {"type": "string", "value": text}
    metadata: dict[str, Any] = {
        "DequeueCount": {"type": "json", "value": str(message.dequeue_count or 0)},
        "ExpirationTime": _time(message.expires_on, _MAX_TIME),
        "Id": {"type": "string", "value": str(message.id)},
        "InsertionTime": _time(message.inserted_on, datetime.now(UTC).isoformat()),
        "NextVisibleTime": _time(message.next_visible_on, _MAX_TIME),
        "PopReceipt": {"type": "string", "value": str(message.pop_receipt)},
    }
    if text is not None:
        metadata["QueueTrigger"] = {"type": "string", "value": text}
    return trigger, metadata


@dataclass(eq=False)
class QueueProcessor:
    """One queue's messages, each processed on its own: ``poisoned`` is told the name of the
    poison queue a message was moved to."""

    spec: FunctionSpec
    options: QueueOptions
    invoker: Invoker
    queue: QueueClient
    poison: QueueClient | None
    fatal: Fatal
    poisoned: Callable[[str], None]
    reason: str = field(init=False)

    def __post_init__(self) -> None:
        self.reason = f"New queue message detected on '{self.queue.queue_name}'."

    async def process(self, message: QueueMessage) -> None:
        """Everything for one message; an unexpected error is fatal, as in the listener."""
        try:
            await self._process(message)
        except WorkerLost:
            pass  # the host is stopping: the message comes back after its invisibility
        except Exception as exc:
            self.fatal(exc)

    async def _process(self, message: QueueMessage) -> None:
        receipt = [str(message.pop_receipt)]
        content = str(message.content or "")
        if self.options.message_encoding == "base64":
            try:
                body = dotnet_base64(content)
            except Base64Error:
                logs.HOST.warning(
                    "Message %s on '%s' is not valid base64: moving it to the poison queue",
                    message.id, self.queue.queue_name,
                )  # fmt: skip
                await self._to_poison(message, content, receipt)
                return
        else:
            body = content.encode("utf-8")
        if (message.dequeue_count or 0) > self.options.max_dequeue_count:
            await self._to_poison(message, self._encode(body), receipt)
            return
        renewal = asyncio.create_task(self._renew(message, receipt))
        try:
            failed = not await self._invoke(message, body)
        finally:
            await finish(renewal, cancel=True)
        await self._complete(message, body, receipt, failed)

    async def _invoke(self, message: QueueMessage, body: bytes) -> bool:
        try:
            trigger, metadata = trigger_data(message, body, self.spec.binary)
        except UnicodeDecodeError as exc:
            error = (
                f"Exception binding parameter '{self.spec.trigger_name}'\n"
                f"DecoderFallbackException: {exc}"
            )
            self.invoker.fail_binding(self.spec.name, self.reason, error)
            return False
        request = {"trigger_name": self.spec.trigger_name, "trigger": trigger, "metadata": metadata}
        try:
            await self.invoker.invoke(self.spec.name, request, self.reason)
        except InvocationFailed:
            return False
        return True

    def _encode(self, body: bytes) -> str:
        if self.options.message_encoding == "base64":
            return base64.b64encode(body).decode()
        return body.decode("utf-8", errors="replace")

    async def _complete(
        self, message: QueueMessage, body: bytes, receipt: list[str], failed: bool
    ) -> None:
        if not failed:
            await self._delete(message, receipt)
        elif self.poison is None:
            return  # no poison queue: left invisible rather than retried in a tight loop
        elif (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            await self._to_poison(message, self._encode(body), receipt)
        else:
            try:
                await self.queue.update_message(
                    message.id, receipt[0], visibility_timeout=int(self.options.visibility_timeout)
                )
            except HttpResponseError as exc:
                if not ignorable(exc):
                    raise

    async def _delete(self, message: QueueMessage, receipt: list[str]) -> None:
        try:
            await self.queue.delete_message(message.id, receipt[0])
        except HttpResponseError as exc:
            if not ignorable(exc):
                raise

    async def _to_poison(self, message: QueueMessage, content: str, receipt: list[str]) -> None:
        if self.poison is None:
            return
        logs.HOST.warning(
            "Message has reached MaxDequeueCount of %s. Moving message to queue '%s'.",
            self.options.max_dequeue_count, self.poison.queue_name,
        )  # fmt: skip
        try:
            await self.poison.send_message(content)
        except HttpResponseError as exc:
            if exc.status_code != 404:
                raise
            with contextlib.suppress(ResourceExistsError):
                await self.poison.create_queue()
            await self.poison.send_message(content)
        self.poisoned(self.poison.queue_name)
        await self._delete(message, receipt)

    async def _renew(self, message: QueueMessage, receipt: list[str]) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                updated: Any = await self.queue.update_message(
                    message.id, receipt[0], visibility_timeout=INVISIBILITY
                )
            except (AzureError, OSError) as exc:
                if not ignorable(exc):
                    self.fatal(exc)
                return
            receipt[0] = str(updated.pop_receipt)
