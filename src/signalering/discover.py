"""Discovery of new sources: the channels, groups and sites that flagged posts point to.

Smuggling channels forward each other's posts and link to each other's groups. From the
posts the current model flags, ``suggest_sources`` collects where they point — the
channel a post was forwarded from, ``t.me`` links, group invite links, forum, feed and
classifieds URLs — and ranks those places by how many flagged posts point there and how
high those posts score. Nothing is fetched: a candidate is crawled only after a person
approves it with ``add_source`` (``signalering sources add``, or the review app's sources
page), which appends it to the sources file and writes an audit line.

>>> candidates = suggest_sources(store, "sources.yaml")  # doctest: +SKIP
>>> add_source(store, "sources.yaml", candidates[0].key, user="cli:anna")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from signalering.config import LimitsSettings
from signalering.errors import ConfigError, SignaleringError, SourceError
from signalering.post import Post

logger = logging.getLogger(__name__)

CandidateKind = Literal["telegram", "invite", "forum", "feed", "web"]
How = Literal["forwarded", "link", "preview", "text"]

TELEGRAM_HOSTS = {"t.me", "telegram.me", "telegram.dog"}
# Invite links to private groups: evidence only, never a source.
INVITE_HOSTS = {"chat.whatsapp.com"}
# Links that reach a person, not a place with posts (contacts, not sources).
CONTACT_HOSTS = {"wa.me", "api.whatsapp.com", "m.me", "signal.me", "invite.viber.com"}
# t.me paths that are Telegram features, not channel names.
_RESERVED = {"s", "c", "share", "addstickers", "addemoji", "addtheme", "addlist", "proxy"}
_RESERVED |= {"socks", "iv", "login", "setlanguage", "bg", "confirmphone", "boost", "k", "a"}
_CHANNEL = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
_URL = re.compile(
    r"(?:https?://|www\.|(?<![\w@.])(?:t|telegram)\.(?:me|dog)/)[^\s<>\"'()\[\]{}]+",
    re.IGNORECASE,
)
_FEED_PATH = re.compile(r"(\.(xml|rss|atom|rdf)|/(feed|rss|atom)/?)$", re.IGNORECASE)
_PLAIN = re.compile(r"[a-z][a-z0-9_.-]*")  # written unquoted; anything else as a JSON string
_YAML_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}
MAX_URLS = 10  # start URLs of an added forum or feed source, links kept as evidence
_LIMITS = LimitsSettings()
MAX_LINKS = 200  # links read from one post's extras (a crawled page can carry thousands)

INVITE_REASON = (
    "an invite link leads to a private group: it has no public preview and reading it "
    "would mean joining with an account, so it stays evidence only (signalering reads "
    "public previews only)"
)
WEB_REASON = (
    "a site that is neither a known forum engine nor a feed needs selectors for its "
    "posts: add a listing source with `item:` fields by hand (see "
    "spiders/sources.example.yaml), starting from the URLs listed"
)


@dataclass
class Candidate:
    """A place flagged posts point to, with the evidence; ``entry`` is the source
    ``add_source`` would write (None when it cannot be added: see ``reason``)."""

    key: str
    kind: CandidateKind
    url: str
    posts: list[int] = field(default_factory=list)
    mentions: int = 0
    how: dict[str, int] = field(default_factory=dict)
    first_seen: str | None = None
    last_seen: str | None = None
    max_offer: float = 0.0
    mean_offer: float = 0.0
    seen_in: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    entry: dict[str, Any] | None = None
    reason: str | None = None

    @property
    def addable(self) -> bool:
        return self.entry is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "addable": self.addable}


@dataclass(frozen=True)
class _Link:
    kind: CandidateKind
    key: str
    url: str  # the preview URL (telegram) or the link as found
    how: How


@dataclass(frozen=True)
class _Known:
    """What the sources file already covers."""

    names: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower().removeprefix("www.")


def _channel_of(path: str) -> str | None:
    """``/s/NAME``, ``/NAME`` or ``/NAME/123`` → NAME, when it can be a public channel."""
    segments = [s for s in path.split("/") if s]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if not segments:
        return None
    name = segments[0]
    if name.lower() in _RESERVED or not _CHANNEL.fullmatch(name):
        return None
    if name.lower().endswith("bot"):  # Telegram bots' names end in "bot": a contact
        return None
    return name.lower()


def telegram_link(url: str, how: How, *, any_host: bool = False) -> _Link | None:
    """A t.me link as a candidate: a public channel or a group invite; None otherwise.

    ``any_host``: the link is a forward's origin, which names a channel wherever the
    preview is served (t.me in the wild, 127.0.0.1 in tests); its preview is then on the
    same host.
    """
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host not in TELEGRAM_HOSTS and not any_host:
        return None
    first = next((s for s in parts.path.split("/") if s), "")
    if first.startswith("+") or first == "joinchat":
        code = first[1:] if first.startswith("+") else parts.path.split("joinchat/", 1)[-1]
        code = code.strip("/")
        if not code or code.isdigit():  # t.me/+4477... is a phone number: a contact
            return None
        key = f"t.me/+{code}" if first.startswith("+") else f"t.me/joinchat/{code}"
        return _Link("invite", key, f"https://{key}", how)
    name = _channel_of(parts.path)
    if name is None:
        return None
    base = "https://t.me" if host in TELEGRAM_HOSTS else f"{parts.scheme}://{parts.netloc}"
    return _Link("telegram", name, f"{base}/s/{name}", how)


def _classify(url: str, how: How) -> _Link | None:
    url = url.rstrip(".,;:!?*")
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = f"https://{url}"
    host = _host(url)
    if not host or "." not in host:
        return None
    if host in TELEGRAM_HOSTS:
        return telegram_link(url, how)
    if host in INVITE_HOSTS:
        code = urlsplit(url).path.strip("/")
        return _Link("invite", f"{host}/{code}", url, how) if code else None
    if host in CONTACT_HOSTS:
        return None
    return _Link("web", host, url, how)


def links_of(post: Post, *, max_chars: int = _LIMITS.discover_chars) -> Iterator[_Link]:
    """Every place ``post`` points to, once per place and link: in its first ``max_chars``
    characters and its first ``MAX_LINKS`` links and previews (a stranger's post is not
    read whole)."""
    extras = post.extras or {}
    seen: set[tuple[str, str]] = set()
    found: list[_Link | None] = []
    if extras.get("forwarded_from_url"):
        found.append(telegram_link(str(extras["forwarded_from_url"]), "forwarded", any_host=True))
    links = extras.get("links") or []
    previews = extras.get("link_previews") or []
    found += [_classify(str(u)[:2048], "link") for u in links[:MAX_LINKS]]
    found += [
        _classify(str(p["url"])[:2048], "preview")
        for p in previews[:MAX_LINKS]
        if isinstance(p, dict) and p.get("url")
    ]
    found += [_classify(m.group(0), "text") for m in _URL.finditer((post.text or "")[:max_chars])]
    for link in found:
        if link is not None and (link.key, link.url) not in seen:
            seen.add((link.key, link.url))
            yield link


def known_sources(sources_file: str | Path | None) -> _Known:
    """Names, Telegram channels and web hosts the sources file already crawls."""
    if sources_file is None:
        return _Known()
    from spiders.sources import load_sources

    names, channels, hosts = set(), set(), set()
    for source in load_sources(sources_file):
        names.add(source.name)
        if source.kind == "telegram":
            channels |= {c for u in source.start_urls if (c := _channel_of(urlsplit(u).path))}
        else:
            hosts |= {_host(u) for u in source.start_urls}
            hosts |= {d.lower().removeprefix("www.") for d in source.allowed_domains}
    return _Known(frozenset(names), frozenset(channels), frozenset(hosts))


def _own(post: Post, link: _Link) -> bool:
    """Whether ``link`` points back at the post's own channel or site."""
    if link.kind == "telegram":
        own = {str((post.extras or {}).get("channel") or "").lower()}
        if post.kind == "telegram" or _host(post.url or "") in TELEGRAM_HOSTS:
            own.add(_channel_of(urlsplit(post.url or "").path) or "")
        return link.key in own
    return link.kind == "web" and link.key == _host(post.url or "")


