"""Callback URLs: which may be called, how a notification is signed, and one delivery.

A URL must be ``https`` and its host must resolve only to public addresses: never loopback,
private, link-local (169.254.169.254, the metadata service, among them), multicast or reserved
ones, checked at submit and again before each delivery (a name can be re-pointed). A host
listed in JOBS_CALLBACK_ALLOWED_HOSTS skips the address check and may use ``http`` (local runs
and tests). Redirects are not followed.

Receivers check ``X-Jobs-Signature: t=<unix seconds>,v1=<hex>``: the HMAC-SHA256, keyed with
JOBS_WEBHOOK_SECRET, of ``"<t>.<body>"``, compared in constant time, with ``t`` recent."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests

MAX_URL_LENGTH = 2048
TIMEOUT = (5.0, 10.0)  # seconds to connect, to read

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def url_problem(
    url: str, allowed_hosts: frozenset[str], resolver: Resolver = resolve
) -> str | None:
    """Why ``url`` may not be called back, or None when it may."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return "must be an absolute URL with a host and no credentials"
    if host in allowed_hosts:
        return None if parts.scheme in ("https", "http") else "must be https"
    if parts.scheme != "https":
        return "must be https"
    try:
        addresses = resolver(host)
    except OSError:
        return f"host {host!r} does not resolve"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return f"host {host!r} resolves to a non-public address ({address})"
    return None if addresses else f"host {host!r} does not resolve"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post(url: str, body: bytes, secret: str, event_id: str) -> str | None:
    """One signed POST of ``body``; None when the receiver answered 2xx, else what went wrong."""
    headers = {
        "Content-Type": "application/json",
        "X-Jobs-Event-Id": event_id,
        "X-Jobs-Signature": signature(secret, int(time.time()), body),
    }
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT,
                               allow_redirects=False)  # fmt: skip
    except requests.RequestException as error:
        return f"{type(error).__name__}: {error}"[:500]
    if 200 <= answer.status_code < 300:
        return None
    return f"the receiver answered {answer.status_code}"
