"""Config-driven listing spider: forums, classifieds and news sites described in sources.yaml."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from parsel import Selector
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import LinkExtractor

from spiders.base import SourceSpider
from spiders.engines import Engine, detect_engine, layout_for, load_engines, read_posts
from spiders.extract import (
    canonicalize,
    extract_value,
    join_url,
    node_text,
    parse_date,
    select,
)
from spiders.items import PostItem
from spiders.sources import ItemRule

logger = logging.getLogger(__name__)


def page_posts(spider: SourceSpider, response: Response, rule: ItemRule | None) -> list[PostItem]:
    """The posts on one page: per ``rule`` (one per container, or one per page), or, with no
    rule, the page's main text as one post (feeds and sitemaps)."""
    if not isinstance(response, TextResponse):
        return []
    source = spider.source
    page_url = _canonical_page(response, source.query_allowlist)
    if rule is None:
        return [_generic_post(spider, response, page_url)]
    containers = select(response, rule.container) if rule.container else [response.selector]
    posts = []
    for index, node in enumerate(containers):
        f = rule.fields
        text = extract_value(node, f.text)
        if not text:
            continue
        post_id = extract_value(node, f.post_id) if f.post_id else None
        link = join_url(response.url, extract_value(node, f.url) if f.url else None)
        if link:
            url = canonicalize(link, source.query_allowlist)
        elif rule.container:
            url = f"{page_url}#{post_id or index}"
        else:
            url = page_url
        extras: dict[str, Any] = {}
        for name in ("title", "price", "location"):
            spec = getattr(f, name)
            if spec:
                extras[name] = extract_value(node, spec)
        posts.append(
            spider.post(
                response,
                url=url,
                post_id=post_id or url,
                text=text,
                author=extract_value(node, f.author) if f.author else None,
                posted_at=parse_date(
                    extract_value(node, f.date) if f.date else None,
                    tz=source.timezone,
                    fmt=source.date_format,
                ),
                extras=extras,
            )
        )
    return posts


def _canonical_page(response: Response, allowlist: list[str] | None) -> str:
    declared = join_url(response.url, response.css('link[rel="canonical"]::attr(href)').get())
    return canonicalize(declared or response.url, allowlist)


def _generic_post(spider: SourceSpider, response: Response, page_url: str) -> PostItem:
    main = response.css("article") or response.css("main") or response.css("body")
    text = node_text(main[0]) if main else ""
    title = (
        response.css('meta[property="og:title"]::attr(content)').get()
        or response.css("h1 ::text").get()
        or response.css("title::text").get()
    )
    date = (
        response.css('meta[property="article:published_time"]::attr(content)').get()
        or response.css("time::attr(datetime)").get()
        or response.meta.get("entry_date")
    )
    author = response.css('meta[name="author"]::attr(content)').get() or response.meta.get(
        "entry_author"
    )
    return spider.post(
        response,
        url=page_url,
        post_id=response.meta.get("entry_id") or page_url,
        text=text,
        author=author,
        posted_at=parse_date(date, tz=spider.source.timezone),
        extras={"title": title.strip() if title else None},
    )


def engine_posts(
    spider: SourceSpider, response: TextResponse, engine: Engine
) -> list[PostItem] | None:
    """The posts of a forum topic page read with an engine preset; None when none of the
    engine's layouts fits the page (a board index, a member page)."""
    layout = layout_for(response.selector, engine)
    if layout is None:
        return None
    source = spider.source
    page_url = _canonical_page(response, source.query_allowlist)
    items = []
    for index, post in enumerate(read_posts(response.selector, layout)):
        post_id = post.post_id or str(index)
        items.append(
            spider.post(
                response,
                url=f"{page_url}#{post_id}",
                post_id=post_id,
                text=post.text,
                author=post.author,
                posted_at=parse_date(post.date, tz=source.timezone, dayfirst=layout.dayfirst),
                extras={
                    "title": post.title,
                    "quotes": post.quotes,
                    "engine": f"{engine.name}/{layout.name}",
                },
            )
        )
    return items


