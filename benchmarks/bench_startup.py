"""Cold start, each in a fresh process: `signalering classify` on one post, loading the
model alone (``Classifier.load`` after the imports: its arrays, model.arrays.npz, when
it has them), and `signalering serve` until its /login page answers.

One warm-up run fills the OS file cache and the exemplar embedding cache; then
``SIGNALERING_BENCH_STARTUP_RUNS`` (5) runs are timed. ``seconds`` is the median wall
time of one start, ``cpu_s`` its median CPU time (user + system, the process and its
children): on this shared 2-core machine wall time follows the load average, reported
beside it, while CPU time is the code's own cost. ``items`` is the number of timed runs.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signalering import corpus
from signalering.config import load_config
from signalering.errors import ModelError
from signalering.model.classifier import Classifier

RUNS = int(os.environ.get("SIGNALERING_BENCH_STARTUP_RUNS", "5"))
CLI = Path(sys.executable).with_name("signalering")
_LOAD_ONLY = """
import json, sys, time
from signalering.model.classifier import Classifier  # the imports are not the load
wall, cpu = time.perf_counter(), time.process_time()
Classifier.load(sys.argv[1])
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(start: Callable[[], float | None]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process run by ``start`` (which waits for it);
    ``start`` may return the wall seconds itself (up to the first page, not the shutdown)."""
    cpu, wall = _children_cpu(), time.perf_counter()
    own = start()
    wall = time.perf_counter() - wall
    return (wall if own is None else own), _children_cpu() - cpu


def _row(stage: str, runs: list[tuple[float, float]], load_before: float) -> dict[str, Any]:
    walls = [w for w, _ in runs]
    median = statistics.median(walls)
    return {
        "stage": stage,
        "items": len(runs),
        "seconds": round(median, 3),
        "min_s": round(min(walls), 3),
        "max_s": round(max(walls), 3),
        "cpu_s": round(statistics.median(c for _, c in runs), 3),
        "items_per_s": round(1 / median, 2) if median else None,
        "peak_mb": None,
        "load_1min": round(load_before, 2),
        "load_1min_after": round(os.getloadavg()[0], 2),
    }


def _model(tmp: Path) -> Path:
    """The configured model when it loads, else one trained for the benchmark."""
    path = load_config().model.path
    try:
        Classifier.load(path)
        return path
    except ModelError as exc:
        print(f"  {exc}; training a model for the benchmark", file=sys.stderr)
    from signalering.model.training import train_model

    train_model(None, tmp / "model", features="tfidf")
    return tmp / "model"


def classify_one_post(model: Path, tmp: Path) -> dict[str, Any]:
    post = tmp / "one.jsonl"
    post.write_text(json.dumps({"text": corpus.load()[0]["text"]}) + "\n", encoding="utf-8")
    cmd = [str(CLI), "--quiet", "classify", str(post), "--model", str(model)]

    def start() -> None:
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        return None

    start()  # warm-up: file cache, exemplar vectors
    load = os.getloadavg()[0]
    return _row(
        "start-up: classify one post (cold process)", [_timed(start) for _ in range(RUNS)], load
    )


def load_model(model: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-c", _LOAD_ONLY, str(model)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)  # warm-up
    load = os.getloadavg()[0]
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(cmd, check=True, capture_output=True, timeout=600).stdout
        found = json.loads(out)
        runs.append((found["wall"], found["cpu"]))
    return _row("start-up: model load alone (Classifier.load)", runs, load)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_first_page(tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "SIGNALERING_PATHS_HOME": str(tmp / "home")}
    env.pop("SIGNALERING_DATABASE_URL", None)  # a fresh SQLite store in tmp

    def start() -> float:
        port = _free_port()
        began = time.perf_counter()
        proc = subprocess.Popen(
            [str(CLI), "--quiet", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                        if r.status == 200:
                            return time.perf_counter() - began
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"serve exited: {proc.stderr.read().decode()[-500:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError("serve did not answer /login within 300 s")
                time.sleep(0.02)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    start()  # warm-up: creates and migrates the store once
    load = os.getloadavg()[0]
    return _row(
        "start-up: serve to its first page (/login)", [_timed(start) for _ in range(RUNS)], load
    )


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        model = _model(tmp)
        rows = [classify_one_post(model, tmp), load_model(model), serve_first_page(tmp)]
    for r in rows:
        print(
            f"  {r['stage']}: median {r['seconds']:.2f} s wall (min {r['min_s']:.2f}), "
            f"{r['cpu_s']:.2f} s CPU, load {r['load_1min']}-{r['load_1min_after']}",
            file=sys.stderr,
        )
    return rows
