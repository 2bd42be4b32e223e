"""Run a process's main task until it ends or SIGTERM/SIGINT asks it to stop.

Why one home: the node agent, the proxy and every controller process stop the same way (the supervisor
sends SIGTERM, a user presses ^C): the signal sets an event, the main task is cancelled and awaited, and
the handlers are removed again, so a second run in one interpreter (tests) starts clean.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event SIGTERM and SIGINT set while the block runs (handlers removed on leaving it)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def run_until_stopped(
    main: Coroutine[Any, Any, Any], stop: asyncio.Event, *, name: str, label: str, log: logging.Logger,
    before_cancel: Callable[[], Awaitable[None]] | None = None,
) -> BaseException | None:
    """Run ``main`` as task ``name`` until it ends or ``stop`` is set; then cancel and await it.

    ``label`` names the process in the log line a signal writes.
    Returns the exception ``main`` ended with (None when it returned or the stop came first).
    ``before_cancel`` runs first on the way out (the node agent stops its containers before its
    Lease and watches go).
    """
    task = asyncio.create_task(main, name=name)
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.exception()
        log.info("%s: signal received, stopping", label)
        return None
    finally:
        if before_cancel is not None:
            await before_cancel()
        for t in (task, stopper):
            t.cancel()
        for t in (task, stopper):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
