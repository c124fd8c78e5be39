"""Reading every record of a listing that is paged by its last item (reports need them all)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

PAGE = 500  # the services' largest page
T = TypeVar("T")


def pages(fetch: Callable[[T | None], Sequence[T]], size: int = PAGE) -> Iterator[T]:
    """Every item of a newest-first listing: ``fetch(last)`` gives the ``size`` items after
    ``last`` (None: the first page)."""
    last: T | None = None
    while True:
        page = fetch(last)
        yield from page
        if len(page) < size:
            return
        last = page[-1]
