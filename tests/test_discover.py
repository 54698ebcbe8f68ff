"""Source discovery over a real store: candidates, their ranking and evidence, approval."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalering.classify import Classifier
from signalering.discover import add_source, suggest_sources
from signalering.errors import SourceError
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store
from spiders.sources import load_sources

OFFERS = [
    "🚤 Boat from Zuwara to Lampedusa this week, guaranteed 100%, 3500€ per person, "
    "no papers needed. WhatsApp +218 91 555 0101",
    "Crossing to UK by small boat from Dunkirk, 2500 euro per person, safe and fast, "
    "no control. Call +33 6 55 00 11 22",
    "Taxi Turkey → Greece every night, 2000 euro, guaranteed arrival, payment after "
    "arrival. Telegram @fake_driver_tr",
    "Truck from Calais to England, hidden place, 3000 euro, 100% success, contact +44 7700 900555",
    "Boat Libya to Italy leaving Friday, 3000 euro, guaranteed, whatsapp +218 92 000 7777, "
    "places limited",
]
NEWS = "Recipe of the day: lentil soup with cumin and lemon. More recipes"

SOURCES_YAML = """\
# Our sources (this comment stays)
sources:
  # the channel we crawl
  - name: tg-alpha
    kind: telegram
    start_urls: ["https://t.me/s/alpha"]   # trailing comment stays too
  - name: known
    kind: telegram
    start_urls: ["https://t.me/s/known_one"]
  - name: old-forum
    kind: listing
    start_urls: ["https://old-forum.example.org/viewtopic.php?t=1"]

# crawl defaults come after the list
crawl:
  contact: "mailto:team@example.invalid"
