"""Response cookies, from an ``HttpResponse``'s ``Set-Cookie`` headers to the host's header.

The library parses each ``Set-Cookie`` header the function adds into a ``SimpleCookie``
(Azure/azure-functions-python-library ``azure/functions/http.py``,
``HttpResponseConverter.encode``): a header ``SimpleCookie`` cannot read (an unknown attribute
such as ``SecureFalse``) gives no cookie at all, an empty header none either.

The worker turns each cookie into an ``RpcHttpCookie`` (Azure/azure-functions-python-worker
``azure_functions_worker/bindings/datumdef.py`` ``parse_to_rpc_http_cookie_list`` with
``bindings/nullable_converters.py``): domain and path are sent whenever they are strings
(``SimpleCookie`` gives ``""`` when unset), ``expires`` is parsed with dateutil and an
unparsable value logs "Can not parse value ... of expires in the cookie due to invalid format."
and fails the invocation, ``max-age`` must be a number (else a ``TypeError``), ``samesite`` is
lax, strict or none.

The host writes each one with ASP.NET Core's ``Response.Cookies.Append`` (Azure/azure-functions-
host ``src/WebJobs.Script.Grpc/MessageExtensions/GrpcMessageExtensionUtilities.cs``
``RpcHttpCookieConverter``), whose header is ``name=value; expires=<RFC 1123>; max-age=<s>;
domain=...; path=...; secure; samesite=...; httponly`` with the value percent-encoded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http.cookies import Morsel
from typing import Any
from urllib.parse import quote

from dateutil import parser

SAME_SITE = {"lax": "lax", "strict": "strict", "none": "none"}


def _nullable_string(value: Any, name: str) -> str | None:
    if isinstance(value, str):
        return value
    if value is not None:
        raise TypeError(
            f"A 'str' type was expected instead of a '{type(value)}' type. Cannot parse value "
            f"{value} of '{name}'."
        )
    return None


def _nullable_double(value: Any, name: str) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            raise TypeError(f"Cannot parse value {value} of '{name}' to float.") from None
    if value is not None:
        raise TypeError(
            f"A 'int' or 'float' type was expected instead of a '{type(value)}' type. Cannot "
            f"parse value {value} of '{name}'."
        )
    return None


def _expires(morsel: Morsel[str]) -> int | None:
    raw = morsel["expires"]
    if not raw:
        return None
    try:
        moment = parser.parse(raw)
    except parser.ParserError:
        logging.error(f"Can not parse value {raw} of expires in the cookie due to invalid format.")
        raise
    except OverflowError:
        logging.error(
            f"Can not parse value {raw} of expires in the cookie because the parsed date exceeds "
            "the largest valid C integer on your system."
        )
        raise
    return int(moment.timestamp())


def rpc_cookies(cookies: Iterable[Mapping[str, Morsel[str]]] | None) -> list[dict[str, Any]]:
    """The worker's ``RpcHttpCookie`` list for the library's parsed cookies."""
    result: list[dict[str, Any]] = []
    for cookie in cookies or []:
        for name, morsel in cookie.items():
            same_site = str(morsel["samesite"] or "").lower()
            result.append(
                {
                    "name": name,
                    "value": morsel.value,
                    "domain": _nullable_string(morsel["domain"], "cookie.domain"),
                    "path": _nullable_string(morsel["path"], "cookie.path"),
                    "expires": _expires(morsel),
                    "secure": bool(morsel["secure"]),
                    "http_only": bool(morsel["httponly"]),
                    "same_site": SAME_SITE.get(same_site),
                    "max_age": _nullable_double(morsel["max-age"], "cookie.maxAge"),
                }
            )
    return result


def set_cookie_header(cookie: Mapping[str, Any]) -> str:
    """The ``Set-Cookie`` value ASP.NET Core writes for one ``RpcHttpCookie``."""
    parts = [f"{cookie['name']}={quote(str(cookie['value']), safe='')}"]
    if cookie.get("expires") is not None:
        moment = datetime.fromtimestamp(int(cookie["expires"]), tz=UTC)
        parts.append(f"expires={moment.strftime('%a, %d %b %Y %H:%M:%S GMT')}")
    if cookie.get("max_age") is not None:
        parts.append(f"max-age={int(cookie['max_age'])}")
    if cookie.get("domain") is not None:
        parts.append(f"domain={cookie['domain']}")
    # CookieOptions.Path defaults to "/" when the worker sends none.
    parts.append(f"path={'/' if cookie.get('path') is None else cookie['path']}")
    if cookie.get("secure"):
        parts.append("secure")
    if cookie.get("same_site"):
        parts.append(f"samesite={cookie['same_site']}")
    if cookie.get("http_only"):
        parts.append("httponly")
    return "; ".join(parts)
