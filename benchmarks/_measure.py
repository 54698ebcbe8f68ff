"""Shared measuring: items/s (and per CPU second) from a plain timed pass, peak memory
from a traced one."""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any


def measure(
    stage: str,
    fn: Callable[[Sequence[Any]], Any],
    items: Sequence[Any],
    *,
    memory_sample: int = 500,
) -> dict[str, Any]:
    """Run ``fn(items)`` once timed (no tracing), then on a sample under tracemalloc."""
    start, cpu_start = time.perf_counter(), time.process_time()
    fn(items)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    tracemalloc.start()
    fn(items[:memory_sample])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "stage": stage,
        "items": len(items),
        "seconds": round(seconds, 3),
        "items_per_s": round(len(items) / seconds, 1) if seconds else None,
        "peak_mb": round(peak / 2**20, 1),
        # The machine is shared: items per CPU second is the code's own speed at any load.
        "items_per_cpu_s": round(len(items) / cpu, 1) if cpu else None,
        "load_1min": round(os.getloadavg()[0], 2),
    }
