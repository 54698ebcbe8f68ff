"""Forum, classifieds, feeds and sitemap spiders against the fixture web site."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalering.errors import ConfigError, SourceError
from spiders.sources import load_sources

SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "sites" / "web" / "sources.yaml"
FORBIDDEN = ("/admin/", "/ads/private/", "/forum/memberlist.php")


@pytest.fixture
def web_crawl(web_site, tmp_path, crawl):
    base, log = web_site

    def run(*names: str):
        args = ["--sources", str(SOURCES), "--base-url", base]
        for name in names:
            args += ["--source", name]
        result = crawl(args, tmp_path / "posts.jsonl")
        result.log = list(log)
        return result

    return run


def test_forum_threads_yield_every_post_across_thread_pages(web_crawl):
    result = web_crawl("forum")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = {p["post_id"]: p for p in result.by_source("forum")}
    assert sorted(posts) == ["p101", "p102", "p103", "p104", "p111", "p121"]
    offer = posts["p102"]
    assert offer["text"] == "Boat every week, 100% guaranteed.\nWhatsApp +44 7700 900456"
    assert offer["author"] == "safeway_travel"
    assert offer["posted_at"] == "2024-05-01T09:30:00+00:00"
    assert offer["title"] == "Re: Channel crossing this summer?"
    assert offer["url"].endswith("/forum/viewtopic.php?t=10#p102")
    # Session ids and tracking parameters are canonicalised away: each thread page once.
    assert sum(1 for u in result.log if u.startswith("/forum/viewtopic.php?t=10")) == 1
    assert not any("sid=" in u for u in result.log)


def test_windows_1256_page_declared_in_meta_decodes(web_crawl):
    posts = {p["post_id"]: p for p in web_crawl("forum").by_source("forum")}
    assert posts["p121"]["text"] == "رحلة مضمونة الى ايطاليا، السعر 3000 يورو"
    assert posts["p121"]["author"] == "ابو_سامي"


def test_classifieds_detail_pages_with_encodings_broken_html_and_traps(web_crawl):
    result = web_crawl("ads")
    assert result.returncode == 0, result.stderr[-2000:]
    posts = {p["post_id"]: p for p in result.by_source("ads")}
    assert sorted(posts) == ["201", "202", "203", "204", "205"]
    van = posts["201"]
    assert van["text"] == (
        "Two seats left in the van to London.\nNo papers needed. Telegram @fastvan_demo"
    )
    assert (van["price"], van["location"], van["author"]) == ("€ 1.800", "Calais", "fastvan")
    assert van["posted_at"] == "2024-06-01T10:00:00+02:00"
    # Same ad at two URLs (tracking parameters, print version with rel=canonical): once.
    assert van["url"].endswith("/ads/201.html")
    assert result.summary("ads")["duplicates"] == 1
    assert not any("utm_" in u for u in result.log)
    # Broken HTML still yields what it can.
    assert posts["203"]["text"].startswith("Passports and visas in 5 days")
    assert posts["203"]["price"] == "$ 900"
    # windows-1256 declared only in the HTTP header; UTF-8 BOM beats a wrong <meta charset>.
    assert posts["204"]["text"] == "سفر به اروپا بدون ويزا، تماس بگيريد"
    assert posts["205"]["text"] == "Official ferry tickets, passport required. Çok güzel."


def test_crawl_bounds_traps_big_pages_and_binary_links(web_crawl):
    result = web_crawl("ads")
    summary = result.summary("ads")
    calendar = [u for u in result.log if u.startswith("/ads/calendar/")]
    # max_depth 3: the endless calendar stops after the months within 3 links.
    assert 0 < len(calendar) <= 5
    assert summary["skipped"]["dropped_max_depth"] > 0
    # The 5 MB page exceeds DOWNLOAD_MAXSIZE: skipped, the crawl goes on.
    assert summary["skipped"]["too_large"] == 1
    # The PDF link is never requested; the image served for an HTML-looking URL is dropped.
    assert "/ads/brochure.pdf" not in result.log
    assert summary["skipped"]["skipped_non_html"] == 1
    assert summary["errors"] == 0 and summary["status"] == "ok"


def test_robots_disallowed_paths_are_never_fetched(web_crawl):
    result = web_crawl()
    assert result.returncode == 0, result.stderr[-2000:]
    fetched = [u for u in result.log if u.startswith(FORBIDDEN)]
    assert fetched == []
    assert result.summary("ads")["skipped"]["robots_forbidden"] == 1
    assert len(result.posts) == len({(p["source"], p["post_id"]) for p in result.posts})


def test_rss_entries_are_followed_to_their_pages(web_crawl):
    posts = {p["post_id"]: p for p in web_crawl("news-rss").by_source("news-rss")}
    assert sorted(posts) == ["news-1", "news-2", "news-9"]
    assert posts["news-1"]["text"] == (
        "Smugglers advertise 'guaranteed' crossings online\n\n"
        "Police warn about offers on social media.\nDo not pay in advance."
    )
    assert posts["news-1"]["author"] == "J. de Vries"
    assert posts["news-1"]["posted_at"] == "2024-04-01T07:00:00+00:00"
    assert posts["news-2"]["url"].endswith("/news/a2.html")  # utm_source dropped
    # The draft's page is robots-disallowed: the feed's own summary is kept instead.
    assert posts["news-9"]["text"] == "Summary of the draft story."


def test_atom_entries_without_following(web_crawl):
    posts = {p["post_id"]: p for p in web_crawl("news-atom").by_source("news-atom")}
    assert posts["urn:news:3"]["text"] == "A free hotline."
    assert posts["urn:news:3"]["title"] == "NGO hotline for migrants"
    assert posts["urn:news:3"]["author"] == "S. Ahmadi"
    assert posts["urn:news:2"]["posted_at"] == "2024-04-02T07:00:00+00:00"


def test_sitemap_index_pages_are_crawled(web_crawl):
    result = web_crawl("news-sitemap")
    urls = sorted(p["url"].rsplit("/", 1)[1] for p in result.by_source("news-sitemap"))
    assert urls == ["a1.html", "a2.html", "a3.html"]
    a3 = next(p for p in result.posts if p["url"].endswith("a3.html"))
    assert (
        a3["text"]
        == "NGO hotline for migrants\n\nA free hotline gives legal advice in 12 languages."
    )
    assert a3["title"] == "NGO hotline for migrants"


def test_selector_matching_nothing_on_first_page_is_reported(web_site, tmp_path, crawl):
    base, _ = web_site
    site = tmp_path / "site.yaml"
    site.write_text(
        "name: ads-bad\nkind: listing\n"
        f"start_urls: ['{base}/ads/201.html']\n"
        "item:\n  fields:\n    text: div.description\n    price: span.cost\n",
        encoding="utf-8",
    )
    result = crawl(["--kind", "listing", "--config", str(site)], tmp_path / "out.jsonl")
    assert result.summary("ads-bad")["warnings"] == ["item.fields.price: span.cost"]
    assert "selector item.fields.price 'span.cost' matches nothing" in result.stderr


def test_unknown_field_in_sources_file_names_file_source_and_field(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: forum\n    kind: listing\n    start_urls: [http://x.test/]\n"
        "    item: {fields: {text: p}}\n    folow: []\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as err:
        load_sources(path)
    assert str(err.value) == (
        f"{path}: source forum: unknown field `folow` — remove it or check its spelling"
    )


def test_listing_of_name_and_url_is_valid_and_bad_engines_are_clear_errors(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - name: shop\n    kind: listing\n    start_urls: [http://x.test/]\n",
        encoding="utf-8",
    )
    (shop,) = load_sources(path)
    assert (shop.item, shop.engine) == (None, None)  # the engine is detected when crawled
    path.write_text(
        "sources:\n  - name: shop\n    kind: listing\n    engine: phpbb4\n"
        "    start_urls: [http://x.test/]\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match="source shop: field `engine`: Input should be"):
        load_sources(path)
    path.write_text(
        "sources:\n  - name: news\n    kind: feed\n    engine: smf\n"
        "    start_urls: [http://x.test/]\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError, match="source news: .*`engine` applies to listing sources"):
        load_sources(path)
    with pytest.raises(ConfigError, match="not found"):
        load_sources(tmp_path / "missing.yaml")


def test_site_of_no_known_engine_without_selectors_is_reported(web_site, tmp_path, crawl):
    base, _ = web_site
    site = tmp_path / "site.yaml"
    site.write_text(f"name: ads-plain\nkind: listing\nstart_urls: ['{base}/ads/201.html']\n")
    result = crawl(["--kind", "listing", "--config", str(site)], tmp_path / "out.jsonl")
    assert result.summary("ads-plain")["warnings"] == ["engine: not detected"]
    assert "source ads-plain: no forum engine preset" in result.stderr
    assert result.posts == []


def test_base_url_placeholder_is_filled_in():
    sources = load_sources(SOURCES, base_url="http://127.0.0.1:9999")
    forum = next(s for s in sources if s.name == "forum")
    assert forum.start_urls == ["http://127.0.0.1:9999/forum/viewforum.php?f=2"]
    assert forum.contact == "mailto:crawl-test@example.invalid"
