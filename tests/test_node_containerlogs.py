"""CRI log files: writing lines (split when too long) and reading them as kubectl logs asks."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from agents.node import containerlogs
from agents.node.containerlogs import LogOptions, entry, parse, read
from agents.node.kubeletserver import log_options

LINES = b"".join(entry("stdout", f"line {i}".encode(), ts=f"2026-01-01T00:00:0{i}.123456789Z") for i in range(1, 6))


def test_entry_round_trip() -> None:
    e = parse(entry("stderr", b"boom", ts="2026-01-01T00:00:00.000000001Z"))
    assert e is not None and (e.stream, e.partial, e.text) == ("stderr", False, b"boom")
    assert e.time() == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(("opts", "expected"), [
    (LogOptions(), b"line 1\nline 2\nline 3\nline 4\nline 5\n"),
    (LogOptions(tail_lines=2), b"line 4\nline 5\n"),
    (LogOptions(tail_lines=0), b""),
    (LogOptions(tail_lines=10), b"line 1\nline 2\nline 3\nline 4\nline 5\n"),
    (LogOptions(since=dt.datetime(2026, 1, 1, 0, 0, 4, tzinfo=dt.UTC)), b"line 4\nline 5\n"),
    (LogOptions(tail_lines=1, timestamps=True), b"2026-01-01T00:00:05.123456789Z line 5\n"),
    (LogOptions(limit_bytes=9), b"line 1\nli"),
])
def test_read(opts: LogOptions, expected: bytes) -> None:
    assert read(LINES, opts) == expected


def test_partial_entries_join_and_count_as_one_line() -> None:
    data = entry("stdout", b"aaa", partial=True) + entry("stdout", b"bbb") + entry("stdout", b"c")
    assert read(data, LogOptions()) == b"aaabbb\nc\n"
    assert read(data, LogOptions(tail_lines=2)) == b"aaabbb\nc\n"
    assert read(data, LogOptions(tail_lines=1)) == b"c\n"


async def test_pump_splits_long_lines(tmp_path: Path) -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"short\n" + b"x" * (containerlogs.MAX_LINE + 10) + b"\nno newline")
    reader.feed_eof()
    f = containerlogs.LogFile(tmp_path / "c" / "0.log")
    await f.pump("stdout", reader)
    f.close()
    entries = [parse(line) for line in (tmp_path / "c" / "0.log").read_bytes().splitlines()]
    assert [(e.partial, len(e.text)) for e in entries if e] == [(False, 5), (True, containerlogs.MAX_LINE),
                                                               (False, 10), (False, 10)]


async def test_follow_streams_until_the_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(entry("stdout", b"one"))
    running = True

    async def writer() -> None:
        nonlocal running
        await asyncio.sleep(0.1)
        with path.open("ab") as f:
            f.write(entry("stdout", b"two"))
        await asyncio.sleep(0.1)
        running = False

    task = asyncio.create_task(writer())
    got = b"".join([c async for c in containerlogs.follow(path, LogOptions(follow=True), running=lambda: running)])
    await task
    assert got == b"one\ntwo\n"


def test_kubelet_query() -> None:
    now = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)
    previous, opts = log_options("follow=true&tailLines=3&sinceSeconds=60&timestamps=1&previous=false", now=now)
    assert not previous and opts.follow and opts.tail_lines == 3 and opts.timestamps
    assert opts.since == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    previous, opts = log_options("previous=true&sinceTime=2026-01-01T00:00:00Z&limitBytes=10")
    assert previous and opts.limit_bytes == 10 and opts.since == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
