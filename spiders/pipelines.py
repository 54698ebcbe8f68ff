"""Item pipelines: drop duplicates, write raw posts to JSONL, and save to the store."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem, NotConfigured

from spiders.extract import canonicalize
from spiders.items import PostItem, SourceItem
from spiders.journal import batch_saved

logger = logging.getLogger(__name__)


# Markup drift: a site changed its markup and the spider quietly reads empty texts.
DRIFT_MIN_POSTS = 5  # below this, a few photo-only posts are no signal
DRIFT_EMPTY_SHARE = 0.5  # more than half the posts without text


def drift_warnings(stats: dict[str, Any]) -> list[str]:
    """The markup-drift findings in one crawl's stats (empty when none)."""
    found = []
    seen = stats.get("signalering/posts_seen", 0)
    empty = stats.get("signalering/posts_without_text", 0)
    if seen >= DRIFT_MIN_POSTS and empty > seen * DRIFT_EMPTY_SHARE:
        found.append(
            f"markup drift: {empty} of {seen} posts have no text — the page markup may have changed"
        )
    before = stats.get("signalering/posts_before")
    if not seen and before:
        found.append(
            f"markup drift: no posts found, the last crawl with posts found {before} — the "
            "page markup may have changed"
        )
    return found


def content_hash(text: str) -> str:
    """Same hash as ``signalering.post.Post.content_hash``."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class TextCapPipeline:
    """Store at most ``SIGNALERING_MAX_TEXT_CHARS`` of a post's text (``limits.crawl_text_chars``).

    A longer text is cut there and marked ``truncated: true`` (in the JSONL record, the
    store and the review page), and counted in ``signalering/posts_truncated``. Pages
    themselves are bounded before this by ``DOWNLOAD_MAXSIZE``.
    """

    def __init__(self, max_chars: int, stats: Any) -> None:
        self.max_chars = max_chars
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TextCapPipeline:
        return cls(crawler.settings.getint("SIGNALERING_MAX_TEXT_CHARS", 1_000_000), crawler.stats)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PostItem) and len(item.text) > self.max_chars:
            logger.warning(
                "post %s/%s: text of %d characters stored capped at %d (limits.crawl_text_chars)",
                item.source,
                item.post_id,
                len(item.text),
                self.max_chars,
            )
            item.text = item.text[: self.max_chars]
            item.extras["truncated"] = True
            self.stats.inc_value("signalering/posts_truncated")
        return item


def carried_settings(crawler: Crawler) -> Any:
    """signalering's ``Settings`` the crawl carries in ``SIGNALERING_SETTINGS``."""
    from signalering.config import Settings
    from signalering.errors import ConfigError

    carried = crawler.settings.get("SIGNALERING_SETTINGS")
    if not carried:
        # Never the default configuration in its place: a store filled with another
        # model, threshold or pseudonym key than the user chose is worse than no crawl.
        raise ConfigError(
            "SIGNALERING_STORE is set but SIGNALERING_SETTINGS is not — crawl with "
            "`signalering crawl` (or spiders.run.crawl), which passes the configuration"
        )
    if isinstance(carried, Settings):
        return carried
    try:
        return Settings.model_validate_json(carried)
    except ValueError as exc:
        raise ConfigError(f"SIGNALERING_SETTINGS is not signalering's Settings: {exc}") from exc


class DedupPipeline:
    """Drop a post already yielded in this crawl: same (source, post_id), or the same
    canonical URL with the same text (one page reached through two URLs)."""

    def __init__(self, stats: Any, crawler: Crawler | None = None) -> None:
        self.stats = stats
        self.crawler = crawler
        self.ids: set[tuple[str, str]] = set()
        self.pages: set[tuple[str, str]] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupPipeline:
        return cls(crawler.stats, crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PostItem):
            return item
        self.stats.inc_value("signalering/posts_seen")
        if not item.text.strip():
            self.stats.inc_value("signalering/posts_without_text")
        key = (item.source, item.post_id)
        # The fragment names a post within a page: two posts of one thread page with the
        # same text (a forum double post) are two posts, not one page reached twice.
        fragment = item.url.partition("#")[2]
        page = (
            canonicalize(item.url) + (f"#{fragment}" if fragment else ""),
            content_hash(item.text),
        )
        if key in self.ids or page in self.pages:
            self.stats.inc_value("signalering/duplicates")
            raise DropItem(f"duplicate post {item.source}/{item.post_id}")
        self.ids.add(key)
        self.pages.add(page)
        return item

    def close_spider(self) -> None:
        """Report markup drift (this pipeline closes last, after the store's look back)."""
        warnings = drift_warnings(self.stats.get_stats())
        spider = self.crawler.spider if self.crawler else None
        source = getattr(getattr(spider, "source", None), "name", "?")
        for warning in warnings:
            logger.warning("source %s: %s", source, warning)
        if warnings:
            self.stats.set_value("signalering/drift", warnings)


