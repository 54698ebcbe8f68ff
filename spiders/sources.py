"""sources.yaml: one declaration per source, validated with one-line errors.

>>> sources = load_sources("spiders/sources.example.yaml", base_url="http://127.0.0.1:8000")
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from signalering.errors import ConfigError, SourceError

logger = logging.getLogger(__name__)

Kind = Literal["telegram", "listing", "feed", "sitemap"]
Engine = Literal["phpbb", "vbulletin", "xenforo", "smf"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FollowRule(_Model):
    """Links to follow: ``allow``/``deny`` URL regexes, optionally only inside ``restrict_css``."""

    allow: list[str] = Field(default_factory=list)
    deny: list[str] = Field(default_factory=list)
    restrict_css: str | None = None

    @field_validator("allow", "deny", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("allow", "deny")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} does not compile ({exc})") from exc
        return value


class Fields(_Model):
    """Selectors for one post. CSS by default; a value starting with ``/``, ``./``, ``(``
    or ``xpath:`` is XPath. A selector of an element gives its text with line breaks kept;
    ``::text``, ``::attr(x)`` or ``/@x`` give that value."""

    post_id: str | None = None
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    price: str | None = None
    location: str | None = None
    url: str | None = None


class ItemRule(_Model):
    """Where posts are: pages whose URL matches ``url_pattern`` (all pages when unset);
    one post per ``container`` match (a forum thread), or one per page (a detail page)."""

    url_pattern: str | None = None
    container: str | None = None
    fields: Fields


class Source(_Model):
    """One crawl source. ``{base_url}`` in URLs is replaced at load time (demo, tests)."""

    name: str
    kind: Kind
    start_urls: list[str] = Field(min_length=1)
    allowed_domains: list[str] = Field(default_factory=list)
    follow: list[FollowRule] = Field(default_factory=list)
    pagination: str | None = Field(None, description="Selector of the next-page link.")
    item: ItemRule | None = None
    engine: Engine | None = Field(
        None,
        description="listing: a forum engine preset (spiders/engines.yaml); detected from "
        "the first page when neither `engine` nor `item` is given.",
    )
    follow_entries: bool = Field(True, description="feed/sitemap: fetch each entry's page.")
    query_allowlist: list[str] | None = Field(
        None, description="Query parameters kept in URLs; others are dropped (trap guard)."
    )
    max_pages: int = Field(500, ge=1)
    max_depth: int = Field(5, ge=0)
    max_posts: int | None = Field(None, ge=1, description="telegram: stop after this many.")
    until: str | None = Field(None, description="telegram: stop at posts older than this date.")
    timezone: str = Field("UTC", description="Zone of dates the page shows without one.")
    date_format: str | None = Field(None, description="strptime format of listing dates.")
    download_delay: float | None = Field(None, ge=0)
    concurrency: int = Field(2, ge=1, le=16, description="Concurrent requests per domain.")
    user_agent: str | None = None
    contact: str | None = None
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("use lower-case letters, digits, '-', '_' or '.'")
        return value

    @field_validator("start_urls", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("start_urls")
    @classmethod
    def _absolute(cls, value: list[str]) -> list[str]:
        for url in value:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"{url!r} is not an absolute http(s) URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Source:
        if self.engine is not None and self.kind != "listing":
            raise ValueError("`engine` applies to listing sources only")
        if not self.allowed_domains:
            self.allowed_domains = sorted({urlsplit(u).hostname or "" for u in self.start_urls})
        return self

    @property
    def url(self) -> str:
        """The source's main URL (its first start URL)."""
        return self.start_urls[0]


class CrawlDefaults(_Model):
    """The ``crawl:`` block: defaults applied to every source in the file."""

    user_agent: str | None = None
    contact: str | None = None
    download_delay: float | None = None
    concurrency: int | None = None


class SourcesFile(_Model):
    crawl: CrawlDefaults = CrawlDefaults()
    sources: list[dict[str, Any]] = Field(min_length=1)


def _substitute(value: Any, base_url: str | None) -> Any:
    if isinstance(value, str):
        return value.replace("{base_url}", base_url.rstrip("/")) if base_url else value
    if isinstance(value, list):
        return [_substitute(v, base_url) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, base_url) for k, v in value.items()}
    return value


def _explain(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"unknown field `{where}` — remove it or check its spelling"
    if err["type"] == "missing":
        return f"field `{where}` is required"
    return f"field `{where}`: {err['msg']}"


def parse_source(
    data: dict[str, Any], *, origin: str = "<source>", defaults: CrawlDefaults | None = None
) -> Source:
    """Validate one source mapping; raises SourceError naming ``origin``, source and field."""
    name = data.get("name", "?") if isinstance(data, dict) else "?"
    if not isinstance(data, dict):
        raise SourceError(f"{origin}: source {name}: each entry must be a mapping")
    merged = dict(data)
    if defaults is not None:
        for key, value in defaults.model_dump(exclude_none=True).items():
            merged.setdefault(key, value)
    try:
        return Source.model_validate(merged)
    except ValidationError as exc:
        raise SourceError(f"{origin}: source {name}: {_explain(exc)}") from None


def load_sources(path: str | Path, *, base_url: str | None = None) -> list[Source]:
    """Read and validate a sources.yaml; ``{base_url}`` is replaced by ``base_url``.

    Raises ConfigError for an unreadable file, SourceError for a bad source.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"sources file {path} not found — pass --sources PATH") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" line {line + 1}" if line is not None else ""
        raise ConfigError(f"{path}{at}: not valid YAML — fix the syntax") from None
    if isinstance(raw, dict) and "sources" not in raw and "name" in raw:
        raw = {"sources": [raw]}  # a single-site file (``--kind listing --config site.yaml``)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a `sources:` list")
    try:
        parsed = SourcesFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_explain(exc)}") from None
    sources = [
        parse_source(_substitute(entry, base_url), origin=str(path), defaults=parsed.crawl)
        for entry in parsed.sources
    ]
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SourceError(f"{path}: source name {dupes[0]} is used twice — names must be unique")
    logger.debug("loaded %s sources from %s", len(sources), path)
    return sources
