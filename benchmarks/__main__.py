"""`make bench`: run every benchmarks/bench_*.py, print a table, write results.json.

`python -m benchmarks bigpost startup` runs only those (bench_bigpost, bench_startup) and
replaces only their rows in results.json.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    only = set(argv)
    rows = []
    for mod in sorted(
        m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_")
    ):
        if only and mod not in only and mod.removeprefix("bench_") not in only:
            continue
        print(f"running {mod} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            found = importlib.import_module(f"benchmarks.{mod}").run()
        except Exception as exc:  # one broken benchmark must not hide the others
            print(f"{mod} failed: {exc!r}", file=sys.stderr)
            found = [{"stage": mod, "error": repr(exc)}]
        for row in found:
            row.setdefault("benchmark", mod)
        rows += found
        print(f"  {mod} took {time.perf_counter() - start:.0f}s", file=sys.stderr)
    print(f"{'stage':50} {'items':>9} {'items/s':>10} {'peak MB':>8} {'seconds':>8}")
    for r in rows:
        if "error" in r:
            print(f"{r['stage']:50} failed: {r['error']}")
            continue
        print(
            f"{r['stage']:50} {r['items']:>9} {r.get('items_per_s') or 0:>10.1f} "
            f"{r.get('peak_mb') or 0:>8.1f} {r.get('seconds') or 0:>8.2f}"
        )
    failed = any("error" in r for r in rows)
    results = HERE / "results.json"
    if only and results.is_file():
        # A partial run (`python -m benchmarks bigpost`) replaces only its own rows.
        ran = {r["benchmark"] for r in rows}
        kept = [r for r in json.loads(results.read_text()) if r.get("benchmark") not in ran]
        rows = kept + rows
    results.write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
