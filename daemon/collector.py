"""The garbage collector tuned for batches, in the processor and in its parse workers.

A batch makes hundreds of thousands of short-lived objects (rows, ORM state, parsed mail) that
reference counting frees before the collector's pass over the youngest objects could. With
Python's default of a pass every 700 allocations those passes took a tenth of the processing
time (bench/README.md); every 10,000 they cost a third of that. Cycles are still collected, a
little later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLD = 10_000


def collect_less() -> tuple[int, int, int]:
    """Raise the youngest generation's threshold; answers the thresholds before."""
    previous = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *previous[1:])
    return previous


@contextmanager
def collecting_less() -> Iterator[None]:
    previous = collect_less()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
