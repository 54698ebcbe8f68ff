"""Source discovery: ``suggest_sources`` over a store of flagged posts (SQLite), and the
candidate collection alone (in memory).

20,000 flagged posts by default (SIGNALERING_BENCH_DISCOVER_SIZES=20000,100000 for more);
a third forwarded from one of 2,000 channels, a third linking to a channel or an invite in
their text, a third to one of 300 forum, feed or classifieds hosts.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_store import peak_mb, row
from signalering.discover import collect, suggest_sources
from signalering.post import Post
from signalering.store import Store

OFFER = "Boat Libya to Italy leaving Friday, 3000 euro, guaranteed, whatsapp +218 92 000 7777"


def sizes() -> list[int]:
    raw = os.environ.get("SIGNALERING_BENCH_DISCOVER_SIZES", "20000")
    return [int(x) for x in raw.split(",") if x.strip()]


def flagged_posts(n: int) -> list[Post]:
    out = []
    for i in range(n):
        extras: dict[str, Any] = {"channel": f"home{i % 50}"}
        text = OFFER
        if i % 3 == 0:
            extras["forwarded_from_url"] = f"https://t.me/chan{i * 7919 % 2000}/{i}"
        elif i % 3 == 1:
            text += f" join t.me/chan{i * 104729 % 2000} or https://t.me/+Inv{i % 400}code"
        else:
            host = i * 31 % 300
            path = ("/viewtopic.php?t=", "/feed.xml?x=", "/ad/")[host % 3]
            text += f" more at https://site{host}.example.org{path}{i}"
        out.append(
            Post(
                text=text,
                source=f"tg-home{i % 50}",
                kind="telegram",
                post_id=str(i),
                url=f"https://t.me/home{i % 50}/{i}",
                posted_at=f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00",
                extras=extras,
            ).with_(
                label="offer",
                scores={"offer": 0.5 + (i % 50) / 100},
                flagged=True,
                model_version="bench-discover",
            )
        )
    return out


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in sizes():
        posts = flagged_posts(n)
        start = time.perf_counter()
        found = collect(posts)
        seconds = time.perf_counter() - start
        rows.append(row(f"discover: collect {n:,} flagged posts ({len(found)} cand.)", n, seconds))
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            with Store.open(url, pseudonym_key=b"bench") as store:
                for start_at in range(0, n, 2000):
                    store.save_posts(posts[start_at : start_at + 2000])
                start = time.perf_counter()
                found = suggest_sources(store, None, limit=20)
                seconds = time.perf_counter() - start
        rows.append(
            row(f"discover: suggest_sources, {n:,} flagged (sqlite)", n, seconds, memory=peak_mb())
        )
    return rows
