"""Templates and interface strings: Jinja2 with autoescape, crawled text made visible and inert."""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from signalering import entities

HERE = Path(__file__).resolve().parent
LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"

# Bidirectional controls reorder what the reader sees (the "RTL override" trick); a post
# shows them as a visible marker instead, so the text reads as it was written.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@cache
def strings(lang: str) -> dict[str, str]:
    """The interface strings of ``lang`` (nl or en), from ``i18n/<lang>.json``."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    return json.loads((HERE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def crawled(value: Any) -> Markup:
    """Escape crawled text and show bidi control characters as visible, inert markers."""
    if value is None:
        return Markup("")
    escaped = str(escape(str(value)))

    def mark(match: re.Match[str]) -> str:
        char = match.group(0)
        name = unicodedata.name(char, "")
        return f'<span class="ctl" title="{escape(name)}">[U+{ord(char):04X}]</span>'

    return Markup(_BIDI_CONTROLS.sub(mark, escaped))


def safe_href(url: Any) -> str | None:
    """``url`` if it is an http(s) link, else None (no javascript:, data: or relative links)."""
    if not isinstance(url, str):
        return None
    cleaned = "".join(ch for ch in url.strip() if ch.isprintable() and not ch.isspace())
    if urlsplit(cleaned).scheme.lower() in ("http", "https") and cleaned == url.strip():
        return cleaned
    return None


@cache
def environment() -> Environment:
    """The template environment (autoescape on for every template)."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["entity_keys"] = entities.all_keys
    env.filters["crawled"] = crawled
    env.filters["safe_href"] = safe_href
    env.filters["pct"] = lambda v: f"{100 * float(v or 0):.0f}%"
    env.filters["short_time"] = lambda v: str(v)[:16].replace("T", " ") if v else ""
    return env


def render(name: str, **context: Any) -> str:
    """Render a template to a string."""
    return environment().get_template(name).render(**context)
