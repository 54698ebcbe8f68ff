"""Two crawler processes share one Redis scheduler and write to one PostgreSQL store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import func, select

from signalering.demo.generate import generate_listing_site
from signalering.demo.server import serve_site
from signalering.store import Store
from signalering.store.models import PostRow
from spiders.distributed import delete_run, politeness_key

REDIS_URL = "redis://127.0.0.1:6379/0"
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).with_name("signalering")
# Real delays keep both nodes busy at once; robots.txt stays on.
COMMON = [
    "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "SIGNALERING_REDIS_IDLE_CLOSE=3",
    # The first page waits at the gate until both nodes are up.
    "-s", "DOWNLOAD_TIMEOUT=150",
]  # fmt: skip


@dataclass
class Run:
    summaries: list[dict]
    logs: list[str]  # each node's stderr
    fetched: list[str]  # every path the site answered, in order
    keys: set[str]  # the run's Redis keys when the nodes had finished


def _wait_until_open(logs: list[Path], nodes: list[subprocess.Popen], timeout: float) -> None:
    """Until every node logged that its spider joined the run (or one of them exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("distributed crawl: node" in log.read_text(errors="replace") for log in logs):
            return
        if any(node.poll() is not None for node in nodes):
            return
        time.sleep(0.2)


def _two_nodes(
    tmp_path: Path,
    database_url: str,
    *,
    ads: int,
    delay: float,
    on_request: Callable[[str], None] | None = None,
) -> Run:
    sources = generate_listing_site(tmp_path / "site", ads=ads, per_page=8)
    run_key = f"test-{uuid.uuid4().hex[:10]}"
    Store.open(database_url).close()  # migrate once, before the nodes race for it
    fetched: list[str] = []
    # Nodes of a long-running deployment are up before the work arrives; on a busy CI
    # machine one process can take seconds longer to start, so the site answers nothing
    # (robots.txt aside) until both nodes have joined the run.
    gate = threading.Event()
    logs = [tmp_path / f"node{i}.log" for i in range(2)]
    try:
        with serve_site(tmp_path / "site", log=fetched, gate=gate, on_request=on_request) as base:
            server = redis.Redis.from_url(REDIS_URL)
            server.delete(politeness_key(base))  # a site on a reused port starts afresh
            # --verbose: the node logs (INFO) that it joined the run.
            args = [
                str(BIN), "--verbose", "crawl", "--json", "--sources", str(sources),
                "--base-url", base, "--database-url", database_url, "--no-score",
                "--distributed", "--run-key", run_key,
                "-s", f"DOWNLOAD_DELAY={delay}", *COMMON,
            ]  # fmt: skip
            nodes = []
            for i, node_log in enumerate(logs):
                env = {
                    **{k: v for k, v in os.environ.items() if not k.startswith("SIGNALERING_")},
                    "SIGNALERING_PATHS_HOME": str(tmp_path / f"home{i}"),
                    "SIGNALERING_CRAWL_REDIS_URL": REDIS_URL,
                    # One key for both nodes: one author, one pseudonym in the shared store.
                    "SIGNALERING_PRIVACY_PSEUDONYM_KEY": "test-key",
                }
                with node_log.open("wb") as err:
                    nodes.append(
                        subprocess.Popen(
                            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err
                        )
                    )
            _wait_until_open(logs, nodes, timeout=120)
            gate.set()
            stdouts = [node.communicate(timeout=300)[0] for node in nodes]
        keys = {k.decode() for k in server.scan_iter(match=f"signalering:{run_key}:*")}
        server.close()
    finally:
        delete_run(REDIS_URL, run_key)
    errs = [log.read_text(errors="replace") for log in logs]
    for node, err in zip(nodes, errs, strict=True):
        assert node.returncode == 0, err[-3000:]
    summaries = [json.loads(out.decode().strip().splitlines()[-1]) for out in stdouts]
    return Run(summaries, errs, fetched, keys)


def test_two_crawler_processes_share_the_work_fetch_each_url_once_store_each_post_once(
    tmp_path: Path, postgres_url: str
) -> None:
    ads = 80
    run = _two_nodes(tmp_path, postgres_url, ads=ads, delay=0.1)
    # Each URL was fetched once across both nodes (each node reads robots.txt itself).
    fetched = Counter(path for path in run.fetched if path != "/robots.txt")
    assert fetched and max(fetched.values()) == 1, fetched.most_common(3)
    assert len([p for p in fetched if p.startswith("/ads/")]) == ads
    # Both nodes took a share of the ads: the shared queue hands work to every node.
    new = [s["new"] for s in run.summaries]
    assert all(n > 0 for n in new), (new, [log[-2000:] for log in run.logs])
    # Each post stored once, and all of them.
    with Store.open(postgres_url) as store, store.engine.connect() as conn:
        stored = conn.execute(
            select(PostRow.post_id, func.count()).group_by(PostRow.source, PostRow.post_id)
        ).all()
    assert sorted(int(pid) for pid, _ in stored) == list(range(1, ads + 1))
    assert {n for _, n in stored} == {1}
    assert sum(new) == ads
    # The run's queue and seen set lived under its own key prefix in Redis.
    assert any(k.endswith(":generated:dupefilter") for k in run.keys), run.keys


def test_two_nodes_together_keep_the_sites_delay_not_each_on_its_own(
    tmp_path: Path, sqlite_url: str
) -> None:
    delay = 0.4
    arrivals: list[float] = []
    run = _two_nodes(
        tmp_path,
        sqlite_url,
        ads=16,
        delay=delay,
        on_request=lambda path: arrivals.append(time.monotonic()),
    )
    new = [s["new"] for s in run.summaries]
    assert sum(new) == 16 and all(n > 0 for n in new), new
    # Two nodes each keeping the delay on their own would send about twice as often
    # (median gap ~delay/2). Together they keep it: the turns are taken in Redis, but a
    # node whose reactor is busy (saving a batch) may send its turn a little late, so a
    # few gaps come out short; the site still sees one request per delay.
    gaps = sorted(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    assert len(gaps) >= 18
    assert gaps[len(gaps) // 2] >= 0.9 * delay, gaps[:5]
    assert sum(g < 0.75 * delay for g in gaps) <= len(gaps) // 10, gaps[:5]
    assert arrivals[-1] - arrivals[0] >= 0.9 * delay * len(gaps)


def test_a_distributed_crawl_without_its_redis_stops_with_one_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: feed\n    kind: feed\n    start_urls: [http://127.0.0.1:9/feed.xml]\n",
        encoding="utf-8",
    )
    binary = Path(sys.executable).with_name("signalering")
    for redis_url, says in [
        (
            "redis://:secret@127.0.0.1:9/0",
            "cannot reach the shared Redis redis://:***@127.0.0.1:9/0",
        ),
        ("http://127.0.0.1:6379", "is not a Redis URL"),
    ]:
        env = {
            "PATH": str(binary.parent),
            "HOME": str(tmp_path),
            "SIGNALERING_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
            "SIGNALERING_CRAWL_REDIS_URL": redis_url,
        }
        result = subprocess.run(
            [str(binary), "crawl", "--sources", str(sources), "--distributed"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line
        assert says in result.stderr and "secret" not in result.stderr