def _is_known(link: _Link, known: _Known) -> bool:
    if link.kind == "telegram":
        return link.key in known.channels or f"telegram-{link.key}" in known.names
    if link.kind == "web":
        return link.key in known.hosts or any(link.key.endswith(f".{h}") for h in known.hosts)
    return False


def _slug(host: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", host.lower()).strip("-.")


def _plan(candidate: Candidate) -> None:
    """Set the candidate's kind, ``entry`` and ``reason`` from what its links look like."""
    from spiders.engines import load_engines

    if candidate.kind == "telegram":
        candidate.entry = {
            "name": f"telegram-{candidate.key}",
            "kind": "telegram",
            "start_urls": [candidate.url],
            "query_allowlist": ["before"],
            "max_posts": 1000,
        }
        return
    if candidate.kind == "invite":
        candidate.reason = INVITE_REASON
        return
    for engine in load_engines().values():
        topics = [
            u
            for u in candidate.urls
            if any(re.search(p, _path_query(u)) for p in engine.topic_urls)
        ]
        if topics:
            candidate.kind = "forum"
            candidate.entry = {
                "name": f"forum-{_slug(candidate.key)}",
                "kind": "listing",
                "engine": engine.name,
                "start_urls": topics[:MAX_URLS],
                "max_pages": 200,
            }
            return
    feeds = [u for u in candidate.urls if _FEED_PATH.search(urlsplit(u).path)]
    if feeds:
        candidate.kind = "feed"
        candidate.entry = {
            "name": f"feed-{_slug(candidate.key)}",
            "kind": "feed",
            "start_urls": feeds[:MAX_URLS],
        }
        return
    candidate.reason = WEB_REASON


def _path_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def collect(
    posts: Iterable[Post],
    known: _Known = _Known(),
    *,
    limit: int | None = None,
    max_chars: int = _LIMITS.discover_chars,
) -> list[Candidate]:
    """Candidates from flagged ``posts``, best first (see ``suggest_sources``); each post is
    searched in its first ``max_chars`` characters."""
    found: dict[str, Candidate] = {}
    scores: dict[str, dict[int, float]] = {}
    for post in posts:
        offer = float((post.scores or {}).get("offer", 0.0))
        seen_at = post.posted_at or post.fetched_at
        for link in links_of(post, max_chars=max_chars):
            if _own(post, link) or _is_known(link, known):
                continue
            cand = found.get(link.key)
            if cand is None:
                cand = found[link.key] = Candidate(link.key, link.kind, link.url)
                scores[link.key] = {}
            cand.mentions += 1
            cand.how[link.how] = cand.how.get(link.how, 0) + 1
            if link.url not in cand.urls and len(cand.urls) < MAX_URLS * 2:
                cand.urls.append(link.url)
            pk = int(post.id) if post.id and str(post.id).isdigit() else len(scores[link.key])
            if pk not in scores[link.key]:
                scores[link.key][pk] = offer
                cand.posts.append(pk)
                if post.source and post.source not in cand.seen_in:
                    cand.seen_in.append(post.source)
                if seen_at:
                    cand.first_seen = min(filter(None, (cand.first_seen, seen_at)))
                    cand.last_seen = max(filter(None, (cand.last_seen, seen_at)))
    for key, cand in found.items():
        values = list(scores[key].values())
        cand.max_offer = round(max(values), 4)
        cand.mean_offer = round(sum(values) / len(values), 4)
        cand.posts.sort()
        _plan(cand)
    ranked = sorted(
        found.values(),
        key=lambda c: (-len(c.posts), -c.mean_offer, -c.max_offer, -c.mentions, c.key),
    )
    return ranked[:limit] if limit else ranked


def suggest_sources(
    store: Any,
    sources_file: str | Path | None,
    *,
    limit: int | None = None,
    max_chars: int = _LIMITS.discover_chars,
) -> list[Candidate]:
    """Places the currently flagged posts point to that no source crawls yet, best first:
    most flagged posts, then the highest mean and maximum P(offer).

    Sources already in ``sources_file`` and each post's own channel or site are left out.
    Reads the store only; nothing is fetched.
    """
    known = known_sources(sources_file)
    candidates = collect(store.iter_flagged(), known, limit=limit, max_chars=max_chars)
    logger.info("source discovery: %s candidates", len(candidates))
    return candidates


@dataclass
class Added:
    """What ``add_source`` wrote."""

    source: str
    entry: dict[str, Any]
    candidate: Candidate
    sources_file: Path


def _normalise_key(key: str) -> str:
    key = key.strip()
    link = telegram_link(key, "link") if re.search(r"(t|telegram)\.(me|dog)/", key) else None
    if link is not None:
        return link.key
    return key.lower().removeprefix("@").removeprefix("telegram-")


def add_source(
    store: Any, sources_file: str | Path, key: str, *, user: str, now: datetime | None = None
) -> Added:
    """Approve candidate ``key``: append its source to ``sources_file`` (comments and
    other content kept) and audit who added which candidate on what evidence.

    Raises SourceError when there is no such candidate or it cannot be a source (an
    invite link, a site without a preset), naming what to do instead.
    """
    path = Path(sources_file)
    wanted = _normalise_key(key)
    candidates = suggest_sources(store, path)
    cand = next((c for c in candidates if c.key.lower() == wanted.lower()), None)
    if cand is None:
        known = known_sources(path)
        if f"telegram-{wanted}" in known.names or wanted in known.channels | known.hosts:
            raise SourceError(f"{key} is already a source in {path} — nothing to add")
        raise SourceError(
            f"no candidate {key!r} among the flagged posts — list them with "
            f"`signalering sources suggest --sources {path}`"
        )
    if cand.entry is None:
        raise SourceError(f"candidate {cand.key} cannot be added: {cand.reason}")
    when = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    comment = (
        f"added by {user} on {when} (signalering sources add): {len(cand.posts)} flagged "
        f"posts point here, {cand.mentions} links, max P(offer) {cand.max_offer:.2f}"
    )
    before = append_source(path, cand.entry, comment=comment)
    detail = {
        "source": cand.entry["name"],
        "kind": cand.entry["kind"],
        "start_urls": cand.entry["start_urls"],
        "flagged_posts": len(cand.posts),
        "post_ids": cand.posts[:50],
        "mentions": cand.mentions,
        "how": cand.how,
        "max_offer": cand.max_offer,
        "mean_offer": cand.mean_offer,
        "sources_file": str(path),
    }
    try:
        store.audit(user, "source.add", f"candidate:{cand.key}", detail)
    except BaseException:
        path.write_text(before, encoding="utf-8")  # no source without its audit line
        raise
    logger.info("source %s added to %s by %s", cand.entry["name"], path, user)
    return Added(cand.entry["name"], cand.entry, cand, path)


def render_entry(entry: dict[str, Any], *, indent: str, comment: str) -> str:
    """One source as block YAML under a list indent (JSON scalars are valid YAML)."""

    def scalar(value: Any) -> str:
        plain = isinstance(value, str) and _PLAIN.fullmatch(value) and value not in _YAML_WORDS
        return value if plain else json.dumps(value, ensure_ascii=False)

    lines = [f"{indent}# {comment}"]
    for i, (name, value) in enumerate(entry.items()):
        lead = f"{indent}- " if i == 0 else f"{indent}  "
        if isinstance(value, list):
            rendered = "[" + ", ".join(scalar(v) for v in value) + "]"
        else:
            rendered = scalar(value)
        lines.append(f"{lead}{name}: {rendered}")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time (the CLI and the review app may add at once)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def append_source(path: Path, entry: dict[str, Any], *, comment: str) -> str:
    """Append ``entry`` to the ``sources:`` list of ``path`` as text, so every other line
    and comment stays as it was; the result is validated before it replaces the file.
    Returns the file's previous text."""
    from spiders.sources import load_sources

    with _locked(path.resolve().parent):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"sources file {path} not found — pass --sources PATH") from None
        lines = text.splitlines(keepends=True)
        start = next((i for i, ln in enumerate(lines) if re.match(r"sources:", ln)), None)
        if start is None or not re.match(r"sources:\s*(#.*)?$", lines[start]):
            raise ConfigError(
                f"{path}: no block-style `sources:` list to append to — add the source by hand"
            )
        end = next(
            (i for i in range(start + 1, len(lines)) if re.match(r"[^\s#-]", lines[i])),
            len(lines),
        )
        content = [
            i
            for i in range(start + 1, end)
            if lines[i].strip() and not lines[i].lstrip().startswith("#")
        ]
        item = next((re.match(r"(\s*)- ", lines[i]) for i in content if "- " in lines[i]), None)
        indent = item.group(1) if item else "  "
        at = (content[-1] + 1) if content else start + 1
        if at > 0 and not lines[at - 1].endswith("\n"):
            lines[at - 1] += "\n"
        block = ("\n" if content else "") + render_entry(entry, indent=indent, comment=comment)
        new_text = "".join(lines[:at]) + block + "".join(lines[at:])
        tmp = path.with_name(f".{path.name}.new")
        tmp.write_text(new_text, encoding="utf-8")
        try:
            shutil.copymode(path, tmp)
            names = [s.name for s in load_sources(tmp)]
            if entry["name"] not in names:
                raise ConfigError(f"{path}: the appended source did not parse")
        except SignaleringError:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return text
