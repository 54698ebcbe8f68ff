"""Shared measuring: items/s from a plain timed pass, peak memory from a traced one."""

from __future__ import annotations

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
    start = time.perf_counter()
    fn(items)
    seconds = time.perf_counter() - start
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
    }
