"""Telegram public channel preview (``https://t.me/s/<channel>``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import scrapy
from scrapy.http import Response

from spiders.base import SourceSpider
from spiders.extract import join_url, node_text, parse_date
from spiders.items import SourceItem

logger = logging.getLogger(__name__)

_BG_URL = re.compile(r"background-image:\s*url\(['\"]?([^'\")]+)")


def parse_count(value: str | None) -> int | None:
    """``"1.2K"`` → 1200, ``"3M"`` → 3000000, ``"12 345"`` → 12345."""
    if not value:
        return None
    value = value.strip().replace(" ", "").replace(",", "").upper()
    # At most 15 digits: "1.2.3K", "." or a 400-digit "count" on a hostile page is no count.
    match = re.fullmatch(r"(\d{1,15}(?:\.\d{1,15})?)([KM]?)", value)
    if not match:
        return None
    number = float(match.group(1)) * {"": 1, "K": 1_000, "M": 1_000_000}[match.group(2)]
    return int(round(number))


def _cls(token: str) -> str:
    """XPath test: the element's class attribute holds ``token`` as a whole word."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {token} ')"


# A post's own text: the outermost ``js-message_text`` (album posts nest it twice), not the
# quote of a reply nor a link preview's description. In 2025-26 markup the caption of a
# photo post sits inside ``media_supported_cont``, so it is found at any depth.
_OWN_TEXT = (
    f".//div[{_cls('tgme_widget_message_text')} and {_cls('js-message_text')}]"
    f"[not(ancestor::*[{_cls('js-message_text')} or {_cls('tgme_widget_message_reply')}"
    f" or {_cls('tgme_widget_message_link_preview')}])]"
)
# Media kinds, each counted by its element (an album counts once, its photos each).
MEDIA_KINDS = {
    "album": "tgme_widget_message_grouped_wrap",
    "photo": "tgme_widget_message_photo_wrap",
    "video": "tgme_widget_message_video_player",
    "round_video": "tgme_widget_message_roundvideo_player",
    "voice": "tgme_widget_message_voice_player",
    "document": "tgme_widget_message_document_wrap",
    "sticker": "tgme_widget_message_sticker_wrap",
    "poll": "tgme_widget_message_poll",
    "link_preview": "tgme_widget_message_link_preview",
    "not_supported": "message_media_not_supported_wrap",
}


def _one_line(node: Any) -> str | None:
    text = re.sub(r"\s+", " ", node_text(node)).strip()
    return text or None


