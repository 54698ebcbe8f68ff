"""One 20 MB post among ordinary ones: `classify`, `extract`, `cluster` and `run --input`,
each in a fresh process, with wall time, CPU time and peak memory (the process's own
maximum resident set, from ``wait4``).

The file holds two ordinary posts and one post of 20,000,000 characters (a repeated
advert with phone numbers and prices), then the same with one repeated letter (the case
that once asked numpy for a 47 GiB array); ``SIGNALERING_BENCH_BIGPOST=words`` (or
``letter``) runs only one of the two. Each stage
reads only its cap of the long post (``limits.*_chars``, README "Limits and retention"),
so memory stays far below the 2 GB the issue allows. ``items`` is the number of posts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI = Path(sys.executable).with_name("signalering")
CHARS = 20_000_000
ORDINARY = [
    {"id": "a", "text": "Boat Zuwara to Lampedusa 3500 euro, whatsapp +218 91 234 5678"},
    {"id": "c", "text": "Looking for a flat in Berlin for two months, any advice welcome."},
]
PHRASE = "travel to Germany safe route call +4915112345678 price 2500 euro "


def write_file(path: Path, kind: str = "words") -> Path:
    """Two ordinary posts around one post of ``CHARS`` characters."""
    big = "a" * CHARS if kind == "letter" else (PHRASE * (CHARS // len(PHRASE) + 1))[:CHARS]
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(ORDINARY[0]) + "\n")
        fh.write(json.dumps({"id": "big", "text": big}) + "\n")
        fh.write(json.dumps(ORDINARY[1]) + "\n")
    return path


def _measured(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Wall and CPU seconds, peak RSS and exit code of one ``signalering`` process."""
    err_path = cwd / "stderr.txt"
    with err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(CLI), "--quiet", *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **env},
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - start
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    if code not in (0, 3):
        raise RuntimeError(f"signalering {args[0]} exited {code}: {stderr.strip()[-500:]}")
    return {
        "seconds": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
        "exit": code,
    }


def run() -> list[dict[str, Any]]:
    chosen = os.environ.get("SIGNALERING_BENCH_BIGPOST")
    rows = []
    for kind in [chosen] if chosen else ["words", "letter"]:
        rows += _run_file(kind)
    return rows


def _run_file(kind: str) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-bigpost-") as tmp:
        folder = Path(tmp)
        data = write_file(folder / "bigpost.jsonl", kind)
        env = {
            "SIGNALERING_PATHS_HOME": str(folder),
            "SIGNALERING_DATABASE_URL": f"sqlite:///{folder / 'store.sqlite3'}",
        }
        commands = {
            "classify": ["classify", str(data), "-o", str(folder / "out.jsonl")],
            "extract": ["extract", str(data), "-o", str(folder / "out.jsonl")],
            "cluster": ["cluster", str(data), "-o", str(folder / "out.jsonl")],
            "run --input": ["run", "--input", str(data)],
        }
        for name, args in commands.items():
            load = os.getloadavg()[0]
            found = _measured(args, env, folder)
            rows.append(
                {
                    "stage": f"{name} with a 20 MB post ({kind})",
                    "items": 3,
                    "items_per_s": round(3 / found["seconds"], 2) if found["seconds"] else None,
                    **found,
                    "load_1min": round(load, 2),
                }
            )
    return rows


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
