"""A rate-limited, de-duplicating work queue of object keys (client-go's workqueue).

Why: event handlers fire far more often than a controller needs to act, and
two workers reconciling one object at once would race each other's writes.

Invariants (as client-go's ``Type``):
- a key is in ``_queue`` at most once (``_dirty`` marks "needs processing");
- a key handed out by ``get`` is in ``_processing`` until ``done``; adding it
  meanwhile only marks it dirty, and ``done`` puts it back in the queue, so
  no two workers ever hold the same key;
- after ``shutdown`` nothing new is accepted, and ``get`` returns ``None``
  once the queue is drained.

Single event loop only: call every method from the loop that runs the workers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol


class RateLimiter(Protocol):
    """How long an item waits before its next retry."""

    def when(self, key: str) -> float: ...

    def forget(self, key: str) -> None: ...

    def num_requeues(self, key: str) -> int: ...


class ItemExponentialRateLimiter:
    """base * 2**failures per key, capped (client-go: 5 ms .. 1000 s)."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[str, int] = {}

    def when(self, key: str) -> float:
        exp = self._failures.get(key, 0)
        self._failures[key] = exp + 1
        if exp > 64:  # 2**exp would overflow any sane cap
            return self.cap
        return min(self.base * float(2**exp), self.cap)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)


class WorkQueue:
    """FIFO of keys with dirty/processing sets, delayed adds and per-key backoff."""

    def __init__(self, name: str = "", *, rate_limiter: RateLimiter | None = None) -> None:
        self.name = name
        self.rate_limiter: RateLimiter = rate_limiter or ItemExponentialRateLimiter()
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._waiting: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._shutting_down = False
        self._wakeup = asyncio.Event()
        self.adds = 0
        self.retries = 0

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, key: str) -> None:
        """Mark ``key`` as needing work; a no-op if it already waits or shutdown began."""
        if self._shutting_down or key in self._dirty:
            return
        self.adds += 1
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._wakeup.set()

    def add_after(self, key: str, delay: float) -> None:
        """Add ``key`` once ``delay`` seconds have passed; the earliest pending deadline wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        ready = loop.time() + delay
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= ready:
                return
            pending[1].cancel()
        self._waiting[key] = (ready, loop.call_at(ready, self._fire, key))

    def _fire(self, key: str) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def add_rate_limited(self, key: str) -> None:
        """Requeue after the key's next backoff step."""
        self.retries += 1
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: str) -> None:
        """The key succeeded: reset its backoff."""
        self.rate_limiter.forget(key)

    def num_requeues(self, key: str) -> int:
        return self.rate_limiter.num_requeues(key)

    async def get(self) -> str | None:
        """The next key to process, or ``None`` once shut down and drained."""
        while not self._queue:
            if self._shutting_down:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        if self._queue:
            self._wakeup.set()  # let another waiting worker proceed
        return key

    def done(self, key: str) -> None:
        """Processing of ``key`` finished; requeue it if it was added meanwhile."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wakeup.set()

    def shutdown(self) -> None:
        """Refuse new keys, drop delayed ones, and wake every waiting worker."""
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._wakeup.set()

    def pending_delayed(self) -> int:
        return len(self._waiting)
