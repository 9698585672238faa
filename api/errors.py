"""What each domain error means to a caller: its status code and the error document
``{"error": "...", "details": [{"index"?, "field", "message"}]}``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from api import documents
from api.answers import Answer, json_answer
from jobs.core.errors import (
    ConfigurationError,
    Conflict,
    InvalidBody,
    InvalidRequest,
    MalformedRequest,
    NotFound,
    Problem,
    TooLarge,
)

logger = logging.getLogger("api")
RETRY_AFTER = "5"  # seconds, when storage is away

STATUS: dict[type[InvalidRequest], int] = {
    MalformedRequest: 400,
    InvalidBody: 422,
    TooLarge: 413,
}


def answering(handler: Callable[[], Answer]) -> Answer:
    """Run ``handler``; every error becomes an error document, never an empty answer."""
    try:
        return handler()
    except InvalidRequest as error:
        status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
        return error_answer(status, error.message, error.problems)
    except NotFound:
        return error_answer(404, "no such task, job or schedule")
    except Conflict as error:
        return error_answer(409, str(error))
    except ConfigurationError as error:
        logger.error("configuration error: %s", error)
        return error_answer(500, "the service is misconfigured; see its logs")
    except Exception as error:
        if unavailable(error):
            logger.warning("storage unavailable: %s: %s", type(error).__name__, error)
            answer = error_answer(503, "storage is unavailable; try again shortly")
            return replace(answer, headers={"Retry-After": RETRY_AFTER})
        logger.exception("request failed")
        return error_answer(500, "internal error")


def unavailable(error: Exception) -> bool:
    """Storage did not answer, or answered that it cannot now: the caller should come back."""
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return True
    return isinstance(error, HttpResponseError) and error.status_code in (500, 502, 503, 504)


def error_answer(status: int, message: str, problems: list[Problem] | None = None) -> Answer:
    return json_answer(documents.error(message, problems or []), status)
