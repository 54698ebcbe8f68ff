"""A store built from the real corpus through the real pipeline, plus planted posts.

The planted posts form one messaging theme no corpus post talks about (camel
caravans across the Sahara with solar water tanks) and all make one claim (children
travel free); each carries its own phone number, handle, link and author so the
report can be checked for leaks.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from signalering import corpus
from signalering.model.classifier import Classifier
from signalering.pipeline import Stages
from signalering.post import Post
from signalering.store import Store

START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday
WEEKS = 8
N_PLANTED = 36
PLANTED_OPENERS = [
    "Camel caravan across the Sahara",
    "Sahara crossing by camel caravan",
    "Our camel caravan leaves Agadez",
    "Desert camel caravan, the old way",
]
PLANTED_BODIES = [
    "solar water tanks on every camel, dune guides who know the oasis wells",
    "each camel carries solar water tanks, our dune guides sleep at the oasis",
    "dune guides and solar water tanks, rest at the oasis every night",
]
PLANTED_CLOSERS = [
    "children travel free, no papers needed, smuggling to Libya then boat to Italy",
    "children travel free! no papers, we smuggle you to Libya and on to Italy by boat",
    "no passport needed, children travel free, Libya then the boat to Italy",
]
FIRST_NAMES = ["Kareem", "Yusuf", "Mahmoud", "Idris", "Tesfay", "Hamid"]


@dataclass(frozen=True)
class CampaignCorpus:
    url: str
    posts: list[Post]  # as stored, after the pipeline
    planted: list[Post]
    phones: list[str]  # E.164 numbers planted
    handles: list[str]
    links: list[str]
    authors: list[str]


def planted_posts(seed: int = 7) -> tuple[list[Post], list[str], list[str], list[str], list[str]]:
    rng = random.Random(seed)
    posts, phones, handles, links, authors = [], [], [], [], []
    for i in range(N_PLANTED):
        phone = f"+2189{rng.randrange(10_000_000, 99_999_999)}"
        handle = f"caravan_{rng.choice(['sahara', 'oasis', 'dune'])}_{i:02d}"
        link = f"https://caravan-{i:02d}.example.org/join?ref={rng.randrange(1000, 9999)}"
        author = f"{rng.choice(FIRST_NAMES)} Qadiri{i:02d}"
        text = (
            f"🐪 {rng.choice(PLANTED_OPENERS)} from Agadez to Sabha\n"
            f"{rng.choice(PLANTED_BODIES)}\n"
            f"{rng.choice(PLANTED_CLOSERS)}\n"
            f"WhatsApp {phone} · telegram @{handle} · {link}"
        )
        posts.append(
            Post(
                text=text,
                source="planted-forum",
                kind="forum",
                post_id=f"planted-{i}",
                url=link,
                author=author,
                posted_at=(START + timedelta(days=rng.randrange(7 * WEEKS))).isoformat(),
            )
        )
        phones.append(phone)
        handles.append(handle)
        links.append(link)
        authors.append(author)
    return posts, phones, handles, links, authors


def corpus_posts(seed: int = 3) -> list[Post]:
    rng = random.Random(seed)
    out = []
    for record in corpus.load():
        out.append(
            Post(
                text=record["text"],
                source=f"corpus-{record['source_kind']}",
                kind=record["source_kind"],
                post_id=record["id"],
                url=f"https://example.net/{record['id']}",
                author=f"user{rng.randrange(10**6)}",
                posted_at=(START + timedelta(hours=rng.randrange(24 * 7 * WEEKS))).isoformat(),
            )
        )
    return out


@pytest.fixture(scope="session")
def campaign_corpus(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CampaignCorpus]:
    """A SQLite store with the whole corpus and the planted posts, scored and extracted."""
    url = f"sqlite:///{tmp_path_factory.mktemp('campaign') / 'store.db'}"
    stages = Stages(Classifier.load(trained_model))
    planted, phones, handles, links, authors = planted_posts()
    processed = stages.process(corpus_posts() + planted)
    with Store.open(url, pseudonym_key=b"campaign-test") as store:
        store.save_posts(processed)
    yield CampaignCorpus(
        url=url,
        posts=processed,
        planted=processed[-N_PLANTED:],
        phones=phones,
        handles=handles,
        links=links,
        authors=authors,
    )
