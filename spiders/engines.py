"""Forum engine presets (``spiders/engines.yaml``): detection and reading a topic page.

A listing source may name its engine (``engine: phpbb``) or give neither ``engine`` nor
``item``; the engine is then detected from the first page. The presets are data: a new
markup generation is a new layout in the YAML, not new code.

>>> engine = load_engines()["phpbb"]  # doctest: +SKIP
>>> posts = read_posts(response, engine)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from parsel import Selector
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from signalering.errors import ConfigError
from spiders.extract import node_text, select
from spiders.sources import FollowRule

logger = logging.getLogger(__name__)

ENGINES_FILE = Path(__file__).with_name("engines.yaml")
EngineName = Literal["phpbb", "vbulletin", "xenforo", "smf"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class LayoutFields(_Model):
    post_id: list[str] = Field(default_factory=list)
    text: list[str]
    author: list[str] = Field(default_factory=list)
    date: list[str] = Field(default_factory=list)
    title: list[str] = Field(default_factory=list)

    @field_validator("post_id", "text", "author", "date", "title", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)


class Layout(_Model):
    """One markup generation of an engine (phpBB 2 tables, phpBB 3 divs, ...)."""

    name: str
    container: str
    fields: LayoutFields
    post_id_pattern: str | None = None
    date_pattern: str | None = None
    dayfirst: bool | None = None
    quote: str | None = None
    quote_header: list[str] = Field(default_factory=list)
    quote_by_pattern: str | None = None
    drop: list[str] = Field(default_factory=list)

    @field_validator("quote_header", "drop", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)


class Engine(_Model):
    name: str = ""
    detect: list[str]
    layouts: list[Layout] = Field(min_length=1)
    follow: list[FollowRule] = Field(default_factory=list)
    pagination: str | None = None
    topic_urls: list[str] = Field(
        default_factory=list,
        description="Regexes of the engine's topic URLs: source discovery (signalering "
        "sources add) makes a link of this shape a listing source with this engine.",
    )


@cache
def load_engines(path: Path = ENGINES_FILE) -> dict[str, Engine]:
    """The presets, by engine name, in the file's order (the detection order)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {name: Engine.model_validate({**spec, "name": name}) for name, spec in raw.items()}
    except (OSError, yaml.YAMLError, ValidationError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a valid engines file ({exc})") from None


def detect_engine(page: Selector) -> tuple[str, str] | None:
    """The engine whose markers and one of whose layouts match ``page``, as
    ``(engine, layout)``; None when no preset fits."""
    for name, engine in load_engines().items():
        if not any(select(page, marker) for marker in engine.detect):
            continue
        for layout in engine.layouts:
            if select(page, layout.container):
                return name, layout.name
    return None


def layout_for(page: Selector, engine: Engine) -> Layout | None:
    """The first layout of ``engine`` that finds posts on ``page``."""
    return next((lay for lay in engine.layouts if select(page, lay.container)), None)


@dataclass
class ForumPost:
    """One post as read by a preset: its own text, and quotes of earlier posts apart."""

    post_id: str | None
    text: str
    author: str | None
    date: str | None
    title: str | None
    quotes: list[dict[str, str | None]] = field(default_factory=list)


def _first(node: Selector, specs: list[str], *, as_text: bool = True) -> tuple[Any, str | None]:
    """The first matching element (or string) of ``specs`` and its one-line text."""
    for spec in specs:
        found = select(node, spec)
        if not found:
            continue
        first = found[0]
        if isinstance(first.root, str):
            value = " ".join(s.strip() for s in found.getall() if s.strip())
        else:
            value = re.sub(r"\s+", " ", node_text(first)) if as_text else ""
        value = value.strip()
        if value or not as_text:
            return first, value or None
    return None, None


# lxml reads control characters from a page but refuses them when text is set back.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _remove(element: Any) -> None:
    """Take ``element`` out of its tree, keeping its tail text."""
    parent = element.getparent()
    if parent is None:
        return
    tail = _NOT_XML.sub("", element.tail or "")
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = _NOT_XML.sub("", previous.tail or "") + tail
        else:
            parent.text = _NOT_XML.sub("", parent.text or "") + tail
    parent.remove(element)


def _outermost(elements: list[Any]) -> list[Any]:
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]


def _body(node: Selector, layout: Layout) -> tuple[str, list[dict[str, str | None]]]:
    """The post's own text, with quotes of earlier posts taken out and signatures dropped."""
    element, _ = _first(node, layout.fields.text, as_text=False)
    if element is None or isinstance(element.root, str):
        return "", []
    root = copy.deepcopy(element.root)
    body = Selector(root=root, type="html")
    quotes: list[dict[str, str | None]] = []
    by_pattern = re.compile(layout.quote_by_pattern) if layout.quote_by_pattern else None
    if layout.quote:
        for quote in _outermost([q.root for q in select(body, layout.quote)]):
            quote_sel = Selector(root=quote, type="html")
            by = None
            for spec in layout.quote_header:
                for header in _outermost([h.root for h in select(quote_sel, spec)]):
                    said = re.sub(r"\s+", " ", node_text(Selector(root=header))).strip()
                    if by is None and said:
                        match = by_pattern.search(said) if by_pattern else None
                        by = match.group(1) if match else said
                    _remove(header)
            quotes.append({"by": by or None, "text": node_text(quote_sel)})
            _remove(quote)
    for spec in layout.drop:
        for dropped in _outermost([d.root for d in select(body, spec)]):
            _remove(dropped)
    return node_text(body), quotes


def read_posts(page: Selector, layout: Layout) -> list[ForumPost]:
    """Every post ``layout`` finds on ``page``, in page order."""
    posts = []
    id_pattern = re.compile(layout.post_id_pattern) if layout.post_id_pattern else None
    date_pattern = re.compile(layout.date_pattern) if layout.date_pattern else None
    for node in select(page, layout.container):
        text, quotes = _body(node, layout)
        _, post_id = _first(node, layout.fields.post_id)
        if post_id and id_pattern and (m := id_pattern.search(post_id)):
            post_id = m.group(1)
        _, date = _first(node, layout.fields.date)
        if date and date_pattern and (m := date_pattern.search(date)):
            date = m.group(1)
        posts.append(
            ForumPost(
                post_id=post_id,
                text=text,
                author=_first(node, layout.fields.author)[1],
                date=date,
                title=_first(node, layout.fields.title)[1],
                quotes=quotes,
            )
        )
    return posts