class ListingSpider(SourceSpider):
    """Follows a source's link rules and pagination, extracting posts with its selectors,
    or with a forum engine preset (``engine:``, or detected when the source gives no
    ``item`` selectors).

    The first page a selector applies to is checked: a selector that matches nothing is
    reported (log warning and ``signalering/selector_misses`` in the stats)."""

    name = "listing"
    kind = "listing"
    # A detail page that now answers 404/410 marks its post as removed.
    handle_httpstatus_list = [404, 410]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        src = self.source
        self.extractors = [
            LinkExtractor(
                allow=rule.allow,
                deny=rule.deny,
                restrict_css=rule.restrict_css or (),
            )  # off-site links are dropped by Scrapy's OffsiteMiddleware (allowed_domains)
            for rule in src.follow
        ]
        self.item_pattern = (
            re.compile(src.item.url_pattern) if src.item and src.item.url_pattern else None
        )
        self.checked_items = False
        self.checked_pagination = False
        # Engine presets: when the source names one, or gives no selectors at all.
        self.use_engine = src.engine is not None or src.item is None
        self.engine: Engine | None = load_engines()[src.engine] if src.engine else None
        self.pagination = src.pagination
        if self.engine is not None:
            self._adopt(self.engine)

    def _adopt(self, engine: Engine) -> None:
        """Take the engine's follow rules and pagination where the source gives none."""
        self.engine = engine
        if not self.source.follow:
            self.extractors = [
                LinkExtractor(
                    allow=rule.allow, deny=rule.deny, restrict_css=rule.restrict_css or ()
                )
                for rule in engine.follow
            ]
        self.pagination = self.source.pagination or engine.pagination

    def _detect(self, response: TextResponse) -> None:
        found = detect_engine(response.selector)
        if found is None:
            logger.warning(
                "source %s: no forum engine preset (phpbb, vbulletin, xenforo, smf) fits %s "
                "— set `engine:` or give `item:` selectors in sources.yaml",
                self.source.name,
                response.url,
            )
            misses = self.crawler.stats.get_value("signalering/selector_misses") or []
            self.crawler.stats.set_value(
                "signalering/selector_misses", [*misses, "engine: not detected"]
            )
            self.use_engine = False  # report once; nothing to read without selectors
            return
        name, layout = found
        logger.info(
            "source %s: detected forum engine %s (layout %s) on %s",
            self.source.name,
            name,
            layout,
            response.url,
        )
        self.crawler.stats.set_value("signalering/engine", f"{name}/{layout}")
        self._adopt(load_engines()[name])

    def _report_miss(self, what: str, spec: str, url: str) -> None:
        logger.warning(
            "source %s: selector %s %r matches nothing on %s — check it in sources.yaml",
            self.source.name,
            what,
            spec,
            url,
        )
        misses = self.crawler.stats.get_value("signalering/selector_misses") or []
        self.crawler.stats.set_value("signalering/selector_misses", [*misses, f"{what}: {spec}"])

    def _check_selectors(self, response: TextResponse) -> None:
        rule = self.source.item
        if rule is None:
            return
        self.checked_items = True
        if rule.container and not select(response, rule.container):
            self._report_miss("item.container", rule.container, response.url)
            return
        node = select(response, rule.container)[0] if rule.container else response.selector
        for name, spec in rule.fields.model_dump(exclude_none=True).items():
            if not select(node, spec):
                self._report_miss(f"item.fields.{name}", spec, response.url)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if response.status in (404, 410):
            self.gone_pages.add(canonicalize(response.url, self.source.query_allowlist))
            return
        if not isinstance(response, TextResponse):
            return
        rule = self.source.item
        if self.use_engine and self.engine is None:
            self._detect(response)
        if self.use_engine and self.engine is not None:
            posts = engine_posts(self, response, self.engine)
            if posts is not None:
                self.item_pages.add(_canonical_page(response, self.source.query_allowlist))
                yield from posts
        elif rule and (self.item_pattern is None or self.item_pattern.search(response.url)):
            if not self.checked_items:
                self._check_selectors(response)
            posts = page_posts(self, response, rule)
            self.item_pages.add(_canonical_page(response, self.source.query_allowlist))
            yield from posts
        for extractor in self.extractors:
            for link in extractor.extract_links(response):
                yield scrapy.Request(link.url, callback=self.parse)
        if self.pagination:
            hrefs = [h for h in select(response, self.pagination).getall() if h.strip()]
            hrefs = [
                Selector(text=h).xpath("string(//a/@href)").get() or h if h.startswith("<") else h
                for h in hrefs
            ]
            # A preset's pagination may rightly be absent (a one-page topic).
            first_page = not self.checked_pagination and response.meta.get("hops", 0) == 0
            if not hrefs and first_page and self.source.pagination:
                self._report_miss("pagination", self.pagination, response.url)
            self.checked_pagination = True
            for href in hrefs:
                yield scrapy.Request(
                    response.urljoin(href.strip()), callback=self.parse, meta={"pagination": True}
                )


__all__ = ["ListingSpider", "engine_posts", "page_posts", "node_text"]
