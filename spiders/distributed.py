"""Distributed crawling: several crawler processes share one Redis scheduler and dupefilter.

Switched on by ``signalering crawl --distributed`` (Redis from ``crawl.redis_url`` or
``SIGNALERING_CRAWL_REDIS_URL``) or ``python -m spiders.run --redis-url URL``. Every node
of one run uses the same key prefix ``signalering:<run key>:<source>``: the request queue
(``scrapy_redis.scheduler.Scheduler``) and the seen-requests set
(``scrapy_redis.dupefilter.RFPDupeFilter``) live under it, so each URL is fetched by one
node once; each node writes its posts to the shared PostgreSQL store, whose unique
``(source, post_id)`` index keeps each post stored once.

Politeness is shared too: in a distributed run the per-site delay (the source's
``DOWNLOAD_DELAY``) is kept in Redis under ``signalering:polite:<host>`` by
``SharedPoliteness``, so N nodes together send one request per delay to a site, not N;
each node's own delay and AutoThrottle are off (they would only see a part of the traffic).

A node stays up while the shared queue holds requests or another node is still fetching
(it may yield more), and closes after ``SIGNALERING_REDIS_IDLE_CLOSE`` idle seconds.
The keys expire ``SIGNALERING_REDIS_TTL`` seconds after a node closes; reusing a run key
within that time continues the run (nothing is fetched twice), a new key starts afresh.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured

from signalering.errors import ConfigError

logger = logging.getLogger(__name__)

REDIS_URL_ENV = "SIGNALERING_CRAWL_REDIS_URL"
DEFAULT_IDLE_CLOSE = 10.0
DEFAULT_TTL = 7 * 24 * 3600
_BUSY_TTL = 15  # seconds a node counts as busy after its last fetch
_POLL_S = 0.5


def default_run_key() -> str:
    """The run key when none is given: today's UTC date, shared by nodes started today."""
    return datetime.now(UTC).strftime("%Y%m%d")


def key_prefix(run_key: str, source: str) -> str:
    """``signalering:<run key>:<source>``: every Redis key of one source in one run."""
    return f"signalering:{run_key}:{source}"


def redis_settings(redis_url: str, prefix: str, *, concurrency: int = 2) -> dict[str, Any]:
    """Scrapy settings for one source's crawler in a distributed run.

    A node takes from the shared queue only as many requests as it fetches at once
    (``concurrency``), leaving the rest to the other nodes.
    """
    return {
        "CONCURRENT_REQUESTS": concurrency,
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:dupefilter",
        # One node finishing must not wipe the queue and seen set the others still use.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        "SIGNALERING_REDIS_PREFIX": prefix,
    }


def shared_politeness(settings: Any) -> dict[str, Any]:
    """Settings that move a crawler's per-site delay from the node into Redis.

    Called on the crawler's final settings (after any ``-s`` overrides): the delay it
    would have used becomes the shared one, and the node's own delay is switched off.
    """
    return {
        "SIGNALERING_SHARED_DELAY": settings.getfloat("DOWNLOAD_DELAY"),
        "DOWNLOAD_DELAY": 0,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "AUTOTHROTTLE_ENABLED": False,
    }


def politeness_key(url: str) -> str:
    """``signalering:polite:<host[:port]>``: one per site, shared by every run and source."""
    return f"signalering:polite:{urlsplit(url).netloc.lower()}"


def _masked(redis_url: str) -> str:
    """``redis_url`` with any password hidden, for messages."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    host = parts.netloc.rsplit("@", 1)[-1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()


def check_redis(redis_url: str, *, timeout: float = 5.0) -> None:
    """Raise a one-line ConfigError unless the shared Redis at ``redis_url`` answers.

    Checked before a distributed crawl starts: inside Scrapy an unreachable Redis is a
    page of tracebacks from the scheduler, and the run looked finished with 0 pages.
    """
    import redis

    where = f"the shared Redis {_masked(redis_url)} (crawl.redis_url)"
    try:
        server = redis.Redis.from_url(
            redis_url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    except ValueError as exc:
        raise ConfigError(f"{where} is not a Redis URL ({exc}) — use redis://HOST:PORT/DB") from exc
    try:
        server.ping()
    except redis.RedisError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot reach {where}: {reason} — is Redis running? "
            "check crawl.redis_url or SIGNALERING_CRAWL_REDIS_URL"
        ) from exc
    finally:
        server.close()


def delete_run(redis_url: str, run_key: str) -> int:
    """Delete every Redis key of a run (all its sources); returns how many."""
    import redis

    server = redis.Redis.from_url(redis_url)
    try:
        keys = list(server.scan_iter(match=f"signalering:{run_key}:*", count=1000))
        return int(server.delete(*keys)) if keys else 0
    finally:
        server.close()


class DistributedStart:
    """Spider middleware: start requests go through the shared dupefilter, so of all the
    nodes only the first fetches a start URL (the spiders mark them ``dont_filter``)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DistributedStart:
        if not crawler.settings.get("SIGNALERING_REDIS_PREFIX"):
            raise NotConfigured
        return cls()

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for item in start:
            if isinstance(item, Request) and item.dont_filter:
                item = item.replace(dont_filter=False)
            yield item

    def process_spider_output(self, response: Any, result: Iterable[Any]) -> Iterable[Any]:
        yield from result

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for item in result:
            yield item


