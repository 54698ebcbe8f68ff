"""Two crawler processes share one Redis scheduler and write to one PostgreSQL store."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
from sqlalchemy import func, select

from signalering.demo.generate import generate_listing_site
from signalering.demo.server import serve_site
from signalering.store import Store
from signalering.store.models import PostRow
from spiders.distributed import delete_run

REDIS_URL = "redis://127.0.0.1:6379/0"
REPO = Path(__file__).resolve().parents[2]
ADS = 80
# Real delays keep both nodes busy at once; robots.txt stays on.
SLOW_ENOUGH = [
    "-s", "DOWNLOAD_DELAY=0.1", "-s", "AUTOTHROTTLE_ENABLED=False",
    "-s", "SIGNALERING_REDIS_IDLE_CLOSE=3", "-s", "LOG_LEVEL=INFO",
    # The first page waits at the gate until both nodes are up.
    "-s", "DOWNLOAD_TIMEOUT=150",
]  # fmt: skip


def _wait_until_open(logs: list[Path], nodes: list[subprocess.Popen], timeout: float) -> None:
    """Until every node logged that its spider joined the run (or one of them exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all("distributed crawl: node" in log.read_text(errors="replace") for log in logs):
            return
        if any(node.poll() is not None for node in nodes):
            return
        time.sleep(0.2)


def test_two_crawler_processes_share_the_work_fetch_each_url_once_store_each_post_once(
    tmp_path: Path, postgres_url: str
) -> None:
    sources = generate_listing_site(tmp_path / "site", ads=ADS, per_page=8)
    run_key = f"test-{uuid.uuid4().hex[:10]}"
    Store.open(postgres_url).close()  # migrate once, before the nodes race for it
    log: list[str] = []
    # Nodes of a long-running deployment are up before the work arrives; on a busy CI
    # machine one process can take seconds longer to start, so the site answers nothing
    # (robots.txt aside) until both nodes have joined the run.
    gate = threading.Event()
    logs = [tmp_path / f"node{i}.log" for i in range(2)]
    try:
        with serve_site(tmp_path / "site", log=log, gate=gate) as base:
            args = [
                sys.executable, "-m", "spiders.run", "--sources", str(sources),
                "--base-url", base, "--database-url", postgres_url, "--no-score",
                "--redis-url", REDIS_URL, "--run-key", run_key, *SLOW_ENOUGH,
            ]  # fmt: skip
            nodes = []
            for node_log in logs:
                with node_log.open("wb") as err:
                    nodes.append(
                        subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=err)
                    )
            _wait_until_open(logs, nodes, timeout=120)
            gate.set()
            stdouts = [node.communicate(timeout=300)[0] for node in nodes]
        outputs = [
            (out, node_log.read_bytes()) for out, node_log in zip(stdouts, logs, strict=True)
        ]
        server = redis.Redis.from_url(REDIS_URL)
        keys = {k.decode() for k in server.scan_iter(match=f"signalering:{run_key}:*")}
        server.close()
    finally:
        delete_run(REDIS_URL, run_key)

    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err.decode()[-3000:]
    summaries = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    # Each URL was fetched once across both nodes (each node reads robots.txt itself).
    fetched = Counter(path for path in log if path != "/robots.txt")
    assert fetched and max(fetched.values()) == 1, fetched.most_common(3)
    assert len([p for p in fetched if p.startswith("/ads/")]) == ADS
    # Both nodes took a share of the ads: the shared queue hands work to every node.
    assert all(s["new"] > 0 for s in summaries), (
        [s["new"] for s in summaries],
        [err.decode(errors="replace")[-2000:] for _, err in outputs],
    )
    # Each post stored once, and all of them.
    with Store.open(postgres_url) as store, store.engine.connect() as conn:
        stored = conn.execute(
            select(PostRow.post_id, func.count()).group_by(PostRow.source, PostRow.post_id)
        ).all()
    assert sorted(int(pid) for pid, _ in stored) == list(range(1, ADS + 1))
    assert {n for _, n in stored} == {1}
    assert sum(s["new"] for s in summaries) == ADS
    # The run's queue and seen set lived under its own key prefix in Redis.
    assert f"signalering:{run_key}:generated:dupefilter" in keys