def message_fields(msg: Any) -> dict[str, Any]:
    """What one ``div.tgme_widget_message[data-post]`` says, in every markup from 2016 to
    2026 (``/s/`` pages, ``?embed=1`` widgets and single-message fragments alike).

    Returns ``text``, ``posted_at``, ``author`` (a signed post's author) and ``extras``:
    ``views``, ``channel``, ``forwarded_from`` (+ ``forwarded_from_url``, None when the
    source is hidden), ``reply_to``, ``is_service``, ``media`` ({kind: count}),
    ``link_previews``, ``photos``, ``links`` (absolute links in the text, whose anchor
    text may hide them) and ``edited``.
    """
    own = msg.xpath(_OWN_TEXT)
    if not own:  # older or hand-written markup without js-message_text
        own = msg.css(".tgme_widget_message_bubble > .tgme_widget_message_text")
    text = node_text(own[0]) if own else ""
    classes = (msg.attrib.get("class") or "").split()
    label = " ".join(msg.css(".message_media_not_supported_label::text").getall()).strip()
    media: dict[str, int] = {}
    for kind, token in MEDIA_KINDS.items():
        count = len(msg.xpath(f".//*[{_cls(token)}]"))
        if count:
            media[kind] = count
    extras: dict[str, Any] = {
        "views": parse_count(msg.css(".tgme_widget_message_views::text").get()),
        "channel": msg.attrib["data-post"].rsplit("/", 1)[0],
        "is_service": "service_message" in classes or label == "Service message",
        "media": media,
    }
    fwd = msg.css(".tgme_widget_message_forwarded_from_name")
    extras["forwarded_from"] = _one_line(fwd[0]) if fwd else None
    extras["forwarded_from_url"] = fwd[0].attrib.get("href") if fwd else None
    extras["reply_to"] = msg.css("a.tgme_widget_message_reply::attr(href)").get()
    previews = []
    for prev in msg.css("a.tgme_widget_message_link_preview"):
        description = prev.css(".link_preview_description")
        previews.append(
            {
                "url": prev.attrib.get("href"),
                "site": (prev.css(".link_preview_site_name::text").get() or "").strip() or None,
                "title": (prev.css(".link_preview_title::text").get() or "").strip() or None,
                "description": node_text(description[0]) if description else None,
            }
        )
    if previews:
        extras["link_previews"] = previews
    photos = [
        m.group(1)
        for style in msg.css("a.tgme_widget_message_photo_wrap::attr(style)").getall()
        if (m := _BG_URL.search(style))
    ]
    if photos:
        extras["photos"] = photos
    # Source discovery reads these: a "join us" anchor often hides a t.me or invite link.
    links = [
        href
        for href in (own[0].css("a::attr(href)").getall() if own else [])
        if href.startswith(("http://", "https://"))
    ]
    if links:
        extras["links"] = list(dict.fromkeys(links))
    meta_text = " ".join(msg.css(".tgme_widget_message_meta ::text").getall()).lower()
    extras["edited"] = "edited" in meta_text
    author = msg.css(".tgme_widget_message_from_author")
    return {
        "text": text,
        "posted_at": parse_date(
            msg.css("a.tgme_widget_message_date time::attr(datetime)").get()
            or msg.css("time::attr(datetime)").get()
        ),
        "author": _one_line(author[0]) if author else None,
        "extras": extras,
    }