class SharedPoliteness:
    """Downloader middleware: at most one request per ``SIGNALERING_SHARED_DELAY`` seconds
    to a site across all nodes.

    A request may leave only after taking the site's key in Redis (``SET NX PX delay``);
    while another node holds it, the request waits for the key to expire. Sits after the
    robots.txt middleware, so a disallowed URL never takes a turn.
    """

    def __init__(self, server: Any, delay: float) -> None:
        self.server = server
        self.delay_ms = max(1, int(delay * 1000))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedPoliteness:
        settings = crawler.settings
        if not settings.get("SIGNALERING_REDIS_PREFIX"):
            raise NotConfigured
        delay = settings.getfloat("SIGNALERING_SHARED_DELAY", 0.0)
        if delay <= 0:
            raise NotConfigured
        from scrapy_redis.connection import from_settings

        return cls(from_settings(settings), delay)

    async def process_request(self, request: Request, spider: Any = None) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future
        from twisted.internet import reactor, task

        key = politeness_key(request.url)
        while not self.server.set(key, 1, nx=True, px=self.delay_ms):
            left = self.server.pttl(key)
            wait = max(left, 5) / 1000 if left > 0 else 0.005
            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        return None


class SharedIdle:
    """Extension: keep a node open while the run has work anywhere; expire the keys at the end.

    Also switches off removal detection: a node sees only part of a source, and a post it
    did not meet may have been read by another node.
    """

    def __init__(self, crawler: Crawler, server: Any, prefix: str) -> None:
        self.crawler = crawler
        self.server = server
        self.prefix = prefix
        self.node = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.busy_key = f"{prefix}:busy:{self.node}"
        settings = crawler.settings
        self.idle_close = settings.getfloat("SIGNALERING_REDIS_IDLE_CLOSE", DEFAULT_IDLE_CLOSE)
        self.ttl = settings.getint("SIGNALERING_REDIS_TTL", DEFAULT_TTL)
        self.idle_since: float | None = None
        self.last_beat = 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedIdle:
        prefix = crawler.settings.get("SIGNALERING_REDIS_PREFIX")
        if not prefix:
            raise NotConfigured
        from scrapy_redis.connection import from_settings

        ext = cls(crawler, from_settings(crawler.settings), prefix)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.busy, signal=signals.request_reached_downloader)
        crawler.signals.connect(ext.busy, signal=signals.response_received)
        crawler.signals.connect(ext.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def spider_opened(self, spider: Any) -> None:
        from twisted.internet import task

        logger.info("distributed crawl: node %s on %s", self.node, self.prefix)
        if hasattr(spider, "removed_post_ids"):
            spider.removed_post_ids = lambda stored: set()
        self.poller = task.LoopingCall(self._poll)
        self.poller.start(_POLL_S, now=False)

    def _poll(self) -> None:
        """Wake the engine when the shared queue has work (its own heartbeat is 5 s), and
        keep this node's busy mark alive while it waits for responses (a slow site must
        not make the other nodes think the run is over)."""
        engine = self.crawler.engine
        slot = getattr(engine, "_slot", None)
        if slot is None:
            return
        if engine.downloader.active:
            self.busy()
        if self._queued():
            slot.nextcall.schedule()

    def busy(self, *args: Any, **kwargs: Any) -> None:
        self.idle_since = None
        now = time.monotonic()
        if now - self.last_beat >= 1.0:
            self.server.set(self.busy_key, 1, ex=_BUSY_TTL)
            self.last_beat = now

    def _queued(self) -> int:
        key = f"{self.prefix}:requests"
        kind = self.server.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "zset":
            return int(self.server.zcard(key))
        if kind == "list":
            return int(self.server.llen(key))
        return 0

    def _others_busy(self) -> bool:
        return any(
            (k.decode() if isinstance(k, bytes) else k) != self.busy_key
            for k in self.server.scan_iter(match=f"{self.prefix}:busy:*", count=100)
        )

    def spider_idle(self, spider: Any) -> None:
        self.server.delete(self.busy_key)
        self.last_beat = 0.0
        if self._queued() or self._others_busy():
            self.idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_close:
            raise DontCloseSpider
        logger.info(
            "distributed crawl: %s has no work left; node %s closes", self.prefix, self.node
        )

    def spider_closed(self, spider: Any, reason: str) -> None:
        if getattr(self, "poller", None) is not None and self.poller.running:
            self.poller.stop()
        self.server.delete(self.busy_key)
        for name in ("requests", "dupefilter"):
            self.server.expire(f"{self.prefix}:{name}", self.ttl)
