"""`--config X` holds for every command that fills one store: crawl, run and rescore.

Each command runs as the user runs it (the ``signalering`` binary, in a folder without a
signalering.toml), against a real crawl of the Telegram fixture site on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from crawling import REPO

from signalering.model.classifier import Classifier
from signalering.post import Post
from signalering.privacy import pseudonymise
from signalering.store import Store

BIN = Path(sys.executable).with_name("signalering")
KEY = "a-key-that-is-not-the-default"
PHONE = "+33655001122"  # in overtocht's and vluchtroute's Dunkirk offer


def _config(folder: Path, model_dir: Path, name: str, **sections: dict[str, object]) -> Path:
    """A signalering.toml with this store, home, model and key, plus ``sections``."""
    toml = {
        "paths": {"home": str(folder / "home")},
        "database": {"url": f"sqlite:///{folder / 'store.sqlite3'}"},
        "model": {"path": str(model_dir)},
        "privacy": {"pseudonym_key": KEY},
    }
    for section, values in sections.items():
        toml[section] = {**toml.get(section, {}), **values}
    lines = []
    for section, values in toml.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def signalering(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``signalering --config CONFIG ARGS`` in the config's folder, with no SIGNALERING_*
    variable in the environment: nothing but the file configures it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALERING_")}
    result = subprocess.run(
        [str(BIN), "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def filled(
    tmp_path_factory: pytest.TempPathFactory, trained_model: Path
) -> Iterator[tuple[Path, dict[str, Path]]]:
    """One store filled by a scored crawl, an unscored crawl, `run --input` and `rescore`.

    Crawl and run use ``threshold = 0.0`` (every post flagged by the classifier) without
    similarity; rescore uses ``threshold = 1.0`` (none) and the similarity rule ``or`` at
    cosine 0.5 with one nearest offer. The default config (0.5, ``logistic`` at 0.98, k 3,
    models/default, a random key) would give other flags, evidence and pseudonyms.
    """
    from signalering.demo.server import serve_site

    folder = tmp_path_factory.mktemp("carried")
    configs = {
        "ingest": _config(
            folder, trained_model, "ingest.toml", model={"threshold": 0.0},
            similarity={"enabled": False},
        ),
        "rescore": _config(
            folder, trained_model, "rescore.toml", model={"threshold": 1.0},
            similarity={"rule": "or", "flag_cosine": 0.5, "k": 1},
        ),
    }  # fmt: skip
    posts = folder / "posts.jsonl"
    posts.write_text(
        json.dumps(
            {"text": "Dunkirk to UK crossing this week, WhatsApp 0033 655 001 122", "source": "in"}
        )
        + "\n",
        encoding="utf-8",
    )
    with serve_site(REPO / "tests" / "fixtures" / "sites" / "telegram") as base:
        ingest = configs["ingest"]
        signalering(ingest, "crawl", "--kind", "telegram", "--url", f"{base}/s/overtocht")
        signalering(
            ingest, "crawl", "--no-score", "--kind", "telegram", "--url", f"{base}/s/vluchtroute"
        )
    signalering(configs["ingest"], "run", "--input", str(posts))
    signalering(
        configs["rescore"], "rescore", "--model", str(trained_model), "--similar", "--workers", "1"
    )
    yield folder, configs


def _posts(folder: Path) -> list[Post]:
    with Store.open(f"sqlite:///{folder / 'store.sqlite3'}", migrate=False) as store:
        return list(store.iter_posts())


def _by_source(folder: Path) -> dict[str, list[Post]]:
    out: dict[str, list[Post]] = {}
    for post in _posts(folder):
        out.setdefault(post.source or "", []).append(post)
    return out


@pytest.mark.slow
def test_a_crawl_scores_with_the_threshold_and_model_of_its_config(
    tmp_path: Path, trained_model: Path
) -> None:
    from signalering.demo.server import serve_site

    config = _config(
        tmp_path, trained_model, "x.toml", model={"threshold": 0.0}, similarity={"enabled": False}
    )
    sources = tmp_path / "sources.yaml"
    with serve_site(REPO / "tests" / "fixtures" / "sites" / "telegram") as base:
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - {{name: {name}, kind: telegram, start_urls: ['{base}/s/{name}']}}\n"
                for name in ("grensreizen", "overtocht")
            ),
            encoding="utf-8",
        )
        signalering(config, "crawl", "--sources", str(sources))

    posts = _posts(tmp_path)
    assert len(posts) == 21 + 3
    # threshold 0.0: every post is flagged, the unrelated ones too (0.5 would not).
    assert all(p.flagged for p in posts)
    assert {p.label for p in posts} != {"offer"}
    assert {p.model_version for p in posts} == {Classifier.load(trained_model).version}
    # Contacts are pseudonymised with the config's key.
    phones = [e for p in posts for e in (p.entities or {}).get("phones", [])]
    assert {e["value"] for e in phones} == {PHONE, "+218920007777"}
    assert all(
        e["pseudonym"] == pseudonymise(e["value"], KEY.encode(), kind="phone") for e in phones
    )


@pytest.mark.slow
def test_one_phone_number_has_one_pseudonym_across_crawl_run_and_rescore(filled) -> None:
    folder, _ = filled
    expected = pseudonymise(PHONE, KEY.encode(), kind="phone")
    by_source = _by_source(folder)
    found = {}
    for source in ("telegram-overtocht", "telegram-vluchtroute", "in"):
        phones = [
            e
            for p in by_source[source]
            for e in (p.entities or {}).get("phones", [])
            if e["value"] == PHONE
        ]
        assert phones, f"{source}: no {PHONE} stored"
        found[source] = {e["pseudonym"] for e in phones}
    # overtocht: scored crawl; vluchtroute: stored unscored, extracted by rescore; in: run.
    assert found == {s: {expected} for s in found}


@pytest.mark.slow
def test_rescore_flags_and_shows_evidence_by_the_similarity_settings_of_its_config(
    filled,
) -> None:
    folder, _ = filled
    posts = _posts(folder)
    assert posts
    rules = [e for p in posts for e in p.evidence or [] if e.get("kind") == "rule"]
    # threshold 1.0: the classifier flags nothing; rule "or" at 0.5 flags the offers.
    assert rules and {e["rule"] for e in rules} == {"or"}
    assert all(">= 0.5 like a known offer" in e["text"] for e in rules)
    assert all(p.flagged == any(e.get("kind") == "rule" for e in p.evidence or []) for p in posts)
    # k = 1: one nearest known offer at most (the default shows three).
    assert max(sum(e.get("kind") == "similar" for e in p.evidence or []) for p in posts) == 1
