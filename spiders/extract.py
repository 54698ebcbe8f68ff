"""Helpers the spiders share: selectors from config, text with line breaks, dates, URLs."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import yaml
from dateutil import parser as dateparser
from parsel import Selector, SelectorList

logger = logging.getLogger(__name__)

# Crawled text is hostile input: a page is bounded by DOWNLOAD_MAXSIZE, and what one post
# may carry by TextCapPipeline (SIGNALERING_MAX_TEXT_CHARS), which marks it truncated.
_BLOCK = {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "article"}
_SKIP = {"script", "style", "noscript", "template", "svg", "head"}
# RFC 822 / 2822 dates (RSS pubDate): "[Tue, ]02 Jun 2010 23:01[:00] +0000".
_RFC822 = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d\d")
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|sid|phpsessid|sessionid|jsessionid)$")


def now_iso() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _is_xpath(spec: str) -> bool:
    return spec.startswith(("/", "./", "(", "xpath:"))


def select(node: Selector | SelectorList, spec: str) -> SelectorList:
    """Apply a config selector: CSS unless it looks like XPath (``/``, ``./``, ``(``, ``xpath:``)."""
    if _is_xpath(spec):
        return node.xpath(spec.removeprefix("xpath:"))
    return node.css(spec)


def node_text(node: Selector) -> str:
    """Visible text of an element with line breaks kept (``<br>``, blocks) and emoji images
    turned into their characters."""
    root = node.root
    if isinstance(root, str):
        return root.strip()
    parts: list[str] = []

    def walk(el: object) -> None:
        tag = getattr(el, "tag", None)
        if not isinstance(tag, str):  # comments, processing instructions
            parts.append(getattr(el, "tail", None) or "")
            return
        tag = tag.lower()
        if tag in _SKIP:
            parts.append(el.tail or "")  # type: ignore[attr-defined]
            return
        if tag == "br":
            parts.append("\n")
        elif tag == "img" and el.get("alt") and "emoji" in (el.get("class") or ""):  # type: ignore[attr-defined]
            parts.append(el.get("alt"))  # type: ignore[attr-defined]
        elif tag == "i" and "emoji" in (el.get("class") or "").split():  # type: ignore[attr-defined]
            parts.append(emoji_char(el))
            parts.append(el.tail or "")  # type: ignore[attr-defined]
            return
        else:
            if tag in _BLOCK:
                parts.append("\n")
            parts.append(el.text or "")  # type: ignore[attr-defined]
            for child in el:  # type: ignore[attr-defined]
                walk(child)
            if tag in _BLOCK:
                parts.append("\n")
        parts.append(el.tail or "")  # type: ignore[attr-defined]

    parts.append(root.text or "")
    for child in root:
        walk(child)
    text = "".join(parts).replace("\xa0", " ")
    lines = [re.sub(r"[ \t\r\f\v]+", " ", line).strip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return text


def emoji_char(el: object) -> str:
    """The character of a Telegram emoji image: its ``<b>`` text, else the UTF-8 hex in the URL."""
    text = "".join(el.itertext()).strip()  # type: ignore[attr-defined]
    if text:
        return text
    match = re.search(r"/emoji/\d+/([0-9A-Fa-f]+)\.png", el.get("style") or "")  # type: ignore[attr-defined]
    if match:
        try:
            return bytes.fromhex(match.group(1)).decode("utf-8")
        except ValueError:
            return ""
    return ""


def extract_value(node: Selector | SelectorList, spec: str | None) -> str | None:
    """The value of a field selector: text of the first matched element, or the joined
    ``::text``/``::attr``/``@attr`` strings; None when nothing matches."""
    if not spec:
        return None
    found = select(node, spec)
    if not found:
        return None
    first = found[0]
    if isinstance(first.root, str):
        value = " ".join(s.strip() for s in found.getall() if s.strip())
    else:
        value = node_text(first)
    return value or None


def parse_date(
    value: str | None, *, tz: str = "UTC", fmt: str | None = None, dayfirst: bool | None = None
) -> str | None:
    """Parse a date as shown on a page into ISO 8601 with zone; None when unparseable.

    ``dayfirst`` reads 06-10-2016 as 6 October (the default unless the date starts with
    a year); a US-style forum passes False."""
    if not value:
        return None
    value = value.strip()
    parsed: datetime | None = None
    try:
        if fmt:
            parsed = datetime.strptime(value, fmt)
        else:
            parsed = None
            if _RFC822.match(value):  # RSS; the email parser would ignore a forum's "pm"
                try:
                    parsed = parsedate_to_datetime(value)
                except (TypeError, ValueError, IndexError):
                    parsed = None
            if parsed is None:
                if dayfirst is None:
                    dayfirst = not re.match(r"^\d{4}", value)
                parsed = dateparser.parse(value, dayfirst=dayfirst)
    # ArithmeticError: OverflowError, and decimal.InvalidOperation that dateutil raises
    # for a 30-digit "minute" on a damaged page.
    except (ValueError, ArithmeticError, dateparser.ParserError):
        english = _english_months(value)
        if english == value:
            logger.debug("unparseable date %r", value)
            return None
        return parse_date(english, tz=tz, fmt=fmt, dayfirst=dayfirst)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed.isoformat()


@cache
def _month_names() -> dict[str, str]:
    path = Path(__file__).with_name("month_names.yaml")
    return {str(k).lower(): str(v) for k, v in yaml.safe_load(path.read_text("utf-8")).items()}


def _english_months(value: str) -> str:
    """Month and weekday names of other languages (``spiders/month_names.yaml``) in English."""
    names = _month_names()
    return re.sub(
        r"[^\W\d_]+\.?", lambda m: names.get(m.group(0).rstrip(".").lower(), m.group(0)), value
    )


def canonicalize(url: str, allowlist: list[str] | None = None) -> str:
    """Canonical form of a URL: lower-case host, no fragment or default port, sorted query,
    tracking/session parameters dropped, and only ``allowlist`` parameters kept when given.

    A URL that urllib refuses (unbalanced IPv6 brackets, a port out of range) is kept as
    written without its fragment: a page must not be lost over one bad link."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url.split("#", 1)[0]
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = (
        host
        if port is None or (scheme, port) in (("http", 80), ("https", 443))
        else f"{host}:{port}"
    )
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if (k in allowlist if allowlist is not None else not _TRACKING.match(k.lower()))
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def join_url(base: str, link: str | None) -> str | None:
    """``link`` made absolute against ``base``; None when there is none, it is no http(s)
    URL with a host, or urllib refuses it (``http://[::1``, ``http://host:99999/``), so a
    caller falls back instead of failing."""
    if not link:
        return None
    try:
        joined = urljoin(base, link.strip())
        parts = urlsplit(joined)
        parts.port  # noqa: B018  (raises for a port out of range)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        # Nothing to fetch or link to: "mailto:", "javascript:", "A:", "http://".
        logger.debug("unusable link %r on %s", link, base)
        return None
    return joined
