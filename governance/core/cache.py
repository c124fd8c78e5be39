"""A small bounded cache of values that are costly to build (fitted models, profiles)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """Values built on first use and kept, the least recently used evicted beyond ``size``.

    Thread-safe. The build runs outside the lock (it may take seconds and must not stall the
    other keys), so two threads missing one key together both build it; the later is kept.
    ``builds`` counts the builds, for tests and benchmarks that check reuse.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.builds = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, build: Callable[[], V]) -> V:
        """The value under ``key``, built now when it is not held."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = build()
        with self._lock:
            self.builds += 1
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()
