"""The client's typed error tree.

Why: callers branch on what went wrong (retry a Conflict, relist on Gone,
create on NotFound), never on HTTP codes or message text. A server reply is
translated into exactly one class here, in ``from_status``; nothing else in
the client inspects codes or reasons.

Invariant: every error that carries a server reply is an ``ApiError``, which
is an ``apimachinery.errors.StatusError``, so ``err.status`` is the Status
body as the server sent it (kctl prints ``Error from server (R): M`` from it).
An unreachable server is ``ConnectionFailed``, which has no Status.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import StatusError


class ClientError(Exception):
    """Root of everything this library raises about a request."""


class ApiError(StatusError, ClientError):
    """The server answered with a failure Status."""


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create found the name taken."""


class Conflict(ApiError):
    """409 Conflict: the resourceVersion precondition failed; re-read and retry."""


class Invalid(ApiError):
    """422: validation failed; ``causes`` lists the field errors."""

    @property
    def causes(self) -> list[dict[str, Any]]:
        return list((self.details or {}).get("causes") or [])


class Gone(ApiError):
    """410: the resourceVersion (or continue token) is compacted; relist."""


class Forbidden(ApiError):
    """403."""


class Unauthorized(ApiError):
    """401."""


class BadRequest(ApiError):
    """400."""


class MethodNotAllowed(ApiError):
    """405: the resource does not support this verb."""


class TooManyRequests(ApiError):
    """429: the server asks us to slow down; retryable."""


class ServerError(ApiError):
    """5xx (InternalError, Timeout, ServiceUnavailable ...): retryable."""


class ConnectionFailed(ClientError):
    """The server could not be reached, or the connection broke mid-reply."""


_BY_REASON: dict[str, type[ApiError]] = {
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Invalid": Invalid,
    "Expired": Gone,
    "Gone": Gone,
    "Forbidden": Forbidden,
    "Unauthorized": Unauthorized,
    "BadRequest": BadRequest,
    "MethodNotAllowed": MethodNotAllowed,
    "TooManyRequests": TooManyRequests,
}

_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}

# k8s.io/apimachinery/pkg/api/errors NewGenericServerResponse: reason and
# message for a reply that carried no Status body.
_GENERIC: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Expired", "the server has expired the requested resource"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted"),
}


def error_class(code: int, reason: str) -> type[ApiError]:
    """The class for a (code, reason) pair: reason first, as apierrors.ReasonForError does."""
    if reason in _BY_REASON:
        return _BY_REASON[reason]
    if code >= 500:
        return ServerError
    return _BY_CODE.get(code, ApiError)


def from_status(status: dict[str, Any], *, code: int | None = None) -> ApiError:
    """Translate a Status body (and the HTTP code when the body lacks one) into its typed error."""
    c = int(status.get("code") or code or 500)
    reason = str(status.get("reason") or "")
    message = str(status.get("message") or "")
    if not reason and not message and c in _GENERIC:
        reason, message = _GENERIC[c]
    cls = error_class(c, reason)
    return cls(c, reason, message, details=status.get("details"))


def from_response(code: int, body: Any, *, text: str = "") -> ApiError:
    """An error for a non-2xx reply whose body may or may not be a Status."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        return from_status(body, code=code)
    reason, message = _GENERIC.get(code, ("", f"an error on the server ({text.strip()[:200]}) has prevented the request from succeeding"))
    if code >= 500 and code not in _GENERIC:
        reason = "InternalError"
    if text.strip() and code in _GENERIC:
        message = f"{message} ({text.strip()[:200]})"
    return from_status({"code": code, "reason": reason, "message": message}, code=code)


def is_retryable(err: BaseException) -> bool:
    """Errors a controller should requeue with backoff: Conflict, 429, 5xx, connection failures."""
    return isinstance(err, Conflict | TooManyRequests | ServerError | ConnectionFailed)
