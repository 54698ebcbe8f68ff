"""Run crawls in-process: the library entry behind ``signalering crawl`` and ``run``.

``crawl(load_sources("sources.yaml"), load_config(), store=True)`` crawls with the
configuration given; the spider of each source is the one Scrapy's spider loader finds
under its kind in ``SPIDER_MODULES``. Scrapy runs one Twisted reactor per process: call
:func:`crawl` once per process. ``python -m spiders.run`` is ``signalering crawl --json``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import pickle
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from signalering.config import CrawlSettings
from signalering.config import Settings as Config
from signalering.errors import ConfigError, SourceError
from spiders.pipelines import drift_warnings
from spiders.sources import Source, load_sources, parse_source

logger = logging.getLogger(__name__)


@dataclass
class CrawlSummary:
    """What one source's run did. ``status``: ok, no_public_preview, locked or failed."""

    source: str
    pages: int
    posts: int
    new: int
    updated: int
    errors: int
    duration_s: float
    status: str = "ok"
    finish_reason: str | None = None
    duplicates: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)

    def line(self) -> str:
        """One human line: ``forum: 12 pages, 30 posts (28 new, 2 updated), 0 errors, 3.1 s``."""
        drift = f", {len(self.drift)} markup drift warning(s)" if self.drift else ""
        return (
            f"{self.source}: {self.status}, {self.pages} pages, {self.posts} posts "
            f"({self.new} new, {self.updated} updated), {self.errors} errors, "
            f"{self.duration_s:.1f} s{drift}"
        )


def base_settings() -> Settings:
    """The project's Scrapy settings (spiders/settings.py)."""
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    return settings


def spider_kinds() -> list[str]:
    """The kinds a source may have: the spiders Scrapy's loader finds in ``SPIDER_MODULES``
    (by their ``name``).

    >>> spider_kinds()
    ['feed', 'listing', 'sitemap', 'telegram']
    """
    from scrapy.spiderloader import get_spider_loader

    return sorted(get_spider_loader(base_settings()).list())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "source"


def adhoc_source(
    kind: Literal["telegram", "feed", "sitemap", "listing"],
    url: str | None = None,
    config: Path | None = None,
) -> Source:
    """A Source for a one-off crawl without a sources file.

    >>> adhoc_source("telegram", "http://127.0.0.1:8000/s/news").name
    'telegram-news'
    """
    if kind == "listing":
        if config is None:
            raise SourceError("--kind listing needs --config site.yaml describing the site")
        sources = load_sources(config)
        if len(sources) != 1:
            raise SourceError(
                f"{config}: holds {len(sources)} sources — give one, or use --sources"
            )
        return sources[0]
    kinds = spider_kinds()
    if kind not in kinds:
        raise SourceError(f"unknown kind {kind!r} — use {', '.join(kinds)}")
    if not url:
        raise SourceError(f"--kind {kind} needs --url URL")
    parts = urlsplit(url)
    data: dict[str, Any] = {"kind": kind, "start_urls": [url]}
    if kind == "telegram":
        channel = parts.path.removeprefix("/s/").strip("/").split("/")[0]
        embed = re.fullmatch(r"/[\w.-]+/\d+/?", parts.path) and "embed=1" in parts.query
        if not (parts.path.startswith("/s/") or embed) or not channel:
            raise SourceError(
                f"{url} is not a channel preview URL — use https://t.me/s/CHANNEL "
                "(or https://t.me/CHANNEL/ID?embed=1 for one post)"
            )
        data.update(name=_slug(f"telegram-{channel}"), query_allowlist=["before"], max_pages=1000)
    else:
        data.update(name=_slug(f"{kind}-{parts.netloc}"))
    return parse_source(data, origin=f"--url {url}")


