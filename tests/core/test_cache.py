"""The bounded cache every costly build goes through (profiles, fits, thresholds, models)."""

from __future__ import annotations

import threading

from governance.core.cache import BoundedCache


def test_it_builds_once_per_key_and_forgets_the_least_recently_used() -> None:
    cache: BoundedCache[str, str] = BoundedCache(size=2)
    built: list[str] = []

    def build(key: str) -> str:
        built.append(key)
        return key.upper()

    for key in ("a", "a", "b", "a", "c", "b", "a"):
        assert cache.get(key, lambda k=key: build(k)) == key.upper()
    # "a" was used after "b", so "c" evicted "b"; "b" evicted "a" again
    assert built == ["a", "b", "c", "b", "a"] and cache.builds == 5 and len(cache) == 2
    cache.clear()
    assert len(cache) == 0


def test_a_slow_build_does_not_hold_other_keys() -> None:
    cache: BoundedCache[str, str] = BoundedCache(size=4)
    started, release = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(10)
        return "slow"

    worker = threading.Thread(target=lambda: cache.get("slow", slow))
    worker.start()
    assert started.wait(10)
    assert cache.get("fast", lambda: "fast") == "fast"  # not blocked by the slow build
    release.set()
    worker.join(10)
    assert cache.get("slow", lambda: "again") == "slow"
