"""Middlewares that keep a crawl bounded and on HTML: URL canonicalisation, a
query-parameter allowlist, max pages and link depth per source, and non-HTML skipping."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Response
from scrapy.linkextractors import IGNORED_EXTENSIONS
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware

from spiders.extract import canonicalize

logger = logging.getLogger(__name__)

_BINARY_SUFFIXES = tuple(f".{ext}" for ext in IGNORED_EXTENSIONS)
_TEXT_TYPES = ("text/html", "application/xhtml", "text/xml", "application/xml", "text/plain")
_FEED_TYPES = ("application/rss", "application/atom", "application/x-gzip", "application/gzip")


class CrawlGuardMiddleware(BaseSpiderMiddleware):
    """Spider middleware: canonical URLs, allowlisted query parameters, a page budget and a
    link-depth bound per source. Pagination requests (``meta["pagination"]``) do not add depth,
    so a long thread is followed to its end while a calendar trap stops at ``max_depth``.

    Scrapy's single-hook base class feeds it every request, from ``start()`` (no response)
    and from the spider's output, in both the sync and the async chain."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.stats = crawler.stats
        self.seen: set[str] = set()

    def get_processed_request(self, request: Request, response: Response | None) -> Request | None:
        if response is None:  # a start request (or one the journal re-issues)
            depth = request.meta.get("hops", 0)
        else:
            hops = response.meta.get("hops", 0)
            depth = hops if request.meta.get("pagination") else hops + 1
        return self._admit(request, self.crawler.spider, depth)

    def _admit(self, request: Request, spider: Spider, depth: int) -> Request | None:
        source = getattr(spider, "source", None)
        if request.url.endswith("robots.txt") or source is None:
            return request
        url = canonicalize(request.url, source.query_allowlist)
        # A start URL is fetched whatever its suffix: feeds are often ``feed.rss``, which
        # Scrapy lists among the binary extensions.
        is_start = request.url in source.start_urls or url in source.start_urls
        if not is_start and urlsplit(url).path.lower().endswith(_BINARY_SUFFIXES):
            self.stats.inc_value("signalering/skipped_binary_link")
            return None
        if depth > source.max_depth:
            self.stats.inc_value("signalering/dropped_max_depth")
            return None
        resumed = request.meta.get("resumed")
        if url in self.seen and not request.dont_filter and not resumed:
            return None
        if len(self.seen) >= source.max_pages and url not in self.seen:
            self.stats.inc_value("signalering/dropped_max_pages")
            return None
        self.seen.add(url)
        request = request if url == request.url else request.replace(url=url)
        request.meta["hops"] = depth
        return request


class ContentTypeMiddleware:
    """Downloader middleware: stop downloads that are not HTML/XML as soon as the headers
    arrive, and drop them (counted in ``signalering/skipped_non_html``)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContentTypeMiddleware:
        mw = cls(crawler.stats)
        crawler.signals.connect(mw.headers_received, signal=signals.headers_received)
        return mw

    @staticmethod
    def _is_text(headers: Any) -> bool:
        ctype = (headers.get(b"Content-Type") or b"text/html").decode("latin-1").lower()
        return ctype.startswith(_TEXT_TYPES + _FEED_TYPES)

    def headers_received(
        self, headers: Any, body_length: int, request: Request, spider: Spider
    ) -> None:
        if not self._is_text(headers):
            raise StopDownload(fail=False)

    def process_response(self, request: Request, response: Response) -> Response:
        if not self._is_text(response.headers):
            self.stats.inc_value("signalering/skipped_non_html")
            logger.debug(
                "skipped non-HTML %s (%s)", response.url, response.headers.get("Content-Type")
            )
            raise IgnoreRequest(f"non-HTML content at {response.url}")
        return response