class TelegramSpider(SourceSpider):
    """Every message of a public channel preview, newest first, paging back with ``?before=``.

    Stops at ``source.until`` (a date) or ``source.max_posts``; a set of seen message ids
    keeps an overlapping page or a missing "load more" link from looping or leaving a gap.
    """

    name = "telegram"
    kind = "telegram"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen_ids: set[int] = set()
        self.emitted = 0
        self.status = "ok"
        self.not_found_ids: set[str] = set()
        until = self.source.until
        self.until = datetime.fromisoformat(parse_date(until) or "") if until else None

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        parts = urlsplit(response.url)
        path = parts.path
        if "embed=1" in parts.query.split("&"):
            yield from self.parse_embed(response)
            return
        if not path.startswith("/s/"):
            self.status = "no_public_preview"
            self.crawler.stats.set_value("signalering/status", self.status)
            self.crawler.stats.inc_value("signalering/errors")
            logger.error(
                "telegram source %s has no public preview: %s redirected to %s — the channel "
                "is private, renamed or has previews disabled",
                self.source.name,
                (response.meta.get("redirect_urls") or [response.url])[0],
                response.url,
            )
            return
        if response.meta.get("first", True):
            yield self._channel_info(response)
        messages = response.css("div.tgme_widget_message[data-post]")
        ids_on_page: list[int] = []
        new_on_page = 0
        stop = False
        # The page lists messages oldest first; limits count from the newest.
        for msg in reversed(messages):
            data_post = msg.attrib["data-post"]
            try:
                msg_id = int(data_post.rsplit("/", 1)[1])
            except (IndexError, ValueError):
                continue
            ids_on_page.append(msg_id)
            if msg_id in self.seen_ids:
                self.crawler.stats.inc_value("signalering/telegram_overlap")
                continue
            self.seen_ids.add(msg_id)
            new_on_page += 1
            item = self._message(response, msg, msg_id)
            posted = item.posted_at and datetime.fromisoformat(item.posted_at)
            if self.until and posted and posted < self.until:
                stop = True
                continue
            if self.source.max_posts and self.emitted >= self.source.max_posts:
                stop = True
                break
            self.emitted += 1
            yield item
        if stop or not new_on_page:
            return  # done, or a page of only seen messages (a loop)
        oldest = min(ids_on_page)
        if oldest <= 1:
            return
        if response.meta.get("before") is not None and oldest >= response.meta["before"]:
            return  # the page did not go back: a broken or looping "load more"
        # Page from the oldest id we hold rather than the page's own "load more" link, so a
        # page without the link, or a link that skips ahead, leaves no gap.
        parts = urlsplit(response.url)
        next_url = urlunsplit((parts.scheme, parts.netloc, parts.path, f"before={oldest}", ""))
        yield scrapy.Request(
            next_url,
            callback=self.parse,
            meta={"first": False, "before": oldest, "pagination": True},
        )

    def parse_embed(self, response: Response) -> Iterator[Any]:
        """One post's ``?embed=1`` widget; Telegram's "Post not found" page means the post
        was deleted (or never public): logged and counted, never an empty post."""
        error = response.css(".tgme_widget_message_error")
        msg = response.css("div.tgme_widget_message[data-post]")
        if error or not msg:
            reason = _one_line(error[0]) if error else "no message on the page"
            self.crawler.stats.inc_value("signalering/telegram_post_not_found")
            logger.warning("telegram source %s: %s: %s", self.source.name, response.url, reason)
            post_id = urlsplit(response.url).path.rstrip("/").rsplit("/", 1)[-1]
            if post_id.isdigit():
                self.not_found_ids.add(post_id)
            return
        data_post = msg[0].attrib["data-post"]
        try:
            msg_id = int(data_post.rsplit("/", 1)[1])
        except (IndexError, ValueError):
            return
        self.emitted += 1
        yield self._message(response, msg[0], msg_id)

    def removed_post_ids(self, stored: Iterable[tuple[str, str | None]]) -> set[str]:
        """Stored messages inside the id range this crawl read that the channel no longer
        shows, and single posts whose embed page now says "Post not found"."""
        if self.status != "ok":
            return set()
        stored_ids = {post_id for post_id, _ in stored}
        removed = self.not_found_ids & stored_ids
        if self.seen_ids:
            low, high = min(self.seen_ids), max(self.seen_ids)
            removed |= {
                post_id
                for post_id in stored_ids
                if post_id.isdigit()
                and low <= int(post_id) <= high
                and int(post_id) not in self.seen_ids
            }
        return removed

    def _channel_info(self, response: Response) -> SourceItem:
        counters = {}
        for counter in response.css(".tgme_channel_info_counter"):
            kind = (counter.css(".counter_type::text").get() or "").strip()
            counters[kind] = parse_count(counter.css(".counter_value::text").get())
        desc = response.css(".tgme_channel_info_description")
        metadata = {
            "title": (response.css(".tgme_channel_info_header_title *::text").get() or "").strip()
            or None,
            "username": (response.css(".tgme_channel_info_header_username a::text").get() or "")
            .strip()
            .lstrip("@")
            or None,
            "description": node_text(desc[0]) if desc else None,
            "subscribers": counters.get("subscribers") or counters.get("subscriber"),
            "counters": counters,
            "preview": True,
        }
        self.crawler.stats.set_value("signalering/source_metadata", metadata)
        return SourceItem(self.source.name, self.kind, self.source.url, metadata)

    def _message(self, response: Response, msg: Any, msg_id: int) -> Any:
        fields = message_fields(msg)
        link = join_url(response.url, msg.css("a.tgme_widget_message_date::attr(href)").get())
        url = link or f"{response.url}#{msg_id}"
        extras = fields["extras"]
        return self.post(
            response,
            url=url,
            post_id=str(msg_id),
            text=fields["text"],
            posted_at=fields["posted_at"],
            author=fields["author"],
            extras=extras,
        )