"""


def _post(n: int, text: str, **extras: object) -> Post:
    return Post(
        text=text,
        source="tg-alpha",
        kind="telegram",
        post_id=str(n),
        url=f"https://t.me/alpha/{n}",
        posted_at=f"2024-05-{n:02d}T10:00:00+00:00",
        extras={"channel": "alpha", **extras},
    )


POSTS = [
    # bravo: three flagged posts forwarded from it.
    _post(1, OFFERS[0], forwarded_from="Bravo", forwarded_from_url="https://t.me/bravo/11"),
    _post(2, OFFERS[1], forwarded_from="Bravo", forwarded_from_url="https://t.me/bravo/12"),
    _post(3, OFFERS[2], forwarded_from="Bravo", forwarded_from_url="https://t.me/bravo/13"),
    # charlie (links in the text) and delta (a link behind anchor text): two each.
    _post(4, OFFERS[3] + " More: t.me/charlie"),
    _post(5, OFFERS[4] + " https://t.me/charlie/7"),
    _post(6, OFFERS[1] + " join us", links=["https://t.me/delta"]),
    _post(7, OFFERS[0] + " join us", links=["https://t.me/Delta"]),
    # Never candidates: an unflagged post's link, the post's own channel, a known source,
    # a bot (a contact) and a WhatsApp number.
    _post(8, NEWS + " https://t.me/echo_news"),
    _post(9, OFFERS[2] + " https://t.me/alpha and t.me/known_one and t.me/booking_bot"),
    _post(10, OFFERS[3] + " https://wa.me/447700900555"),
    # An invite link, a phpBB topic, a feed and a classifieds ad: one flagged post each.
    _post(11, OFFERS[4] + " group: https://t.me/+AbCdEfGhIjK12345"),
    _post(12, OFFERS[0] + " see https://forum.example.net/viewtopic.php?t=805&sid=abc"),
    _post(13, OFFERS[1] + " news at https://routes.example.com/feed.xml"),
    _post(14, OFFERS[2] + " ad: https://ads.example.com/ad/4411-boat-trip"),
    _post(15, OFFERS[3] + " old: https://old-forum.example.org/viewtopic.php?t=2"),
]


@pytest.fixture(scope="module")
def scored(trained_model: Path) -> list[Post]:
    posts = Stages(Classifier.load(trained_model)).process(POSTS)
    flagged = {p.post_id for p in posts if p.flagged}
    # The fixture is meant this way: every post but the news flagged by the model.
    assert flagged == {str(n) for n in range(1, 16)} - {"8"}, flagged
    return posts


@pytest.fixture
def filled(store: Store, scored: list[Post], tmp_path: Path) -> tuple[Store, Path, dict]:
    store.save_posts(scored)
    ids = {p.post_id: int(p.id) for p in store.iter_posts()}  # type: ignore[arg-type]
    sources = tmp_path / "sources.yaml"
    sources.write_text(SOURCES_YAML, encoding="utf-8")
    return store, sources, ids


def _offer(store: Store, pk: int) -> float:
    post = store.get(pk)
    assert post is not None and post.scores is not None
    return post.scores["offer"]


def test_candidates_rank_by_flagged_posts_then_their_scores(filled) -> None:
    store, sources, ids = filled
    found = {c.key: c for c in suggest_sources(store, sources)}
    ranked = list(found)
    assert ranked[0] == "bravo"  # three flagged posts beat two
    pairs = sorted(
        ("charlie", "delta"), key=lambda k: -sum(_offer(store, pk) for pk in found[k].posts)
    )
    assert ranked[1:3] == pairs  # two each: the higher scores first
    assert all(len(found[k].posts) == 1 for k in ranked[3:])
    for key in ("echo_news", "alpha", "known_one", "booking_bot", "old-forum.example.org"):
        assert key not in found
    assert not any("wa.me" in k for k in found)

    bravo = found["bravo"]
    assert bravo.posts == sorted(ids[n] for n in ("1", "2", "3"))
    assert bravo.how == {"forwarded": 3} and bravo.mentions == 3
    assert (bravo.first_seen, bravo.last_seen) == (
        "2024-05-01T10:00:00+00:00",
        "2024-05-03T10:00:00+00:00",
    )
    offers = [_offer(store, pk) for pk in bravo.posts]
    assert bravo.max_offer == pytest.approx(max(offers), abs=1e-4)
    assert bravo.mean_offer == pytest.approx(sum(offers) / 3, abs=1e-4)
    assert bravo.url == "https://t.me/s/bravo" and bravo.seen_in == ["tg-alpha"]
    assert found["charlie"].how == {"text": 2}
    assert found["delta"].how == {"link": 2}  # t.me/Delta and t.me/delta are one channel
    assert suggest_sources(store, sources, limit=2) == [found["bravo"], found[pairs[0]]]


def test_each_candidate_kind_says_whether_and_how_it_can_be_added(filled) -> None:
    store, sources, _ = filled
    found = {c.key: c for c in suggest_sources(store, sources)}
    assert found["bravo"].entry == {
        "name": "telegram-bravo",
        "kind": "telegram",
        "start_urls": ["https://t.me/s/bravo"],
        "query_allowlist": ["before"],
        "max_posts": 1000,
    }
    forum = found["forum.example.net"]
    assert forum.kind == "forum" and forum.entry is not None
    assert forum.entry["kind"] == "listing" and forum.entry["engine"] == "phpbb"
    assert forum.entry["start_urls"] == ["https://forum.example.net/viewtopic.php?t=805&sid=abc"]
    feed = found["routes.example.com"]
    assert feed.kind == "feed" and feed.entry is not None
    assert feed.entry["start_urls"] == ["https://routes.example.com/feed.xml"]
    ads = found["ads.example.com"]
    assert ads.kind == "web" and not ads.addable and "item:" in (ads.reason or "")
    invite = found["t.me/+AbCdEfGhIjK12345"]
    assert invite.kind == "invite" and not invite.addable and "private group" in invite.reason


def test_an_invite_link_cannot_be_added_and_nothing_is_written(filled) -> None:
    store, sources, _ = filled
    with pytest.raises(SourceError, match="private group"):
        add_source(store, sources, "t.me/+AbCdEfGhIjK12345", user="anna")
    with pytest.raises(SourceError, match="item:"):
        add_source(store, sources, "ads.example.com", user="anna")
    assert sources.read_text(encoding="utf-8") == SOURCES_YAML
    assert not [e for e in store.audit_log() if e["action"] == "source.add"]


def test_adding_appends_to_the_sources_list_keeps_the_rest_and_is_audited(filled) -> None:
    store, sources, ids = filled
    added = add_source(store, sources, "t.me/bravo", user="anna")
    assert added.source == "telegram-bravo"
    text = sources.read_text(encoding="utf-8")
    # The entry is appended to the `sources:` list; every other byte stays as it was.
    start = text.index("\n  # added by anna on ")
    end = text.index("    max_posts: 1000\n") + len("    max_posts: 1000\n")
    assert text[:start] + text[end:] == SOURCES_YAML
    assert text.index("telegram-bravo") < text.index("# crawl defaults come after the list")
    parsed = {s.name: s for s in load_sources(sources)}
    assert list(parsed) == ["tg-alpha", "known", "old-forum", "telegram-bravo"]
    assert parsed["telegram-bravo"].start_urls == ["https://t.me/s/bravo"]
    (entry,) = [e for e in store.audit_log() if e["action"] == "source.add"]
    assert entry["user"] == "anna" and entry["target"] == "candidate:bravo"
    assert entry["detail"]["flagged_posts"] == 3 and entry["detail"]["mentions"] == 3
    assert entry["detail"]["post_ids"] == sorted(ids[n] for n in ("1", "2", "3"))
    # Once a source, never a candidate again; adding it twice is refused.
    assert "bravo" not in {c.key for c in suggest_sources(store, sources)}
    with pytest.raises(SourceError, match="already a source"):
        add_source(store, sources, "bravo", user="anna")
    # A forum link becomes a listing source with its engine preset.
    add_source(store, sources, "forum.example.net", user="anna")
    forum = {s.name: s for s in load_sources(sources)}["forum-forum.example.net"]
    assert forum.kind == "listing" and forum.engine == "phpbb"


def test_an_unknown_candidate_names_the_suggest_command(filled) -> None:
    store, sources, _ = filled
    with pytest.raises(SourceError, match="signalering sources suggest"):
        add_source(store, sources, "nobody_here", user="anna")


def test_discovery_reads_a_huge_post_only_up_to_its_cap() -> None:
    # A stranger's post can be megabytes long with thousands of links: discovery reads
    # the first `limits.discover_chars` characters and the first MAX_LINKS links, so
    # its time and memory do not grow with what a stranger writes.
    from signalering.discover import MAX_LINKS, collect

    filler = "word " * 40_000  # 200,000 characters
    post = _post(
        1,
        "early t.me/early_channel " + filler + " late t.me/late_channel",
        links=[f"https://t.me/link_{i:04d}" for i in range(MAX_LINKS + 50)],
    )
    keys = {c.key for c in collect([post], max_chars=1_000)}
    assert "early_channel" in keys and "late_channel" not in keys
    assert "link_0000" in keys and f"link_{MAX_LINKS - 1:04d}" in keys
    assert f"link_{MAX_LINKS:04d}" not in keys
    # Without a cap below its length, the late link is found.
    assert "late_channel" in {c.key for c in collect([post], max_chars=len(post.text))}
