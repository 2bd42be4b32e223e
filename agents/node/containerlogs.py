"""Container log files in the CRI format, and reading them back as ``kubectl logs`` asks.

Why the CRI format (``<RFC3339Nano> <stdout|stderr> <F|P> <text>``, one
entry a line): it is what the kubelet reads under /var/log/pods, it keeps
each line's time (``--timestamps``, ``--since``) and stream, and a line
longer than ``MAX_LINE`` is split into partial (``P``) entries so a writer
never buffers unbounded input. Files live at
``<root>/logs/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`` as
under /var/log/pods.

Reading (pkg/kubelet/kuberuntime/logs): ``tailLines`` counts complete
lines from the end, ``sinceSeconds``/``sinceTime`` drop older entries,
``timestamps`` prefixes each line with its time, ``limitBytes`` stops the
stream after that many bytes, ``follow`` keeps reading the file as it grows
until the container's run ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from apimachinery.timestamps import format_nano_time, parse_time

MAX_LINE = 16 * 1024
FOLLOW_POLL = 0.05


def entry(stream: str, text: bytes, *, partial: bool = False, ts: str | None = None) -> bytes:
    """One CRI log line for ``text`` (which carries no newline)."""
    return (ts or format_nano_time()).encode() + b" " + stream.encode() + (b" P " if partial else b" F ") + text + b"\n"


@dataclass(frozen=True)
class Entry:
    ts: str
    stream: str
    partial: bool
    text: bytes

    def time(self) -> dt.datetime | None:
        return parse_time(self.ts)


def parse(line: bytes) -> Entry | None:
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    return Entry(parts[0].decode(), parts[1].decode(), parts[2] == b"P", parts[3] if len(parts) == 4 else b"")


class LogFile:
    """Appends a container run's stdout and stderr, line by line, to its log file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._f = path.open("ab", buffering=0)

    def write(self, stream: str, text: bytes, *, partial: bool = False) -> None:
        if not self._f.closed:
            self._f.write(entry(stream, text, partial=partial))

    async def pump(self, stream: str, reader: asyncio.StreamReader) -> None:
        """Copy ``reader`` into the file until EOF, splitting lines longer than MAX_LINE."""
        pending = b""
        while True:
            chunk = await reader.read(65536)
            pending += chunk
            while True:
                nl = pending.find(b"\n", 0, MAX_LINE + 1)
                if nl != -1:
                    self.write(stream, pending[:nl])
                    pending = pending[nl + 1:]
                elif len(pending) > MAX_LINE:
                    self.write(stream, pending[:MAX_LINE], partial=True)
                    pending = pending[MAX_LINE:]
                else:
                    break
            if not chunk:
                break
        if pending:
            self.write(stream, pending)

    def close(self) -> None:
        self._f.close()


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail_lines: int | None = None
    since: dt.datetime | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def _render(e: Entry, timestamps: bool) -> bytes:
    text = e.text if e.partial else e.text + b"\n"
    return (e.ts.encode() + b" " + text) if timestamps else text


def _keep(e: Entry, since: dt.datetime | None) -> bool:
    if since is None:
        return True
    t = e.time()
    return t is None or t >= since


def tail_offset(data: bytes, lines: int) -> int:
    """Offset where the last ``lines`` complete log lines (F entries, with their P parts) start."""
    if lines <= 0:
        return len(data)
    count = 0
    pos = len(data)
    while pos > 0:
        start = data.rfind(b"\n", 0, pos - 1) + 1
        e = parse(data[start:pos])
        if e is not None and not e.partial:
            count += 1
            if count > lines:
                return pos
        pos = start
    return 0


def read(data: bytes, opts: LogOptions) -> bytes:
    """The whole answer for a non-following request, from the file's bytes."""
    start = tail_offset(data, opts.tail_lines) if opts.tail_lines is not None else 0
    out = bytearray()
    for raw in data[start:].splitlines():
        e = parse(raw)
        if e is None or not _keep(e, opts.since):
            continue
        out += _render(e, opts.timestamps)
        if opts.limit_bytes is not None and len(out) >= opts.limit_bytes:
            return bytes(out[: opts.limit_bytes])
    return bytes(out)


async def follow(path: Path, opts: LogOptions, *, running: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Stream the file as it grows, until ``running()`` is false and everything written was sent."""
    data = path.read_bytes() if path.exists() else b""
    offset = tail_offset(data, opts.tail_lines) if opts.tail_lines is not None else 0
    sent = 0
    buf = b""
    while True:
        alive = running()
        try:
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        buf += chunk
        lines = buf.split(b"\n")
        buf = lines.pop()
        out = bytearray()
        for raw in lines:
            e = parse(raw)
            if e is not None and _keep(e, opts.since):
                out += _render(e, opts.timestamps)
        if out:
            if opts.limit_bytes is not None and sent + len(out) >= opts.limit_bytes:
                yield bytes(out[: opts.limit_bytes - sent])
                return
            sent += len(out)
            yield bytes(out)
        if not alive and not chunk:
            return
        if not chunk:
            await asyncio.sleep(FOLLOW_POLL)
