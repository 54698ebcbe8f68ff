"""A writer killed with SIGKILL mid-batch leaves whole posts only, and can carry on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from signalering.store import SaveResult, Store

BATCH = 100

WRITER = """
import sys
from signalering.post import Post
from signalering.store import Store

def batch(start, size):
    return [
        Post(
            text=f"Crossing {i}: call +44 7700 9{i:05d}, 1500 EUR",
            source="forum",
            post_id=str(i),
            label="offer",
            scores={"offer": 0.9, "unrelated": 0.1},
            flagged=True,
            model_version="v1",
            entities={
                "phones": [{"value": f"+4477009{i:05d}"}],
                "prices": [{"amount": 1500, "currency": "EUR"}],
            },
        )
        for i in range(start, start + size)
    ]

url, size, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with Store.open(url, pseudonym_key=b"k") as store:
    for start in range(0, stop, size):
        store.save_posts(batch(start, size))
        print(start + size, flush=True)
"""


def _writer(url: str, stop: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(BATCH), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )


def _half_written(store: Store) -> int:
    query = """
        SELECT count(*) FROM posts p
        WHERE NOT EXISTS (SELECT 1 FROM scores s WHERE s.post_id = p.id)
           OR (SELECT count(*) FROM entities e WHERE e.post_id = p.id) <> 2
    """
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(query).scalar()


@pytest.mark.slow
def test_a_writer_killed_mid_stream_leaves_no_post_without_its_score_and_entities(
    store_url: str,
) -> None:
    Store.open(store_url).close()  # migrate first, so the kill lands in the writes
    writer = _writer(store_url, stop=1_000_000)
    try:
        committed = 0
        while committed < 3 * BATCH:
            line = writer.stdout.readline()  # type: ignore[union-attr]
            assert line, "the writer stopped before it was killed"
            committed = int(line)
        time.sleep(0.05)  # into the middle of a later batch
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert writer.returncode == -signal.SIGKILL

    with Store.open(store_url) as store:
        stored = len(list(store.iter_posts()))
        assert stored >= committed
        assert stored % BATCH == 0  # whole batches only
        assert _half_written(store) == 0

    # A restarted writer re-sends everything and ends with each post exactly once.
    total = stored + BATCH
    rerun = _writer(store_url, stop=total)
    out, _ = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, out
    with Store.open(store_url) as store:
        posts = list(store.iter_posts())
        assert sorted(int(p.post_id) for p in posts) == list(range(total))  # type: ignore[arg-type]
        assert _half_written(store) == 0
        assert store.save_posts([]) == SaveResult(0, 0, 0)