@contextlib.contextmanager
def source_lock(lock_dir: Path, name: str) -> Iterator[bool]:
    """Hold an exclusive, non-blocking lock for ``name``; yields False if another run has it."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"{name}.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _configure(s: Settings, source: Source, crawl: CrawlSettings) -> None:
    if source.download_delay is not None:
        s.set("DOWNLOAD_DELAY", source.download_delay, priority="spider")
    s.set("CONCURRENT_REQUESTS_PER_DOMAIN", source.concurrency, priority="spider")
    s.set("USER_AGENT", user_agent(source, crawl), priority="spider")


def user_agent(source: Source, crawl: CrawlSettings) -> str:
    """The user agent a source is crawled with: the source's or ``crawl.user_agent``, with
    the source's or ``crawl.contact`` in brackets.

    >>> user_agent(adhoc_source("feed", "http://a.example/rss"), CrawlSettings(
    ...     user_agent="bot/1", contact="mailto:ops@example.org"))
    'bot/1 (mailto:ops@example.org)'
    """
    agent = source.user_agent or crawl.user_agent
    contact = source.contact or crawl.contact
    if contact and contact not in agent:
        agent = f"{agent} ({contact})"
    return agent


def summarise(
    source: Source, crawler: Crawler, *, started: float | None = None, reason: str | None = None
) -> CrawlSummary:
    """The summary of one crawler's run, from its own stats."""
    stats = dict(crawler.stats.get_stats()) if crawler.stats else {}
    if reason and "finish_reason" not in stats:
        stats["finish_reason"] = reason
    if "elapsed_time_seconds" not in stats and stats.get("start_time"):
        from datetime import UTC, datetime

        start = stats["start_time"]
        now = datetime.now(UTC) if start.tzinfo else datetime.now()
        stats["elapsed_time_seconds"] = (now - start).total_seconds()
    spider = crawler.spider
    status = getattr(spider, "status", "ok") if spider else "failed"
    store = "signalering/run_id" in stats
    posts = stats.get("signalering/posts_seen", 0) - stats.get("signalering/duplicates", 0)
    if store:
        new, updated = (
            stats.get("signalering/store_new", 0),
            stats.get("signalering/store_updated", 0),
        )
    elif "signalering/posts_new" in stats or "signalering/posts_unchanged" in stats:
        new, updated = (
            stats.get("signalering/posts_new", 0),
            stats.get("signalering/posts_updated", 0),
        )
    else:
        new, updated = posts, 0
    # Counted from this crawler's own stats: log_count/ERROR is shared by every crawler
    # in the process.
    too_big = sum(
        v
        for k, v in stats.items()
        if k.startswith("downloader/exception_type_count/") and "Cancelled" in k
    )
    ignored = sum(
        v
        for k, v in stats.items()
        if k.startswith("downloader/exception_type_count/") and "IgnoreRequest" in k
    )
    errors = (
        stats.get("downloader/exception_count", 0)
        - too_big
        - ignored
        + stats.get("spider_exceptions/count", 0)
        + stats.get("signalering/errors", 0)
        + sum(v for k, v in stats.items() if k.startswith("downloader/response_status_count/5"))
    )
    skipped = {
        key.removeprefix("signalering/"): value
        for key, value in stats.items()
        if key.startswith(("signalering/skipped", "signalering/dropped"))
    }
    robots = stats.get("robotstxt/forbidden", 0)
    if robots:
        skipped["robots_forbidden"] = robots
    if too_big:
        skipped["too_large"] = too_big
    if status == "ok" and stats.get("finish_reason") != "finished":
        status = "failed"  # stopped early, or never finished (the engine failed to open)
    return CrawlSummary(
        source=source.name,
        pages=stats.get("response_received_count", 0),
        posts=posts,
        new=new,
        updated=updated,
        errors=errors,
        duration_s=round(
            stats.get("elapsed_time_seconds") or (time.monotonic() - (started or time.monotonic())),
            3,
        ),
        status=status,
        finish_reason=stats.get("finish_reason"),
        duplicates=stats.get("signalering/duplicates", 0),
        skipped=skipped,
        warnings=list(stats.get("signalering/selector_misses", [])),
        drift=list(stats.get("signalering/drift") or drift_warnings(stats)),
        metadata=dict(stats.get("signalering/source_metadata") or {}),
        run_id=stats.get("signalering/run_id"),
    )


