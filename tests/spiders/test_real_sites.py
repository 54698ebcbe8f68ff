"""Forum engine presets and feeds on real pages (``../shared/fixtures/real-sites``), served
on 127.0.0.1 and crawled from a config of only a name and a start URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from crawling import CrawlResult, real_fixtures, run_crawl

from signalering.demo.server import serve_site

REAL = real_fixtures("real-sites")
# file -> (source name, engine/layout, number of posts, first post id); counts from the
# fixtures' README.
FORUMS = {
    "ptforum__phpbb2__viewtopic.php_start=0_t=805.html": ("phpbb2", "phpbb/phpbb2", 3, "4513"),
    "ptforum__phpbb3__viewtopic.php_t=28017.html": ("phpbb3", "phpbb/phpbb3", 5, "248820"),
    "NetTally__phpBB.html": ("phpbb3-page2", "phpbb/phpbb3", 25, "2729870"),
    "ptforum__smf2__index.php_topic=38573.0.html": ("smf2", "smf/smf2", 15, "174916"),
    "NetTally__vBulletin3.html": ("vb3", "vbulletin/vbulletin3", 20, "5768670"),
    "NetTally__vBulletin4.html": ("vb4", "vbulletin/vbulletin4", 10, "365266"),
    "NetTally__vBulletin5.html": ("vb5", "vbulletin/vbulletin5", 15, "727744"),
    "NetTally__Xenforo2.html": ("xf2", "xenforo/xenforo2", 8, "114210"),
}
# The same pages with the engine named instead of detected.
NAMED = {"phpbb3-page2": "phpbb", "smf2": "smf", "vb4": "vbulletin", "xf2": "xenforo"}
FEEDS = {
    "rss-parser__craigslist.rss": "craigslist",
    "rss-parser__uolNoticias.rss": "uol",
    "rss-parser__heise.atom": "heise",
    "rss-parser__reddit-atom.rss": "reddit",
}


def _path(file: str) -> str:
    return f"/real/{file.replace('=', '-').replace('.', '-')}"


@pytest.fixture(scope="module")
def real_sites(tmp_path_factory: pytest.TempPathFactory) -> CrawlResult:
    tmp = tmp_path_factory.mktemp("real-sites")
    routes = {_path(file): {"file": file} for file in [*FORUMS, *FEEDS]}
    for file in FEEDS:  # served with the type a feed has, without a charset
        suffix = file.rsplit(".", 1)[1]
        routes[_path(file)]["headers"] = {"Content-Type": f"application/{suffix}+xml"}  # type: ignore[assignment]
    lines = ["sources:"]
    with serve_site(REAL, routes=routes) as base:
        for file, (name, *_) in FORUMS.items():
            lines += [
                f"  - name: {name}",
                "    kind: listing",
                f"    start_urls: [{base}{_path(file)}]",
            ]
        for name, engine in NAMED.items():
            file = next(f for f, v in FORUMS.items() if v[0] == name)
            lines += [f"  - name: {name}-named", "    kind: listing", f"    engine: {engine}"]
            lines += [f"    start_urls: [{base}{_path(file)}]"]
        for file, name in FEEDS.items():
            lines += [
                f"  - name: {name}",
                "    kind: feed",
                f"    start_urls: [{base}{_path(file)}]",
            ]
            lines += ["    follow_entries: false"]
        sources = tmp / "sources.yaml"
        sources.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return run_crawl(
            ["--sources", str(sources)], tmp / "posts.jsonl", timeout=300, verbose=True
        )


def _posts(result: CrawlResult, name: str) -> dict[str, dict[str, Any]]:
    return {p["post_id"]: p for p in result.by_source(name)}


@pytest.mark.parametrize("file", list(FORUMS))
def test_every_post_of_each_engine_with_author_time_and_id(real_sites, file):
    name, engine, count, first = FORUMS[file]
    assert real_sites.returncode == 0, real_sites.stderr[-3000:]
    posts = real_sites.by_source(name)
    assert len(posts) == count
    assert posts[0]["post_id"] == first
    for post in posts:
        assert post["post_id"].isdigit()
        assert post["author"], post
        assert post["posted_at"] and post["posted_at"][:2] in ("20",), post
        assert post["engine"] == engine
        # A post without its own text is one that only quotes.
        assert post["text"] or post["quotes"], post
        assert post["url"].endswith(f"#{post['post_id']}")
    assert f"source {name}: detected forum engine {engine.replace('/', ' (layout ')})" in (
        real_sites.stderr
    )
    named = NAMED.get(name)
    if named:
        same = real_sites.by_source(f"{name}-named")
        assert [(p["post_id"], p["text"]) for p in same] == [
            (p["post_id"], p["text"]) for p in posts
        ]


def test_phpbb2_table_layout_reads_author_time_and_text(real_sites):
    posts = _posts(real_sites, "phpbb2")
    deano = posts["4514"]
    assert deano["author"] == "Deano"
    assert deano["posted_at"] == "2010-06-03T19:27:00+00:00"
    assert deano["text"] == (
        "Best of luck, all the hard work will be worth it. Enjoy the good weather while you can."
    )
    # The signature below the "_________________" rule is not the post.
    assert not any("Cheshire Cat" in p["text"] for p in posts.values())
    assert posts["4513"]["text"].endswith("George")


def test_quotes_are_kept_apart_from_the_posts_own_text(real_sites):
    max_reply = _posts(real_sites, "phpbb3")["248948"]
    assert max_reply["quotes"] == [{"by": "KenT", "text": "pyomxplayer uses pipes."}]
    assert "pyomxplayer uses pipes" not in max_reply["text"]
    assert "wrote:" not in max_reply["text"]
    assert max_reply["posted_at"] == "2013-01-02T21:22:00+00:00"

    smf = _posts(real_sites, "smf2")["174927"]
    assert "If a configuration setting cannot be set" in smf["quotes"][0]["text"]
    assert "If a configuration setting cannot be set" not in smf["text"]
    assert "Quote from" not in smf["text"]
    assert smf["text"].startswith("1 - I would say")

    vb3 = _posts(real_sites, "vb3")["5768670"]
    assert vb3["quotes"][0]["by"] == "TinyRedLeaf"
    assert vb3["text"].startswith("Let me reword it from lesbians")
    assert "Quote:" not in vb3["text"] and "Originally Posted by" not in vb3["text"]

    vb5 = _posts(real_sites, "vb5")["727761"]
    assert vb5["quotes"][0]["by"] == "Buckeye"
    assert "Originally posted by" not in vb5["text"]


def test_signatures_are_dropped(real_sites):
    assert "For behold" not in _posts(real_sites, "phpbb3-page2")["2729870"]["text"]
    assert "Greg Swallow" not in _posts(real_sites, "smf2")["174916"]["text"]
    assert "six inches" not in _posts(real_sites, "vb4")["365267"]["text"]
    assert not any("MyAnimeList" in p["text"] for p in real_sites.by_source("vb5"))


def test_dates_in_each_engines_own_format(real_sites):
    assert _posts(real_sites, "vb3")["5768670"]["posted_at"] == "2016-02-01T02:21:00+00:00"
    # vBulletin prints month first: 06-15-2016, 03:03 PM.
    assert _posts(real_sites, "vb4")["365266"]["posted_at"] == "2016-06-15T15:03:00+00:00"
    assert _posts(real_sites, "vb5")["727744"]["posted_at"] == "2019-04-09T08:37:23+00:00"
    assert _posts(real_sites, "xf2")["114210"]["posted_at"] == "2010-11-21T10:51:58+00:00"
    assert _posts(real_sites, "smf2")["174916"]["posted_at"] == "2007-09-19T13:08:14+00:00"
    assert _posts(real_sites, "phpbb3-page2")["2730437"]["posted_at"] == (
        "2019-06-01T17:46:00+00:00"
    )


def test_rdf_classifieds_feed_items_text_and_dates(real_sites):
    posts = real_sites.by_source("craigslist")
    assert len(posts) == 25
    first = posts[0]
    assert first["posted_at"] == "2017-06-21T10:33:10-07:00"
    # CDATA titles carry a literal "&#x0024;" and <sup>2</sup>: the price reads "$4300".
    assert first["title"] == (
        "Bright, Spacious Beautiful Victorian (oakland north / temescal) $4300 3bd 1930ft2"
    )
    assert first["text"].startswith("Updated 3+ Bedroom, 2.5 Bath, Victorian home.")
    assert first["url"] == "http://sfbay.craigslist.org/eby/apa/6186664607.html"
    assert all(p["posted_at"] and p["text"] for p in posts)


def test_iso_8859_1_feed_without_declaration_decodes_and_dates_parse(real_sites):
    posts = real_sites.by_source("uol")
    assert len(posts) == 15
    first = posts[0]
    assert first["title"] == (
        "Ibope: Bolsonaro perde de Haddad, Ciro e Alckmin em simulações de 2º turno"
    )
    assert first["text"].startswith("Líder na pesquisa Ibope de intenção de voto")
    # Portuguese day and month names: "Seg, 24 Set 2018 19:42:40 -0300".
    assert first["posted_at"] == "2018-09-24T19:42:40-03:00"
    assert all(p["posted_at"] for p in posts)


def test_atom_and_rss2_feeds_keep_their_offsets_and_markup_text(real_sites):
    heise = real_sites.by_source("heise")
    assert len(heise) == 15 and heise[0]["posted_at"] == "2016-02-01T17:22:00+01:00"
    assert "Über" in heise[1]["text"] or "ü" in heise[0]["text"]
    reddit = real_sites.by_source("reddit")
    assert len(reddit) == 24 and reddit[0]["posted_at"] == "2016-01-23T15:40:37+00:00"
    # reddit puts raw HTML elements inside <description>: their text is the summary.
    assert "[959 comments]" in reddit[0]["text"]


def test_no_fixture_is_copied_into_the_repository():
    repo = Path(__file__).resolve().parents[2]
    names = {p.name for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert not names & {*FORUMS, *FEEDS}
