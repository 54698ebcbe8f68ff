"""The bundled demo site crawls with the demo sources.yaml."""

from __future__ import annotations

from signalering.demo.run import SITE, SOURCES
from signalering.demo.server import serve_site


def test_demo_site_yields_every_fictitious_post_once(tmp_path, crawl):
    with serve_site(SITE) as base:
        result = crawl(["--sources", str(SOURCES), "--base-url", base], tmp_path / "demo.jsonl")
    assert result.returncode == 0, result.stderr[-2000:]
    counts = {s["source"]: s["posts"] for s in result.summaries}
    assert counts == {"demo-telegram": 24, "demo-forum": 10, "demo-classifieds": 12}
    assert len({(p["source"], p["post_id"]) for p in result.posts}) == 46
    texts = " ".join(p["text"] for p in result.posts)
    for sample in ("Boat to UK", "vrachtwagen", "إيطاليا", "کامیون", "لارۍ", "garantili",
                   "Passage garanti", "ኢጣልያ", "qeyikê", "xe tải", "gomone"):  # fmt: skip
        assert sample in texts
