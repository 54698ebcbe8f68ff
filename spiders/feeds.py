"""Feeds (RSS 2.0, Atom) and sitemaps, following entries to their pages."""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap
from twisted.python.failure import Failure

from spiders.base import SourceSpider
from spiders.extract import canonicalize, join_url, node_text, parse_date
from spiders.listing import page_posts

logger = logging.getLogger(__name__)


def _first(node: Selector, *xpaths: str) -> str | None:
    for xp in xpaths:
        value = node.xpath(xp).get()
        if value and value.strip():
            return value.strip()
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([\w.:-]+)[\"']")


def feed_text(response: Response) -> str:
    """The feed decoded as XML says: its declaration, else a BOM, else UTF-8 when the
    bytes are UTF-8, else the HTTP charset, else Windows-1252 (a superset of ISO-8859-1,
    which old feeds without a declaration use, e.g. "\xdaltimas Not\xedcias")."""
    body = response.body
    declared = _XML_ENCODING.match(body[:200])
    candidates = [declared.group(1).decode("ascii")] if declared else []
    if body.startswith(codecs.BOM_UTF8):
        return body[3:].decode("utf-8", "replace")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", "replace")
    candidates.append("utf-8")
    header = (response.headers.get("Content-Type") or b"").decode("latin-1")
    if (charset := re.search(r"charset=([\w.:-]+)", header)) is not None:
        candidates.append(charset.group(1))
    for encoding in candidates:
        try:
            text = body.decode(encoding)
        except (LookupError, UnicodeError):  # UnicodeError: the "undefined" or "idna" codecs
            continue
        if not _SURROGATE.search(text):  # UTF-7 can decode to lone surrogates: not this one
            return text
    return body.decode("cp1252", "replace")


def _markup(node: Selector, *names: str) -> str | None:
    """An entry's text element as HTML: its CDATA/escaped text, or, when a feed puts raw
    HTML elements inside (reddit's ``<description><table>``), those elements."""
    for name in names:
        found = node.xpath(name)
        if not found:
            continue
        inner = "".join(found[0].xpath("node()").getall()).strip()
        if inner:
            return inner
    return None


def _html_text(fragment: str | None) -> str:
    if not fragment:
        return ""
    sel = Selector(text=f"<div>{fragment}</div>")
    return node_text(sel.css("div")[0])


class FeedSpider(SourceSpider):
    """Every entry of an RSS 2.0 or Atom feed; with ``follow_entries`` the post text comes
    from the entry's page (the feed's summary when the page cannot be fetched)."""

    name = "feed"
    kind = "feed"

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        sel = Selector(text=feed_text(response), type="xml")
        sel.remove_namespaces()
        entries = sel.xpath("//item | //entry")
        if not entries:
            logger.warning(
                "source %s: %s is not an RSS or Atom feed", self.source.name, response.url
            )
            self.crawler.stats.inc_value("signalering/not_a_feed")
        for entry in entries:
            link = _first(
                entry,
                "link[@rel='alternate']/@href",
                "link[not(@rel)]/@href",
                "link/text()",
                "link/@href",
            )
            info = {
                "entry_id": _first(entry, "guid/text()", "id/text()") or link,
                "entry_title": _html_text(_markup(entry, "title")) or None,
                "entry_date": _first(
                    entry, "pubDate/text()", "published/text()", "updated/text()", "date/text()"
                ),
                "entry_author": _first(
                    entry, "author/name/text()", "creator/text()", "author/text()"
                ),
                "entry_summary": _markup(entry, "encoded", "content")
                or _markup(entry, "description", "summary"),
            }
            link = join_url(response.url, link)
            if link and self.source.follow_entries:
                yield scrapy.Request(
                    link, callback=self.parse_page, errback=self.entry_failed, meta=info
                )
            else:
                yield self._entry_post(response, link or response.url, info)

    def _entry_post(self, response: Response | None, link: str, info: dict[str, Any]) -> Any:
        url = canonicalize(link, self.source.query_allowlist)
        return self.post(
            response,
            url=url,
            post_id=info["entry_id"] or url,
            text=_html_text(info["entry_summary"]),
            posted_at=parse_date(info["entry_date"], tz=self.source.timezone),
            author=info["entry_author"],
            extras={"title": info["entry_title"]},
        )

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        posts = page_posts(self, response, self.source.item)
        for post in posts:
            if not self.source.item:
                post.extras["title"] = response.meta.get("entry_title") or post.extras.get("title")
                post.posted_at = post.posted_at or parse_date(
                    response.meta.get("entry_date"), tz=self.source.timezone
                )
            yield post

    def entry_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        logger.info(
            "entry page %s not fetched (%s); using the feed summary", request.url, failure.value
        )
        if request.meta.get("entry_summary"):
            yield self._entry_post(None, request.url, request.meta)


class SitemapSpider(SourceSpider):
    """Every page listed in a sitemap (or sitemap index, or robots.txt ``Sitemap:`` lines)."""

    name = "sitemap"
    kind = "sitemap"

    def start_requests_for_source(self) -> Iterator[scrapy.Request]:
        for url in self.source.start_urls:
            yield scrapy.Request(url, callback=self.parse_sitemap, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self.parse_sitemap(response)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        if response.url.endswith("/robots.txt"):
            # A robots.txt served as application/octet-stream is no TextResponse.
            text = (
                response.text
                if isinstance(response, TextResponse)
                else response.body.decode("utf-8", "replace")
            )
            for line in text.splitlines():  # as sitemap_urls_from_robots, minus bad URLs
                if line.lstrip().lower().startswith("sitemap:"):
                    url = join_url(response.url, line.split(":", 1)[1].strip())
                    if url:
                        yield scrapy.Request(url, callback=self.parse_sitemap)
            return
        body = response.body
        try:
            if body[:2] == b"\x1f\x8b":  # truncated or corrupt gzip raises EOFError, OSError ...
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            sitemap = Sitemap(body)
        except Exception:  # lxml raises several types for non-XML bodies
            logger.warning("source %s: %s is not a sitemap", self.source.name, response.url)
            self.crawler.stats.inc_value("signalering/not_a_sitemap")
            return
        for entry in sitemap:
            loc = join_url(response.url, entry.get("loc"))
            if not loc:
                continue
            if sitemap.type == "sitemapindex":
                yield scrapy.Request(loc, callback=self.parse_sitemap)
            else:
                yield scrapy.Request(
                    loc,
                    callback=self.parse_page,
                    meta={"entry_date": entry.get("lastmod")},
                )

    def parse_page(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from page_posts(self, response, self.source.item)
