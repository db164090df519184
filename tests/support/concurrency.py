"""Running the same work from many threads at once, for tests that commit for real."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def concurrently(count: int, work: Callable[[int], Any]) -> list:
    """Start `count` threads together on `work(i)`; their results, or the exception each raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # returned with the others, for the test to assert on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
