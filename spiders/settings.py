"""Scrapy settings for the signalering spiders: polite by default.

Tests and ``signalering crawl`` may lower the delays for 127.0.0.1 through settings;
robots.txt is never switched off.
"""

from __future__ import annotations

from signalering.config import CrawlSettings

BOT_NAME = "signalering"
SPIDER_MODULES = ["spiders.telegram", "spiders.listing", "spiders.feeds"]
NEWSPIDER_MODULE = "spiders"

# Politeness.
ROBOTSTXT_OBEY = True
# crawl.user_agent as declared; a crawl sets the configured one (and crawl.contact).
USER_AGENT = CrawlSettings().user_agent
CONCURRENT_REQUESTS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

# Bounds: hostile or broken sites must not exhaust us. A response above DOWNLOAD_MAXSIZE
# is dropped while it downloads (logged, counted as an error); a post's text above
# SIGNALERING_MAX_TEXT_CHARS is stored capped and marked truncated (TextCapPipeline).
DOWNLOAD_MAXSIZE = 4 * 1024 * 1024
DOWNLOAD_WARNSIZE = 1024 * 1024
DOWNLOAD_TIMEOUT = 30
RETRY_TIMES = 2
REDIRECT_MAX_TIMES = 5
# Link depth is bounded per source by CrawlGuardMiddleware (pagination does not count).
DEPTH_LIMIT = 0
DEPTH_PRIORITY = 0

SPIDER_MIDDLEWARES = {
    "spiders.distributed.DistributedStart": 40,  # only in a distributed crawl
    "spiders.journal.RequestJournal": 50,
    "spiders.middlewares.CrawlGuardMiddleware": 950,
}
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.ContentTypeMiddleware": 560,
    # Distributed crawl only: one per-site delay for all nodes, after robots.txt (100).
    "spiders.distributed.SharedPoliteness": 950,
}
# Distributed crawl (spiders/distributed.py): on when SIGNALERING_REDIS_PREFIX is set.
EXTENSIONS = {"spiders.distributed.SharedIdle": 500}
ITEM_PIPELINES = {
    "spiders.pipelines.TextCapPipeline": 50,
    "spiders.pipelines.DedupPipeline": 100,
    "spiders.pipelines.JsonlPipeline": 800,
    "spiders.pipelines.StorePipeline": 900,
}

# Our own settings (set by spiders.run.crawl).
SIGNALERING_OUTPUT = None  # JSONL file for raw posts
# signalering's Settings (config.Settings as JSON): the store, model, threshold,
# similarity settings and pseudonym key the crawl runs with, as the user configured them.
SIGNALERING_SETTINGS = None
SIGNALERING_STORE = False  # save posts in the store of SIGNALERING_SETTINGS (StorePipeline)
SIGNALERING_SCORE = True  # run the analysis stages before storing
SIGNALERING_BATCH_SIZE = 50
SIGNALERING_BATCH_CHARS = 2_000_000  # limits.batch_chars: a batch also ends at this size
SIGNALERING_MAX_TEXT_CHARS = 1_000_000  # limits.crawl_text_chars: longer texts stored capped

LOG_LEVEL = "INFO"
FEED_EXPORT_ENCODING = "utf-8"
