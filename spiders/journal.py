"""Crash-safe resume on top of Scrapy's JOBDIR.

Scrapy's JOBDIR persists the scheduler queue and the seen-requests filter when a crawl is
stopped gracefully (one Ctrl-C / SIGTERM). A crawl killed with SIGKILL leaves that state
stale: requests it had already seen but not fetched would be filtered out on restart and
their posts lost. This spider middleware keeps a line-flushed journal in the JOBDIR of
every request scheduled and every response fully processed; after a crash the spider
restarts from the requests that were scheduled but never finished. A crawl that ends
normally clears its job state, so the next scheduled run starts from the top again.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import pickle
import shutil
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.job import job_dir
from scrapy.utils.request import request_from_dict

logger = logging.getLogger(__name__)

JOURNAL = "signalering-journal.jsonl"
# Sent by the store pipeline after a batch is saved: pages whose posts were in it are done.
batch_saved = object()


def _fingerprint(crawler: Crawler, request: Request) -> str:
    return crawler.request_fingerprinter.fingerprint(request).hex()


def scrapy_queue_intact(jobdir: Path) -> bool:
    """True when Scrapy saved its queue on a graceful stop (then Scrapy resumes by itself)."""
    return (jobdir / "requests.queue" / "active.json").exists()


def pending_requests(jobdir: Path, spider: Spider) -> list[Request]:
    """Requests scheduled but never finished before the last crawl in ``jobdir`` was killed."""
    path = jobdir / JOURNAL
    if not path.exists() or scrapy_queue_intact(jobdir):
        return []
    scheduled: dict[str, str] = {}
    done: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # the line being written when the process died
                continue
            if "done" in entry:
                done.add(entry["done"])
            else:
                scheduled[entry["fp"]] = entry["req"]
    requests = []
    for fp, blob in scheduled.items():
        if fp in done:
            continue
        data = pickle.loads(base64.b64decode(blob))  # our own file, written by this class
        request = request_from_dict(data, spider=spider)
        request.meta["resumed"] = True
        requests.append(request.replace(dont_filter=True))
    logger.info("resuming %s unfinished requests from %s", len(requests), path)
    return requests


def clear_job(jobdir: Path) -> None:
    """Forget a finished crawl's queue, seen filter and journal (keeps ``spider.state``)."""
    for name in (JOURNAL, "requests.seen"):
        with contextlib.suppress(FileNotFoundError):
            (jobdir / name).unlink()
    shutil.rmtree(jobdir / "requests.queue", ignore_errors=True)


class RequestJournal:
    """Spider middleware writing the resume journal (enabled when JOBDIR is set)."""

    def __init__(self, crawler: Crawler, jobdir: Path) -> None:
        self.crawler = crawler
        self.jobdir = jobdir
        self.jobdir.mkdir(parents=True, exist_ok=True)
        if (jobdir / JOURNAL).exists() and not scrapy_queue_intact(jobdir):
            # Killed last time: Scrapy's own queue files are stale, start it afresh;
            # the journal re-issues what was left.
            shutil.rmtree(jobdir / "requests.queue", ignore_errors=True)
        self.fh = (jobdir / JOURNAL).open("a", encoding="utf-8")
        # With the store, posts wait in a batch: a page only counts as done once the batch
        # holding its posts is saved, or a kill would lose them.
        self.hold = crawler.settings.getbool("SIGNALERING_STORE")
        self.held: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RequestJournal:
        jobdir = job_dir(crawler.settings)
        if not jobdir:
            raise NotConfigured
        journal = cls(crawler, Path(jobdir))
        crawler.signals.connect(journal.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(journal.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(journal.release, signal=batch_saved)
        return journal

    def _write(self, entry: dict[str, str]) -> None:
        self.fh.write(json.dumps(entry) + "\n")
        self.fh.flush()  # survives SIGKILL (the kernel has it)

    def request_scheduled(self, request: Request, spider: Spider) -> None:
        if request.url.endswith("/robots.txt"):
            return
        blob = base64.b64encode(pickle.dumps(request.to_dict(spider=spider), protocol=4))
        self._write({"fp": _fingerprint(self.crawler, request), "req": blob.decode("ascii")})

    def _done(self, response: Response) -> None:
        fp = _fingerprint(self.crawler, response.request)
        if self.hold:
            self.held.append(fp)
        else:
            self._write({"done": fp})

    def release(self) -> None:
        """Mark the held pages done (their posts are saved)."""
        if self.fh.closed:
            return
        for fp in self.held:
            self._write({"done": fp})
        self.held = []

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        async for obj in result:
            yield obj
        self._done(response)

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterable[Any]:
        yield from result
        self._done(response)

    def process_spider_exception(
        self, response: Response, exception: Exception, spider: Spider
    ) -> None:
        self._done(response)  # a page that breaks its parser would break it again

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.fh.close()
        if reason == "finished":
            clear_job(self.jobdir)
