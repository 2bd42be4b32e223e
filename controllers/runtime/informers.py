"""InformerFactory: one informer per (resource, namespace, selectors) per process (client-go's SharedInformerFactory).

Why: controllers that run in one process and watch the same resource would
otherwise each LIST it, hold a WATCH open and keep a private copy of every
object. With a factory they share one informer: one LIST, one WATCH, one
cache; each controller adds its own handlers to it (``Informer.add_handler``
replays the cache to a late one, so it does not matter who came first).

Invariant: an informer is run at most once, by the factory that created it,
from ``start()`` until ``shutdown()``; controllers never run a shared
informer themselves. The cache is shared too: controllers read it, never
mutate the objects in it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from apimachinery.resources import ResourceType
from controllers.runtime.informer import Informer
from kubeclient.client import Client

InformerKey = tuple[str, str | None, str | None, str | None]


class InformerFactory:
    """Hands out shared informers and runs each of them once."""

    def __init__(self, client: Client, **options: Any) -> None:
        """``options`` (``page_size``, ``backoff_initial``, ``backoff_max``) go to every informer made."""
        self.client = client
        self.options = options
        self._informers: dict[InformerKey, Informer] = {}
        self._tasks: dict[InformerKey, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._informers)

    def get(
        self,
        rt: ResourceType,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Informer:
        """The process's informer for exactly this resource, namespace and selectors (made on first use).

        Selectors are compared as written: ``a=1,b=2`` and ``b=2,a=1`` get two
        informers, which costs a second watch but is never wrong.
        """
        key: InformerKey = (rt.key, namespace or None, label_selector or None, field_selector or None)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(self.client, rt, namespace=namespace or None, label_selector=label_selector or None,
                           field_selector=field_selector or None, **self.options)
            self._informers[key] = inf
        return inf

    def informers(self) -> list[Informer]:
        return list(self._informers.values())

    def start(self) -> None:
        """Run every informer not yet running (idempotent: call it again after ``get`` made new ones)."""
        for key, inf in self._informers.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(inf.run(), name=f"informers:{inf!r}")

    async def wait_synced(self) -> None:
        """Until every informer made so far has listed once; a task that died re-raises its error here."""
        pending = [inf for inf in self._informers.values() if not inf.has_synced()]
        if not pending:
            return
        waits = [asyncio.ensure_future(inf.wait_synced()) for inf in pending]
        running = [t for k, t in self._tasks.items() if self._informers[k] in pending]
        try:
            while not all(w.done() for w in waits):
                done, _ = await asyncio.wait([*(w for w in waits if not w.done()), *running],
                                             return_when=asyncio.FIRST_COMPLETED)
                for t in done:
                    if t in running:
                        t.result()  # an informer's run() only ends by raising (or being cancelled)
                        raise RuntimeError(f"informer task {t.get_name()} ended before its cache synced")
        finally:
            for w in waits:
                w.cancel()

    async def shutdown(self) -> None:
        """Stop every informer this factory runs and wait for them (the caches stay readable)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
