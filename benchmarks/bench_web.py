"""Review queue speed on a 100,000-post SQLite store (``N=...`` to change the size).

Builds a store through ``Store.save_posts`` (a fifth of the posts re-scored by a second
model version through ``Store.save_scores``, some decided), then times queue pages the
way the review app asks for them: the first page, a deep page reached by keyset
cursor, with and without filters, the text search, ``counts()``, ``get()`` and the
campaign page's ``overview()``.
``items`` is the number of pages (or calls) timed; ``items_per_s`` is pages per second.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signalering.campaign import overview
from signalering.post import Post
from signalering.store import Store
from signalering.web.review import QueueFilter, facets, queue

N = int(os.environ.get("N", "100000"))
REPEAT = 20
DEEP = 40  # pages followed by cursor to reach the deep page
WORDS = (  # noqa: SIM905
    "boat trip zuwara lampedusa safe captain price euro children half call whatsapp "
    "telegram lorry dunkirk england trailer driver papers passport visa guaranteed "
    "departure tonight places limited family discount payment office guarantee route "
    "greece turkey border walk guide car taxi italy germany hotel pickup"
).split()
ARABIC = ["قارب", "رحلة", "ليبيا", "إيطاليا", "واتساب", "سعر", "مضمون"]
LANGS = ("en", "ar", "fa", "fr", "nl")
SOURCES = tuple(f"forum-{i}" for i in range(8))
LABELS = ("offer", "offer", "request", "warning", "unrelated")


def _posts(n: int, seed: int = 0) -> list[Post]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lang = rng.choice(LANGS)
        vocab = ARABIC if lang in ("ar", "fa") else WORDS
        text = " ".join(rng.choice(vocab) for _ in range(rng.randint(12, 40)))
        label = rng.choice(LABELS)
        p = rng.random()
        platform = rng.choice(("whatsapp", "telegram", None))
        out.append(
            Post(
                text=f"{text} {i}",
                source=rng.choice(SOURCES),
                post_id=str(i),
                posted_at=f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00+00:00",
                lang=lang,
                label=label,
                scores={label: p, "unrelated": 1 - p},
                flagged=label in ("offer", "request") and p > 0.3,
                model_version="v1",
                entities={"phones": [{"value": f"+2189{i:08d}", "platform": platform}]}
                if platform
                else {},
            )
        )
    return out


def build(path: Path, n: int = N) -> tuple[Store, float]:
    """A store of ``n`` synthetic posts at ``path``; returns it and the seconds saving took."""
    store = Store.open(f"sqlite:///{path}", pseudonym_key=b"bench")
    posts = _posts(n)
    start = time.perf_counter()
    for i in range(0, n, 1000):
        store.save_posts(posts[i : i + 1000])
    stored = [p for p in store.iter_posts() if int(p.id or 0) % 5 == 0]  # type: ignore[arg-type]
    for i in range(0, len(stored), 1000):
        store.save_scores(p.with_(model_version="v2") for p in stored[i : i + 1000])
    seconds = time.perf_counter() - start
    for p in stored[:2000:2]:
        store.add_decision(int(p.id or 0), "bench", "confirm")
    return store, seconds


def _timed(stage: str, call: Callable[[], Any], repeat: int = REPEAT) -> dict[str, Any]:
    call()  # warm caches, as a page a person reloads would be
    start = time.perf_counter()
    for _ in range(repeat):
        call()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "stage": stage,
        "items": repeat,
        "seconds": round(seconds, 3),
        "items_per_s": round(repeat / seconds, 1) if seconds else None,
        "peak_mb": round(peak / 2**20, 1),
    }


def _deep_cursor(store: Store, f: QueueFilter) -> str | None:
    cursor = None
    for _ in range(DEEP):
        page = queue(store, QueueFilter(**{**vars(f), "after": cursor}))
        cursor = page.next_cursor
        if cursor is None:
            break
    return cursor


def run() -> list[dict]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        store, seconds = build(Path(folder) / "bench.db")
        total = N + N // 5
        rows.append(
            {
                "stage": f"web store build: save_posts + save_scores ({N // 1000}k posts)",
                "items": total,
                "seconds": round(seconds, 3),
                "items_per_s": round(total / seconds, 1),
                "peak_mb": None,
            }
        )
        try:
            cases = {
                "no filter": QueueFilter(),
                "label+lang": QueueFilter(label="offer", lang="ar"),
                "source+platform+dates": QueueFilter(
                    source="forum-3",
                    platform="whatsapp",
                    date_from="2024-03-01",
                    date_to="2024-09-30",
                ),
                "status=all": QueueFilter(status="all"),
                "status=confirm": QueueFilter(status="confirm"),
                "text 'lampedusa whatsapp'": QueueFilter(q="lampedusa whatsapp"),
            }
            for name, f in cases.items():
                rows.append(_timed(f"web queue first page, {name}", lambda f=f: queue(store, f)))
                cursor = _deep_cursor(store, f)
                if cursor is not None:
                    deep = QueueFilter(**{**vars(f), "after": cursor})
                    rows.append(
                        _timed(
                            f"web queue page {DEEP + 1}, {name}",
                            lambda deep=deep: queue(store, deep),
                        )
                    )
            rows.append(
                _timed(
                    "web queue filter menus, facets() uncached", lambda: facets(store, max_age=0)
                )
            )
            rows.append(_timed("web store counts()", store.counts, repeat=5))
            # The campaign page: the aggregates' counts grouped in SQL (not every post read).
            rows.append(_timed("web campaign overview()", lambda: overview(store), repeat=5))
            rows.append(_timed("web store get(post)", lambda: store.get(N // 2), repeat=200))
            rows.append(_timed("web store search('lampedusa')", lambda: store.search("lampedusa")))
        finally:
            store.close()
    for row in rows:
        row["posts"] = N
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
