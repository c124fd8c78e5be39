"""Where the leader's due windows run: a bounded set of slots, fed in turn, never the scheduler.

The scheduler's jobs only *offer* a monitor (a dictionary write and a queue put), so a run that
reads slowly can never hold up another monitor's fire time. ``Slots`` work on at most ``size``
monitors at once, one window per turn, and put a monitor with more due windows at the back of
the queue: a monitor catching up a long backlog shares the slots with the others instead of
holding one. A monitor is never worked on by two slots at once, so its windows run in order;
across daemons the run store's unique (monitor, window end) key keeps every window once.

What a slot does with a window is the ``WindowDispatch``: compute it in the slot's own thread
(``LocalPool``), or send it to an executor's workers (``ExecutorDispatch``: the application
hands in the Dask cluster's executor when one is configured).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from uuid import UUID

import pyarrow as pa

from monitors.runs.compute import LoadedWindow, compute_loaded, load_window
from monitors.runs.sources import PROFILES, Computed, RunEnvironment
from monitors.specs.schemas import Monitor, SignalKind, TargetKind
from monitors.specs.windows import WindowPlan

log = logging.getLogger(__name__)
DEFAULT_CONCURRENCY = 4
_EMPTY = pa.table({})


class WindowDispatch(Protocol):
    """How the leader's slots compute a due window, and how many run at once.

    ``concurrency`` is the number of slots: windows computed (or waited for) at the same time.
    ``compute`` returns the window's run computed away from the caller, or None when the caller
    computes it itself, in its own thread, as part of storing it (the run's ``started_at`` is
    then the true start). It may block for as long as the window takes: only the slot waits.
    ``close`` releases what the dispatch holds (a cluster client) once the daemon stopped.
    """

    @property
    def name(self) -> str:
        """What the logs call it ("local", "dask")."""
        ...

    @property
    def concurrency(self) -> int:
        """How many windows run at once."""
        ...

    def compute(
        self, monitor: Monitor, plan: WindowPlan, env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> Computed | None:  # fmt: skip
        """The window's run, or None: compute it in the calling thread."""
        ...

    def close(self) -> None:
        """Release what the dispatch holds."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalPool:
    """Windows computed in the daemon's own slot threads, ``concurrency`` at a time."""

    concurrency: int = DEFAULT_CONCURRENCY
    name: str = "local"

    def compute(
        self, monitor: Monitor, plan: WindowPlan, env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> Computed | None:  # fmt: skip
        """None: the slot computes the window itself."""
        return None

    def close(self) -> None:
        """Nothing to release."""


class Executor(Protocol):
    """``concurrent.futures.Executor``'s ``submit``: a process pool, or a Dask client's executor
    (``distributed.Client.get_executor()``), whose workers import Steward's packages."""

    def submit(self, fn: Callable[..., Computed], /, *args: Any) -> Future[Computed]:
        """Schedule ``fn(*args)``; its future."""
        ...


@dataclass(kw_only=True)
class ExecutorDispatch:
    """Windows read here and computed by an executor's warm worker processes.

    The leader reads each window (it owns the database and the capture store) and sends the
    rows and the reference; the worker computes every signal as ``compute_window`` does, with
    its own reference-profile cache. A run that explains a stored model stays in the slot:
    the model is loaded from Steward's artifact store, which workers need not reach.
    ``timeout`` bounds the wait for one window (the slot gives up; the next fire retries it).
    """

    executor: Executor
    concurrency: int = DEFAULT_CONCURRENCY
    name: str = "executor"
    timeout: float | None = None
    on_close: Callable[[], object] = field(default=lambda: None)

    def compute(
        self, monitor: Monitor, plan: WindowPlan, env: RunEnvironment,
        *, cancelled: Callable[[], bool],
    ) -> Computed | None:  # fmt: skip
        """The window computed by a worker; None when it explains a stored model."""
        if _explains_stored_model(monitor, env):
            return None
        loaded = load_window(monitor, plan, env)
        if isinstance(loaded, Computed):
            return loaded
        future = self.executor.submit(compute_on_worker, monitor, loaded)
        try:
            computed = future.result(timeout=self.timeout)
        except FutureTimeout:
            future.cancel()
            raise
        return replace(computed, reference=loaded.reference)

    def close(self) -> None:
        """Run ``on_close`` (the application closes its cluster client there)."""
        self.on_close()


def compute_on_worker(monitor: Monitor, window: LoadedWindow) -> Computed:
    """What a worker runs: every signal of the window (the reference goes back stripped)."""
    computed = compute_loaded(monitor, window, profiles=PROFILES, model=None)
    return replace(computed, reference=replace(window.reference, table=_EMPTY))


def _explains_stored_model(monitor: Monitor, env: RunEnvironment) -> bool:
    # an LLM quality signal calls the project's judge, which only the leader's process reaches
    if any(s.kind is SignalKind.llm_quality for s in monitor.spec.signals):
        return True
    explains = any(s.kind is SignalKind.attribution_drift for s in monitor.spec.signals)
    return (
        explains and env.explainers is not None and monitor.spec.target.kind is TargetKind.endpoint
    )


class Slots:
    """At most ``size`` monitors worked on at once, each by one slot, taken in turn.

    ``work(monitor)`` runs one step (one window) and says whether the monitor has more to do:
    then it goes to the back of the queue. ``offer`` queues a monitor unless it is queued or
    being worked on already; then the newest ``Monitor`` (revision) is kept and the monitor
    gets one more turn, so no offer made while it was being worked on is lost.
    """

    def __init__(self, size: int, work: Callable[[Monitor], bool], *, name: str = "slot") -> None:
        if size < 1:
            raise ValueError("at least one slot")
        self.size, self.name = size, name
        self._work = work
        self._ready: queue.SimpleQueue[UUID | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._active: dict[UUID, Monitor] = {}  # queued or being worked on
        self._again: set[UUID] = set()  # offered again meanwhile
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the slot threads (daemon threads: a hung run never keeps the process alive)."""
        for index in range(self.size):
            thread = threading.Thread(target=self._loop, name=f"{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def offer(self, monitor: Monitor) -> None:
        """Queue ``monitor`` for a turn (at once; never waits for a slot)."""
        with self._lock:
            queued = monitor.id in self._active
            self._active[monitor.id] = monitor
            if queued:
                self._again.add(monitor.id)
                return
        self._ready.put(monitor.id)

    def busy(self) -> int:
        """How many monitors are queued or being worked on."""
        with self._lock:
            return len(self._active)

    def _loop(self) -> None:
        while (monitor_id := self._ready.get()) is not None:
            with self._lock:
                monitor = self._active[monitor_id]
                self._again.discard(monitor_id)
            try:
                more = self._work(monitor)
            except Exception:  # the next offer retries it; one failure stops no other monitor
                log.exception("monitor %s/%s failed in its slot", monitor.project, monitor.name)
                more = False
            with self._lock:
                more = more or monitor_id in self._again
                if not more:
                    del self._active[monitor_id]
            if more:
                self._ready.put(monitor_id)

    def stop(self, grace: float) -> bool:
        """Let the slots finish their current window within ``grace`` s; False if one did not."""
        for _ in self._threads:
            self._ready.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        alive = any(t.is_alive() for t in self._threads)
        self._threads = []
        return not alive
