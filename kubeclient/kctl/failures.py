"""What kctl prints when something fails, in kubectl's words, and the exit code.

Why: scripts and people grep kubectl's error lines (``Error from server
(NotFound): services "x" not found``, ``The Service "x" is invalid: ...``,
``The connection to the server ... was refused``); kctl renders the same
lines from the same inputs, following k8s.io/kubectl/pkg/cmd/util/helpers.go
(StandardErrorMessage, checkErr, MultilineError, MultipleErrors).

Invariant: every failure a command reports is a ``KctlError`` (or a client
error turned into one by ``message_for``); ``main`` prints ``message`` to
stderr and exits with ``code`` (kubectl's DefaultErrorExitCode, 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apimachinery.errors import StatusError
from kubeclient import errors

DEFAULT_EXIT_CODE = 1


class KctlError(Exception):
    """A failure already worded for the user; ``message`` carries its own prefix, ``text`` does not."""

    def __init__(self, message: str, *, code: int = DEFAULT_EXIT_CODE, text: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.text = message if text is None else text


def fail(text: str) -> KctlError:
    """A client-side error: kubectl prefixes ``error: `` unless the text already has it."""
    return KctlError(text if text.startswith("error: ") else f"error: {text}", text=text.removeprefix("error: "))


def _causes_message(prefix: str, causes: list[dict[str, Any]]) -> str:
    """MultilineError over statusCausesToAggrError (duplicates dropped)."""
    msgs: list[str] = []
    for c in causes:
        m = f"{c.get('field') or ''}: {c.get('message') or ''}"
        if m not in msgs:
            msgs.append(m)
    if len(msgs) == 1:
        return prefix + msgs[0]
    return prefix + "\n" + "".join(f"* {m}\n" for m in msgs)


def status_message(err: StatusError, *, source_op: str | None = None, source: str | None = None,
                   standard: bool = False) -> str:
    """One server failure as kubectl words it; ``source_op``/``source`` add ``error when creating "f": ``.

    ``standard``: StandardErrorMessage only, as for each error of several (checkErr's special wording of a
    lone Invalid error is skipped then).
    """
    if err.reason == "Invalid" and not standard:
        details = err.details
        if not details:  # absent, or empty (a protobuf client, as kubectl is, cannot tell the two apart)
            return "The request is invalid" + (f": {err.message}" if err.message else "")
        kind = str(details.get("kind") or "")
        name = str(details.get("name") or "")
        causes = list(details.get("causes") or [])
        s = f'The {kind} "{name}" is invalid' if kind or name else "The request is invalid"
        if causes:
            return _causes_message(s + ": ", causes)
        return s
    message = err.message
    if source_op and source:
        message = f'error when {source_op} "{source}": {message}'
    if err.reason == "Unauthorized":
        return f"error: You must be logged in to the server ({err.message})"
    if err.reason:
        return f"Error from server ({err.reason}): {message}"
    return f"Error from server: {message}"


def message_for(exc: BaseException, *, source_op: str | None = None, source: str | None = None) -> str:
    """StandardErrorMessage for any exception a command lets escape."""
    if isinstance(exc, KctlError):
        return exc.message
    if isinstance(exc, StatusError):
        return status_message(exc, source_op=source_op, source=source)
    if isinstance(exc, errors.ConnectionFailed):
        return str(exc)
    text = str(exc) or type(exc).__name__
    return text if text.startswith("error: ") else f"error: {text}"


def combined(messages: Iterable[str]) -> str:
    """MultipleErrors: one message per line, in order."""
    return "".join(m if m.endswith("\n") else m + "\n" for m in messages)


@dataclass(frozen=True)
class Problem:
    exc: BaseException
    source_op: str | None = None
    source: str | None = None


@dataclass
class Problems:
    """Errors a command collects while it goes on with the other objects, reported together at the end.

    One error is worded by checkErr (``error: `` prefix, Invalid spelled out from its causes); several by
    MultipleErrors (each on its own line, server errors in StandardErrorMessage form, others bare).
    """

    items: list[Problem] = field(default_factory=list)

    def add(self, exc: BaseException, *, source_op: str | None = None, source: str | None = None) -> None:
        self.items.append(Problem(exc, source_op, source))

    def __bool__(self) -> bool:
        return bool(self.items)

    def render(self) -> str:
        if len(self.items) == 1:
            p = self.items[0]
            return message_for(p.exc, source_op=p.source_op, source=p.source)
        lines = []
        for p in self.items:
            if isinstance(p.exc, StatusError):
                lines.append(status_message(p.exc, source_op=p.source_op, source=p.source, standard=True))
            elif isinstance(p.exc, KctlError):
                lines.append(p.exc.text)
            else:
                lines.append(str(p.exc))
        return combined(lines).rstrip("\n")

    def raise_if_any(self) -> None:
        if self.items:
            raise KctlError(self.render())


def aggregate_text(errs: list[KctlError]) -> KctlError:
    """utilerrors.NewAggregate(...).Error(): one message, or ``[a, b]``."""
    if len(errs) == 1:
        return errs[0]
    text = "[" + ", ".join(e.text for e in errs) + "]"
    return KctlError(f"error: {text}", text=text)
