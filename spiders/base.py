"""The base every signalering spider shares: how it gets its Source and starts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.utils.job import job_dir

from signalering.errors import SourceError
from spiders.extract import now_iso
from spiders.items import PostItem
from spiders.journal import pending_requests
from spiders.sources import Source, load_sources

logger = logging.getLogger(__name__)


class SourceSpider(scrapy.Spider):
    """A spider driven by one :class:`~spiders.sources.Source`.

    In-process (``spiders.run.crawl``) the Source object is passed as ``source``. From the
    command line: ``scrapy crawl KIND -a sources=sources.yaml -a source=NAME`` or ad hoc
    ``scrapy crawl telegram -a url=http://HOST/s/CHANNEL``.
    """

    kind: str = ""

    def __init__(
        self,
        source: Source | str | None = None,
        sources: str | None = None,
        url: str | None = None,
        config: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = self._resolve(source, sources, url, config)
        self.allowed_domains = list(self.source.allowed_domains)
        # For removal detection: pages whose posts we read in full, and what we found there.
        self.item_pages: set[str] = set()
        self.gone_pages: set[str] = set()
        self.emitted_ids: set[str] = set()

    def _resolve(
        self, source: Source | str | None, sources: str | None, url: str | None, config: str | None
    ) -> Source:
        if isinstance(source, Source):
            return source
        if sources or config:
            found = load_sources(Path(sources or config or ""))
            if source is None and len(found) == 1:
                return found[0]
            for item in found:
                if item.name == source:
                    return item
            raise SourceError(f"{sources or config}: no source named {source!r} — check -a source")
        if url:
            from spiders.run import adhoc_source

            return adhoc_source(self.kind, url)  # type: ignore[arg-type]
        raise SourceError(f"spider {self.name}: give -a url=URL or -a sources=FILE -a source=NAME")

    def removed_post_ids(self, stored: Iterable[tuple[str, str | None]]) -> set[str]:
        """Of the stored ``(post_id, url)`` pairs, those this crawl shows to be gone: their page
        was read in full (or answered 404/410) and no longer holds them."""
        removed = set()
        for post_id, url in stored:
            page = (url or "").split("#", 1)[0]
            if post_id in self.emitted_ids:
                continue
            if page in self.gone_pages or (page in self.item_pages and "#" in (url or "")):
                removed.add(post_id)
        return removed

    def post(self, response: scrapy.http.Response | None, **fields: Any) -> PostItem:
        """A PostItem of this source, stamped with the fetch time."""
        extras = fields.pop("extras", {}) or {}
        self.emitted_ids.add(str(fields.get("post_id")))
        return PostItem(
            source=self.source.name, kind=self.kind, fetched_at=now_iso(), extras=extras, **fields
        )

    def start_requests_for_source(self) -> Iterator[scrapy.Request]:
        """The first requests of a fresh crawl."""
        for url in self.source.start_urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    async def start(self) -> AsyncIterator[Any]:
        jobdir = job_dir(self.crawler.settings)
        resumed = pending_requests(Path(jobdir), self) if jobdir else []
        if jobdir and not resumed and (Path(jobdir) / "requests.queue" / "active.json").exists():
            return  # a graceful pause: Scrapy's own queue carries on
        for request in resumed or self.start_requests_for_source():
            yield request