class JsonlPipeline:
    """Append raw posts to a JSONL file (``SIGNALERING_OUTPUT``), one flushed line each.

    Posts already in the file with the same text are not written again, so a resumed or
    repeated crawl into the same file adds only new and edited posts."""

    def __init__(self, path: Path, stats: Any) -> None:
        self.path = path
        self.stats = stats
        self.known: dict[tuple[str, str], str] = {}
        self.fh: Any = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> JsonlPipeline:
        output = crawler.settings.get("SIGNALERING_OUTPUT")
        if not output:
            raise NotConfigured
        return cls(Path(output), crawler.stats)

    def open_spider(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut short by a killed crawl
                    key = (str(rec.get("source")), str(rec.get("post_id")))
                    self.known[key] = content_hash(rec.get("text") or "")
        self.fh = self.path.open("a", encoding="utf-8")
        if self.fh.tell() and not self.path.read_bytes().endswith(b"\n"):
            self.fh.write("\n")  # do not glue onto a half-written line

    def close_spider(self) -> None:
        if self.fh:
            self.fh.close()

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, PostItem):
            return item
        key = (item.source, item.post_id)
        digest = content_hash(item.text)
        old = self.known.get(key)
        if old == digest:
            self.stats.inc_value("signalering/posts_unchanged")
            return item
        self.stats.inc_value(
            "signalering/posts_new" if old is None else "signalering/posts_updated"
        )
        self.known[key] = digest
        self.fh.write(json.dumps(item.to_record(), ensure_ascii=False) + "\n")
        self.fh.flush()
        return item


class StorePipeline:
    """Save posts to the store in batches, after the analysis stages when scoring is on.

    Enabled by ``SIGNALERING_STORE``. Everything else comes from ``SIGNALERING_SETTINGS``,
    signalering's ``Settings`` as the crawl was started with them (``spiders.run.crawl``):
    the store, the pseudonym key and, unless ``SIGNALERING_SCORE=False``, the stages."""

    def __init__(
        self,
        config: Any,
        *,
        crawler: Crawler,
        score: bool,
        batch_size: int,
        batch_chars: int = 2_000_000,
    ) -> None:
        self.config = config
        self.crawler = crawler
        stats = crawler.stats
        self.stats = stats
        self.score = score
        self.batch_size = batch_size
        self.batch_chars = batch_chars
        self.batch: list[Any] = []
        self.chars = 0
        self.store: Any = None
        self.stages: Any = None
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        if not crawler.settings.getbool("SIGNALERING_STORE"):
            raise NotConfigured
        return cls(
            carried_settings(crawler),
            crawler=crawler,
            score=crawler.settings.getbool("SIGNALERING_SCORE", True),
            batch_size=crawler.settings.getint("SIGNALERING_BATCH_SIZE", 50),
            batch_chars=crawler.settings.getint("SIGNALERING_BATCH_CHARS", 2_000_000),
        )

    def open_spider(self) -> None:
        from signalering.store import Store

        config = self.config
        self.store = Store.open(config.database_url, pseudonym_key=config.pseudonym_key())
        self.crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        if self.score:
            from signalering.pipeline import Stages

            # With the store, analyst-confirmed offers join the exemplar bank.
            self.stages = Stages.load(config, store=self.store)
        source = self.crawler.spider.source
        self.store.upsert_source(source.name, source.kind, source.url, {})
        self.run_id = self.store.start_run(source.name)
        self.stats.set_value("signalering/run_id", self.run_id)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, SourceItem):
            self.store.upsert_source(item.name, item.kind, item.url, item.metadata)
            return item
        if isinstance(item, PostItem):
            # A batch ends at its count or its size, so long posts cannot multiply memory.
            if self.batch and self.chars + len(item.text) > self.batch_chars:
                self._flush()
            self.batch.append(item)
            self.chars += len(item.text)
            if len(self.batch) >= self.batch_size:
                self._flush()
        return item

    def _flush(self) -> None:
        if not self.batch:
            return
        from signalering.post import Post

        posts = [
            Post.from_record({**item.to_record(), "id": f"{item.source}:{item.post_id}"})
            for item in self.batch
        ]
        self.batch, self.chars = [], 0
        if self.stages is not None:
            posts = self.stages.process(posts)
        result = self.store.save_posts(posts, run_id=self.run_id)
        self.stats.inc_value("signalering/store_new", result.new)
        self.stats.inc_value("signalering/store_updated", result.updated)
        self.stats.inc_value("signalering/store_unchanged", result.unchanged)
        self.crawler.signals.send_catch_log(signal=batch_saved)

    def close_spider(self) -> None:
        self._flush()
        spider = self.crawler.spider
        if getattr(spider, "status", "ok") == "ok" and not self.stats.get_value(
            "signalering/posts_seen"
        ):
            # No posts this time: did earlier crawls of the source find some?
            for run in self.store.runs(source=spider.source.name, limit=20):
                posts = (run.get("summary") or {}).get("posts") or 0
                if run["id"] != self.run_id and posts:
                    self.stats.set_value("signalering/posts_before", posts)
                    break

    def spider_closed(self, spider: Any, reason: str) -> None:
        """Mark removed posts (only after a complete crawl) and close the run with its summary."""
        try:
            if reason == "finished" and hasattr(spider, "removed_post_ids"):
                stored = [
                    (p.post_id, p.url)
                    for p in self.store.iter_posts(source=spider.source.name)
                    if p.post_id is not None
                ]
                removed = spider.removed_post_ids(stored)
                if removed:
                    n = self.store.mark_removed(spider.source.name, sorted(removed))
                    self.stats.set_value("signalering/removed", n)
        finally:
            if self.run_id is not None:
                self.store.finish_run(self.run_id, self.summary(reason))
            self.store.close()

    def summary(self, reason: str) -> dict[str, Any]:
        """What ``finish_run`` stores for this run."""
        from spiders.run import summarise

        summary = summarise(self.crawler.spider.source, self.crawler, reason=reason)
        record = summary.to_dict()
        record.update(posts_new=summary.new, posts_updated=summary.updated)
        return record