class _OneLineDownloadErrors(logging.Filter):
    """A page the site did not deliver (refused, unknown host, timeout, cut off) is one
    log line with the reason, not a traceback: the site's trouble, not a bug of ours.
    Any other download error keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.exc_info
            and isinstance(record.msg, str)
            and record.msg.startswith("Error downloading")
            and isinstance(record.args, dict)
            and isinstance(record.exc_info[1], _NETWORK_ERRORS)
        ):
            if "errmsg" not in record.args:  # the long form names the reason already
                error = record.exc_info[1]
                record.args = {**record.args, "reason": f"{type(error).__name__}: {error}"}
                record.msg = f"{record.msg}: %(reason)s"
            record.exc_info = None
            record.exc_text = None
        return True


def _network_errors() -> tuple[type[BaseException], ...]:
    from scrapy import exceptions as scrapy_errors
    from twisted.internet import error as twisted_errors
    from twisted.web._newclient import ResponseFailed

    return (
        OSError,
        ResponseFailed,
        twisted_errors.ConnectError,
        twisted_errors.ConnectionLost,
        twisted_errors.DNSLookupError,
        twisted_errors.TimeoutError,
        scrapy_errors.CannotResolveHostError,
        scrapy_errors.DownloadConnectionRefusedError,
        scrapy_errors.DownloadFailedError,
        scrapy_errors.DownloadTimeoutError,
        scrapy_errors.ResponseDataLossError,
    )


_NETWORK_ERRORS = _network_errors()


def _drop_broken_state(jobdir: Path) -> None:
    """Remove a ``spider.state`` that cannot be read. A crawl that failed before its
    spider opened leaves the file empty, and Scrapy then fails on it at every later run
    of the source (our spiders keep no state in it)."""
    path = jobdir / "spider.state"
    try:
        with path.open("rb") as fh:
            pickle.load(fh)  # noqa: S301 - our own job folder, as Scrapy itself reads it
    except FileNotFoundError:
        return
    except Exception as exc:  # noqa: BLE001 - any unreadable state is dropped
        logger.warning("removed unreadable %s (%s) left by an earlier crawl", path, exc)
        path.unlink(missing_ok=True)


_ONE_LINE = _OneLineDownloadErrors()


def crawl(
    sources: list[Source],
    config: Config,
    *,
    output: Path | None = None,
    store: bool = False,
    score: bool = True,
    jobdir: Path | None = None,
    settings: dict | None = None,
    progress: bool = False,
    distributed: bool = False,
    run_key: str | None = None,
) -> list[CrawlSummary]:
    """Crawl ``sources`` in this process with ``config`` and return one summary per source.

    ``config`` (signalering's ``Settings``) is the one carrier of the configuration: it
    goes to Scrapy whole, as the setting ``SIGNALERING_SETTINGS``, and the store pipeline
    rebuilds it, so posts are scored with its model, threshold and similarity settings and
    pseudonymised with its key. The user agent is ``crawl.user_agent`` (and
    ``crawl.contact``) unless a source names its own.

    Posts go to ``output`` (JSONL, appended; posts already in it are not repeated) and/or,
    with ``store``, to the store at ``config.database_url`` (analysed first when ``score``).
    ``jobdir`` holds one Scrapy JOBDIR and lock per source, so a killed crawl resumes and
    two runs of one source never overlap. ``settings`` overrides Scrapy settings last.

    ``distributed`` shares the crawl through ``crawl.redis_url`` (``spiders.distributed``):
    every process started with the same ``run_key`` shares one Redis queue and seen set
    per source, and the queue in Redis (not a JOBDIR or a lock) carries a killed run on.
    """
    from spiders.distributed import (
        check_redis,
        default_run_key,
        key_prefix,
        redis_settings,
        shared_politeness,
    )

    redis_url = None
    if distributed:
        redis_url = config.crawl.redis_url
        if not redis_url:
            raise ConfigError(
                "a distributed crawl needs the shared Redis — set crawl.redis_url or "
                "SIGNALERING_CRAWL_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
            )
        check_redis(redis_url)
        run_key = run_key or default_run_key()
        jobdir = None
    if store:
        # Reach (and migrate) the store and read the pseudonym key before Scrapy starts:
        # inside the crawl an unreachable database is tracebacks in the log and a run
        # that looks finished.
        from signalering.store import Store

        Store.open(config.database_url).close()
        config.pseudonym_key()  # created once under paths.home when not configured
    base = base_settings()
    base.set("SIGNALERING_SETTINGS", config.model_dump_json(), priority="cmdline")
    if output is not None:
        base.set("SIGNALERING_OUTPUT", str(output), priority="cmdline")
    base.set("SIGNALERING_STORE", store, priority="cmdline")
    base.set("SIGNALERING_SCORE", score, priority="cmdline")
    if progress:
        base.set("LOGSTATS_INTERVAL", 10.0, priority="cmdline")
    # A caller that configured logging (the signalering CLI) keeps its levels:
    # Scrapy's own root handler would print every request at DEBUG, and its
    # logging config sets the 'scrapy' logger to DEBUG.
    caller_logs = bool(logging.getLogger().handlers)
    base.set("LOG_INSTALL_ROOT_HANDLER", not caller_logs, priority="cmdline")
    process = CrawlerProcess(base)
    for name in ("scrapy.core.scraper", "scrapy.downloadermiddlewares.robotstxt"):
        if _ONE_LINE not in logging.getLogger(name).filters:
            logging.getLogger(name).addFilter(_ONE_LINE)
    if caller_logs:
        level = max(logging.getLogger().getEffectiveLevel(), logging.INFO)
        logging.getLogger("scrapy").setLevel(level)
    lock_dir = Path(jobdir) if jobdir else config.paths.home / "locks"
    summaries: list[CrawlSummary] = []
    running: list[tuple[Source, Crawler]] = []
    with contextlib.ExitStack() as stack:
        for source in sources:
            if not source.enabled:
                continue
            if not redis_url and not stack.enter_context(source_lock(lock_dir, source.name)):
                logger.warning("source %s is already being crawled — skipped this run", source.name)
                summaries.append(CrawlSummary(source.name, 0, 0, 0, 0, 0, 0.0, status="locked"))
                continue
            # The spider is the one Scrapy's loader finds under this name in SPIDER_MODULES.
            crawler = process.create_crawler(source.kind)
            _configure(crawler.settings, source, config.crawl)
            if jobdir:
                _drop_broken_state(Path(jobdir) / source.name)
                crawler.settings.set("JOBDIR", str(Path(jobdir) / source.name), priority="cmdline")
            if redis_url:
                shared = redis_settings(
                    redis_url,
                    key_prefix(str(run_key), source.name),
                    concurrency=crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 2),
                )
                for key, value in shared.items():
                    crawler.settings.set(key, value, priority="cmdline")
            for key, value in (settings or {}).items():
                crawler.settings.set(key, value, priority="cmdline")
            if redis_url:
                for key, value in shared_politeness(crawler.settings).items():
                    crawler.settings.set(key, value, priority="cmdline")
            process.crawl(crawler, source=source)
            running.append((source, crawler))
        started = time.monotonic()
        if running:
            process.start()
        for source, crawler in running:
            summaries.append(summarise(source, crawler, started=started))
    return summaries


def main(argv: list[str] | None = None) -> None:
    """``python -m spiders.run ARGS``: an alias of ``signalering crawl --json ARGS`` (the one
    door to crawling, with its options, configuration and exit codes)."""
    from signalering.cli import main as cli_main

    sys.argv = ["signalering", "crawl", "--json", *(sys.argv[1:] if argv is None else argv)]
    cli_main()


if __name__ == "__main__":
    main()
