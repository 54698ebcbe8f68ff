"""Generate a classifieds-style site of any size, for the resume test and the benchmark."""

from __future__ import annotations

from pathlib import Path

_LINES = [
    "Seats in a van to London this week, no papers needed.",
    "Ferry tickets Dover to Calais, official agent.",
    "Truck driver wanted, C+E licence, international routes.",
    "Documents and visas fast, 100% guaranteed.",
    "Removals company, Brussels to Cologne, fully insured.",
]


def generate_listing_site(root: Path, *, ads: int = 200, per_page: int = 10) -> Path:
    """Write ``ads`` detail pages and their paginated index under ``root``; returns the
    sources.yaml describing it (``{base_url}`` placeholder)."""
    (root / "ads").mkdir(parents=True, exist_ok=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    pages = (ads + per_page - 1) // per_page
    for page in range(1, pages + 1):
        first = (page - 1) * per_page + 1
        cards = "".join(
            f'<li><a class="ad" href="/ads/{i}.html">Ad {i}</a></li>'
            for i in range(first, min(first + per_page, ads + 1))
        )
        nxt = f'<a class="next" href="/list?page={page + 1}">next</a>' if page < pages else ""
        (root / f"list@page={page}.html").write_text(
            f"<html><head><meta charset='utf-8'><title>Ads {page}</title></head><body>"
            f"<ul class='ads'>{cards}</ul>{nxt}</body></html>",
            encoding="utf-8",
        )
    for i in range(1, ads + 1):
        text = _LINES[i % len(_LINES)]
        (root / "ads" / f"{i}.html").write_text(
            f"<html><head><meta charset='utf-8'><title>Ad {i}</title></head><body>"
            f"<div class='ad' data-id='{i}'><h1>Ad {i}</h1><span class='price'>€ {100 + i}</span>"
            f"<div class='text'>{text} (ref {i})</div></div></body></html>",
            encoding="utf-8",
        )
    sources = root / "sources.yaml"
    sources.write_text(
        """sources:
  - name: generated
    kind: listing
    start_urls: ["{base_url}/list?page=1"]
    follow:
      - allow: '/ads/\\d+\\.html$'
        restrict_css: ul.ads
    pagination: 'a.next::attr(href)'
    query_allowlist: [page]
    max_pages: 100000
    item:
      url_pattern: '/ads/\\d+\\.html$'
      fields:
        post_id: 'div.ad::attr(data-id)'
        text: div.text
        title: h1
        price: span.price
""",
        encoding="utf-8",
    )
    return sources
