"""Storage failures as Status: a locked or unreachable database is a 503/504, never a hang or a bare 500.

Why one place: the store raises ``Unavailable`` (its transaction failed)
and SQLAlchemy raises its own errors from reads (PostgreSQL revision
checks, pool checkout); clients retry on 503/504 but treat 500 as a bug.
The database's own error text stays in the server log: it can name files,
hosts and users.
"""

from __future__ import annotations

import logging

from sqlalchemy import exc as sa_exc

from apimachinery.errors import StatusError
from apiserver.storage.errors import Unavailable

log = logging.getLogger("kubelite.faults")

# Failures that mean "the database did not answer (in time)", not "the request is wrong".
STORAGE_FAILURES: tuple[type[BaseException], ...] = (
    Unavailable,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)


def storage_status(e: BaseException, *, verb: str = "", resource: str = "") -> StatusError:
    """The Status a client gets for a storage failure during ``verb`` on ``resource``.

    A pool checkout that timed out is a 504 Timeout; everything else (locked,
    disconnected, refused) is a 503 ServiceUnavailable. Neither carries
    Retry-After: the write may or may not have been committed.
    """
    log.error("storage failure during %s %s: %s", verb or "request", resource or "-", e)
    what = f"The {verb or 'request'} operation against {resource or 'the API'} could not be completed at this time"
    if isinstance(e, sa_exc.TimeoutError):
        return StatusError(504, "Timeout", f"Timeout: {what}: the database did not answer in time, please try again.",
                           details={"kind": resource} if resource else {})
    return StatusError(503, "ServiceUnavailable", f"{what}: the database is unavailable, please try again.",
                       details={"kind": resource} if resource else {})


def is_storage_failure(e: BaseException) -> bool:
    if isinstance(e, STORAGE_FAILURES):
        return True
    return isinstance(e, sa_exc.DBAPIError) and bool(e.connection_invalidated)


__all__ = ["STORAGE_FAILURES", "is_storage_failure", "storage_status"]
