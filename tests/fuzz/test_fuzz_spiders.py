"""Fuzzing the page parsers: Telegram previews, listings and forums, feeds and sitemaps.

Each parser gets a real Scrapy response of any bytes, of markup built from hostile
pieces, and of well-formed pages rendered from known values (parse(render(x)) == x).
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.test import get_crawler

from spiders.extract import canonicalize, node_text, parse_date
from spiders.feeds import FeedSpider, SitemapSpider
from spiders.items import PostItem
from spiders.listing import ListingSpider, page_posts
from spiders.sources import Fields, ItemRule, Source
from spiders.telegram import TelegramSpider, parse_count

HOST = "http://127.0.0.1:8000"


def _spider(cls: type, **source: Any) -> Any:
    data = {"name": "fuzz", "kind": cls.kind, "start_urls": [f"{HOST}/"], **source}
    return cls.from_crawler(get_crawler(cls), source=Source(**data))


def _items(spider: Any, response: Response) -> list[Any]:
    return list(spider.parse(response))


def _r(cls: type, url: str, body: bytes, **kwargs: Any) -> Any:
    """A response as the engine hands it over: tied to its request."""
    return cls(url, body=body, request=Request(url), **kwargs)


# Markup made of the pieces that break parsers: unclosed and stray tags, entities,
# attributes with odd quoting, bad URLs, NULs and controls, other scripts.
markup_piece = st.sampled_from(
    [
        "<div>", "</div>", "<p>", "<br>", "<a href='", "'>", "</a>", "<a href=\"http://[::1\">",
        "<a href=\"http://h:99999/\">", "<a href=\"//\">", "<a href=\"javascript:x\">",
        "<time datetime=\"", "\">", "</time>", "<script>", "</script>", "<![CDATA[", "]]>",
        "<!--", "-->", "&amp;", "&#0;", "&#x110000;", "&bogus;", "\x00", "\x0b", "\ufeff",
        "\ud7ff", "ا", "🚤", " ", "\n", "+218 92 260 1815", "1.2.3K", "9" * 30, "<i class=\"emoji\" style=\"background-image:url('//telegram.org/img/emoji/40/F09F9AA4.png')\">",
        "</i>", "<img class=\"emoji\" alt=\"", "<html>", "</html>", "<body>", "</body>",
        "2024-13-45T99:99", "Mon, 32 Foo 2024 25:61:00 +9999", "99999-01-01",
    ]
)  # fmt: skip
markup = st.lists(markup_piece | st.text(max_size=10), max_size=40).map("".join)
# A URL a page may link to: anything, or shapes urllib refuses.
links = st.text(max_size=30) | st.sampled_from(
    ["http://[::1", "http://h:99999/", "http://h:port/", "//", "http://[v1.x]/", "\x00", "?a=1#"]
)


def _html(body: str) -> HtmlResponse:
    return _r(HtmlResponse, f"{HOST}/page", body.encode("utf-8", "surrogatepass"))


# -- Telegram -------------------------------------------------------------------------


def _message(channel: str, msg_id: str, inner: str, *, views: str = "", date: str = "") -> str:
    return (
        f'<div class="tgme_widget_message js-widget_message" data-post="{channel}/{msg_id}">'
        f'<div class="tgme_widget_message_bubble">'
        f'<div class="tgme_widget_message_text js-message_text">{inner}</div>'
        f'<div class="tgme_widget_message_footer"><span class="tgme_widget_message_views">'
        f"{views}</span>"
        f'<a class="tgme_widget_message_date" href="{HOST}/{channel}/{msg_id}">'
        f'<time datetime="{date}">x</time></a></div></div></div>'
    )


@given(st.text() | markup, links, st.text(max_size=12), st.text(max_size=12))
@example("hi", "http://[::1", "1.2.3K", "2024")
@example("hi", "x", "9" * 400, "")
@example("hi", "x", ".", "")
def test_the_telegram_parser_never_raises_on_any_message_markup(
    inner: str, link: str, views: str, msg_id: str
) -> None:
    page = (
        f'<a class="tgme_widget_message_date" href="{html.escape(link)}"></a>'
        + _message("chan", html.escape(msg_id), inner, views=html.escape(views))
        + _message("chan", "7", inner, views=html.escape(views))
    )
    spider = _spider(TelegramSpider, start_urls=[f"{HOST}/s/chan"])
    for url in (f"{HOST}/s/chan", f"{HOST}/chan/7?embed=1", f"{HOST}/other"):
        _items(spider, _r(HtmlResponse, url, page.encode("utf-8", "surrogatepass")))


@given(st.binary())
@example(b"<div class='tgme_widget_message' data-post='x/'>")
def test_the_telegram_parser_never_raises_on_any_bytes(body: bytes) -> None:
    spider = _spider(TelegramSpider, start_urls=[f"{HOST}/s/chan"])
    _items(spider, _r(HtmlResponse, f"{HOST}/s/chan", body))


words = st.lists(
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), min_size=1, max_size=8
)


@given(
    st.lists(
        st.tuples(st.integers(2, 10**9), words, st.integers(0, 10**8)),
        min_size=1,
        max_size=4,
        unique_by=lambda m: m[0],
    )
)
def test_a_rendered_telegram_page_parses_back_to_its_messages(
    messages: list[tuple[int, list[str], int]],
) -> None:
    page = "".join(
        _message("chan", str(n), " ".join(map(html.escape, ws)), views=str(v), date="2024-05-01T10:00:00+00:00")
        for n, ws, v in sorted(messages)
    )  # fmt: skip
    spider = _spider(TelegramSpider, start_urls=[f"{HOST}/s/chan"])
    posts = [
        i
        for i in _items(spider, _r(HtmlResponse, f"{HOST}/s/chan", page.encode()))
        if isinstance(i, PostItem)
    ]
    assert [(p.post_id, p.text, p.extras["views"]) for p in posts] == [
        (str(n), " ".join(ws), v) for n, ws, v in sorted(messages, reverse=True)
    ]
    assert all(p.posted_at == "2024-05-01T10:00:00+00:00" for p in posts)


@given(st.text())
@example("1.2.3K")
@example(".")
@example("9" * 400)
@example("١٢٣")
def test_a_view_count_is_a_number_or_none_for_any_text(value: str) -> None:
    count = parse_count(value)
    assert count is None or (isinstance(count, int) and count >= 0)


@given(st.integers(0, 10**12))
def test_a_view_count_reads_back_as_written(n: int) -> None:
    assert parse_count(str(n)) == n
    assert parse_count(f"{n:,}") == n


# -- listings and forums ---------------------------------------------------------------

RULE = ItemRule(
    container="div.post",
    fields=Fields(
        post_id="::attr(data-id)",
        text=".body",
        author=".author",
        date="time::attr(datetime)",
        url="a.link::attr(href)",
        title="h2",
    ),
)


def _listing_post(post_id: str, body: str, link: str, date: str) -> str:
    return (
        f'<div class="post" data-id="{html.escape(post_id)}"><h2>{body}</h2>'
        f'<span class="author">{body}</span><time datetime="{html.escape(date)}"></time>'
        f'<a class="link" href="{html.escape(link)}">x</a><div class="body">{body}</div></div>'
    )


@given(markup, links, st.text(max_size=10), st.text(max_size=30))
@example("x", "http://[::1", "1", "2024")
@example("x", "http://h:99999/", "1", "Mon, 32 Foo 2024 25:61:00 +9999")
def test_listing_and_page_parsers_never_raise(
    body: str, link: str, post_id: str, date: str
) -> None:
    page = (
        f'<html><head><link rel="canonical" href="{html.escape(link)}"></head><body>'
        + _listing_post(post_id, body, link, date) * 2
        + body
        + "</body></html>"
    )
    response = _html(page)
    spider = _spider(ListingSpider, item=RULE.model_dump())
    page_posts(spider, response, RULE)
    page_posts(spider, response, None)
    _items(spider, response)


@given(st.binary())
def test_the_listing_spider_never_raises_on_any_bytes(body: bytes) -> None:
    spider = _spider(ListingSpider, item=RULE.model_dump())
    _items(spider, _r(HtmlResponse, f"{HOST}/page", body))
    _items(spider, _r(TextResponse, f"{HOST}/page", body))


@given(st.lists(st.tuples(st.integers(1, 10**6), words), min_size=1, max_size=5))
def test_a_rendered_listing_parses_back_to_its_posts(posts: list[tuple[int, list[str]]]) -> None:
    page = "".join(
        _listing_post(str(i), " ".join(map(html.escape, ws)), f"/t/{i}", "2024-05-01T10:00:00Z")
        for i, ws in posts
    )
    found = page_posts(_spider(ListingSpider), _html(f"<body>{page}</body>"), RULE)
    assert [(p.post_id, p.text, p.url) for p in found] == [
        (str(i), " ".join(ws), f"{HOST}/t/{i}") for i, ws in posts
    ]


@given(st.text())
@example("http://[::1")
@example("http://h:99999/")
@example("HTTP://Example.COM:80/a?utm_source=x&b=2&a=1#frag")
def test_canonicalize_never_raises_and_is_idempotent(url: str) -> None:
    once = canonicalize(url)
    assert canonicalize(once) == once


@given(st.text() | st.sampled_from(["Mon, 32 Foo 2024 25:61:00 +9999", "99999-01-01", "0"]))
@example("2024-05-01 10:00 pm")
@example("١٢ مايو ٢٠٢٤")
def test_parse_date_gives_an_aware_iso_time_or_none(value: str) -> None:
    parsed = parse_date(value)
    assert parsed is None or datetime.fromisoformat(parsed).tzinfo is not None


@given(markup)
def test_node_text_never_raises_and_has_no_nul_or_markup_of_its_own(body: str) -> None:
    text = node_text(_html(f"<div id='x'>{body}</div>").css("body")[0])
    assert isinstance(text, str) and "\x00" not in text


# -- feeds and sitemaps ----------------------------------------------------------------


def _rss(items: str, *, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return f"{declaration}<rss><channel>{items}</channel></rss>".encode("utf-8", "surrogatepass")


@given(st.binary())
@example(b'<?xml version="1.0" encoding="undefined"?><rss/>')
@example(b'<?xml version="1.0" encoding="idna"?><rss><channel><item/></channel></rss>')
@example(b"\xff\xfe<\x00r\x00")
def test_the_feed_parser_never_raises_on_any_bytes(body: bytes) -> None:
    for follow in (True, False):
        spider = _spider(FeedSpider, follow_entries=follow)
        _items(spider, Response(f"{HOST}/feed.xml", body=body, request=Request(f"{HOST}/feed.xml")))
        _items(
            spider,
            Response(
                f"{HOST}/feed.xml", body=body, headers={"Content-Type": b"text/xml; charset=idna"}
            ),
        )


@given(
    markup,
    links,
    st.text(max_size=30),
    st.sampled_from(["utf-8", "undefined", "idna", "utf-7", "bogus", "rot13"]),
)
@example("x", "http://[::1", "2024", "utf-8")
@example("x", "http://h:99999/", "Mon, 32 Foo 2024 25:61:00 +9999", "utf-8")
@example("", "A:", "", "utf-8")  # found by the long profile: Request("a:") has no scheme
@example("\udb5f 92", "", "", "utf-7")  # found by the long profile: UTF-7 made a lone surrogate
@example("", "mailto:news@example.org", "", "utf-8")
def test_the_feed_parser_never_raises_on_hostile_entries(
    text: str, link: str, date: str, encoding: str
) -> None:
    entry = (
        f"<item><title>{html.escape(text)}</title><link>{html.escape(link)}</link>"
        f"<guid>{html.escape(link)}</guid><pubDate>{html.escape(date)}</pubDate>"
        f"<description>{html.escape(text)}</description></item>"
        f'<entry><link href="{html.escape(link)}"/><content>{text}</content></entry>'
    )
    body = _rss(entry, declaration=f'<?xml version="1.0" encoding="{encoding}"?>')
    for follow in (True, False):
        spider = _spider(FeedSpider, follow_entries=follow)
        _items(spider, Response(f"{HOST}/feed.xml", body=body, request=Request(f"{HOST}/feed.xml")))


@given(
    st.lists(
        st.tuples(st.integers(1, 10**6), words), min_size=1, max_size=5, unique_by=lambda e: e[0]
    )
)
def test_a_rendered_feed_parses_back_to_its_entries(entries: list[tuple[int, list[str]]]) -> None:
    items = "".join(
        f"<item><guid>g-{i}</guid><link>{HOST}/e/{i}</link>"
        f"<description>{html.escape(html.escape(' '.join(ws)))}</description></item>"
        for i, ws in entries
    )
    posts = _items(
        _spider(FeedSpider, follow_entries=False), _r(Response, f"{HOST}/f", _rss(items))
    )
    assert [(p.post_id, p.text, p.url) for p in posts] == [
        (f"g-{i}", " ".join(ws), f"{HOST}/e/{i}") for i, ws in entries
    ]


@given(st.binary() | markup.map(str.encode))
@example(b"\x1f\x8b\x08\x00garbage")
@example(b"<urlset><url><loc>http://[::1</loc></url></urlset>")
@example(b"Sitemap: http://[::1/s.xml\nSitemap: /relative.xml\n\xff")
def test_the_sitemap_parser_never_raises(body: bytes) -> None:
    spider = _spider(SitemapSpider)
    for url in (f"{HOST}/sitemap.xml", f"{HOST}/robots.txt"):
        list(spider.parse_sitemap(_r(Response, url, body)))


@pytest.mark.parametrize("loc", ["http://[::1", "http://h:99999/"])
def test_a_sitemap_with_a_bad_location_skips_it_and_reads_the_rest(loc: str) -> None:
    body = f"<urlset><url><loc>{loc}</loc></url><url><loc>{HOST}/ok</loc></url></urlset>"
    requests = list(
        _spider(SitemapSpider).parse_sitemap(_r(Response, f"{HOST}/s.xml", body.encode()))
    )
    assert [r.url for r in requests] == [f"{HOST}/ok"]


# -- real pages, damaged ---------------------------------------------------------------
# Saved third-party pages (../shared/fixtures, read where they lie) with markup pieces
# inserted and spans cut out: a page that changed, was truncated or was tampered with.
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
REAL_PAGES = sorted(
    p.relative_to(FIXTURES).as_posix()
    for p in FIXTURES.glob("real-*/*")
    if p.suffix in (".html", ".rss", ".atom")
)
_PAGE_BYTES: dict[str, bytes] = {}


def _page(name: str) -> bytes:
    if name not in _PAGE_BYTES:
        _PAGE_BYTES[name] = (FIXTURES / name).read_bytes()
    return _PAGE_BYTES[name]


edits = st.lists(
    st.tuples(
        st.floats(0, 1),
        st.one_of(
            markup_piece.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=8)
        ),
        st.integers(0, 2_000),
    ),
    min_size=1,
    max_size=6,
)


def _damage(body: bytes, changes: list[tuple[float, bytes, int]]) -> bytes:
    for where, insert, cut in changes:
        at = int(where * len(body))
        body = body[:at] + insert + body[at + cut :]
    return body


def test_the_real_pages_are_there() -> None:
    assert len(REAL_PAGES) >= 20, f"fixtures missing under {FIXTURES}"


@given(st.sampled_from(REAL_PAGES), edits)
# Found by the long profile: a control character before a dropped element made lxml refuse
# the text the phpBB preset put back.
@example("real-sites/ptforum__phpbb2__viewtopic.php_start=0_t=805.html", [(0.375, b"\x01", 0)])
# ... and a 30-digit number in a vBulletin date made dateutil raise decimal.InvalidOperation.
@example(
    "real-sites/NetTally__vBulletin3.html",
    [(0.0, b"<div>", 612), (0.6467389275549734, b"9" * 30, 0)],
)
def test_every_parser_survives_a_damaged_real_page(name: str, changes: list) -> None:
    body = _damage(_page(name), changes)
    if name.endswith((".rss", ".atom")):
        for follow in (True, False):
            _items(_spider(FeedSpider, follow_entries=follow), _r(Response, f"{HOST}/f", body))
    elif name.startswith("real-telegram/"):
        spider = _spider(TelegramSpider, start_urls=[f"{HOST}/s/chan"])
        _items(spider, _r(HtmlResponse, f"{HOST}/s/chan", body))
        _items(spider, _r(HtmlResponse, f"{HOST}/chan/1?embed=1", body))
    else:
        for engine in (None, "phpbb", "vbulletin", "xenforo", "smf"):
            _items(_spider(ListingSpider, engine=engine), _r(HtmlResponse, f"{HOST}/t", body))
