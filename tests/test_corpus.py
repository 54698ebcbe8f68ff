"""The annotated seed corpus: its checks, its family split, its loader and its generator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from signalering import corpus
from signalering.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "annotaties" / "build_corpus.py"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return corpus.load()


def run_build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BUILD), "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_committed_corpus_passes_every_check(records: list[dict]) -> None:
    assert corpus.check(records) == []
    assert len(records) >= 2500


def test_every_language_has_enough_posts_of_every_label(records: list[dict]) -> None:
    table = corpus.summary(records)
    for lang in ("en", "nl", "de", "fr", "tr", "sq", "vi", "uk", "ru"):
        row = table[lang]
        assert sum(row.values()) >= 130, lang
        assert min(row.values()) >= 0.1 * sum(row.values()), (lang, row)


def test_check_reports_duplicate_ids_bad_phones_and_shared_texts(records: list[dict]) -> None:
    broken = [dict(r) for r in records[:200]]
    broken[1]["id"] = broken[0]["id"]
    broken[2]["entities"] = {**broken[2]["entities"], "phones": ["+4470090012"]}
    other_family = next(r for r in broken if r["family"] != broken[3]["family"])
    broken[3]["text"] = other_family["text"]
    broken[4]["label"] = "advert"
    problems = "\n".join(corpus.check(broken))
    assert f"{broken[0]['id']}: id used 2 times" in problems
    assert "+4470090012" in problems
    assert "same text in families" in problems
    assert "unknown label 'advert'" in problems


def test_check_reports_a_language_without_enough_hard_negatives(records: list[dict]) -> None:
    softened = [{**r, "hard_negative": False} if r["lang"] == "nl" else r for r in records]
    assert any("nl:" in p and "hard negatives" in p for p in corpus.check(softened))


def test_family_split_leaks_no_family_and_tests_offers_in_every_language(
    records: list[dict],
) -> None:
    train, test = corpus.family_split(records, test_size=0.25, seed=0)
    assert len(train) + len(test) == len(records)
    assert not {r["family"] for r in train} & {r["family"] for r in test}
    offer_families = defaultdict(set)
    for r in records:
        if r["label"] == "offer":
            offer_families[r["lang"]].add(r["family"])
    test_offer_langs = {r["lang"] for r in test if r["label"] == "offer"}
    for lang, fams in offer_families.items():
        if len(fams) >= 2:
            assert lang in test_offer_langs, lang
    assert 0.15 <= len(test) / len(records) <= 0.35


def test_family_split_keeps_translation_families_whole(records: list[dict]) -> None:
    langs_of = defaultdict(set)
    for r in records:
        langs_of[r["family"]].add(r["lang"])
    translated = {f for f, langs in langs_of.items() if len(langs) > 1}
    assert translated, "the corpus should hold translation families"
    train, test = corpus.family_split(records, seed=3)
    assert not translated & {r["family"] for r in train} & {r["family"] for r in test}


def test_family_split_is_deterministic_and_seed_dependent(records: list[dict]) -> None:
    ids = lambda part: [r["id"] for r in part]  # noqa: E731
    a = corpus.family_split(records, seed=1)[1]
    b = corpus.family_split(records, seed=1)[1]
    c = corpus.family_split(records, seed=2)[1]
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)


def test_evaluate_warns_when_the_corpus_changed_since_training(
    records: list[dict], trained_model: Path
) -> None:
    """A new template family reshuffles the family split: a model trained before it would
    be measured on posts it learned from. Its card keeps the fingerprint of its training
    part, and `evaluate` says the hold-out is stale until the model is retrained."""
    from signalering.evaluate import holdout_stale
    from signalering.model.classifier import Classifier

    split = Classifier.load(trained_model).meta["split"]
    assert holdout_stale(split, corpus.family_split(records, seed=split["seed"])[0]) is None

    new_family = [
        {**r, "id": f"{r['id']}-x", "family": "zz-offer-new-family-01"}
        for r in records
        if r["family"] == records[0]["family"]
    ]
    changed = corpus.family_split(records + new_family, seed=split["seed"])[0]
    message = holdout_stale(split, changed)
    assert message and "run `signalering train`" in message
    # A card written before the fingerprint existed is not second-guessed.
    assert holdout_stale({"seed": 0}, changed) is None


def test_load_raises_on_a_broken_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "corpus.jsonl"
    good = json.dumps({"id": "en-1", "text": "hi"})
    path.write_text(f"{good}\n{good}\n{{not json\n{good}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"corpus\.jsonl:3: not valid JSON"):
        corpus.load(path)


def test_load_names_the_generator_when_the_corpus_is_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="build_corpus.py"):
        corpus.load(tmp_path / "absent.jsonl")


@pytest.mark.slow
def test_generator_renders_the_same_corpus_twice(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for out in (first, second):
        result = run_build("--out", str(out))
        assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()
    assert len(corpus.load(first)) >= 2500


def test_generator_rejects_an_unknown_slot_naming_file_and_family(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(
        "lang: en\nfamilies:\n"
        "  - family: en-offer-email-01\n    label: offer\n    source_kind: forum\n"
        "    text: 'write to {email:boss@example.org} for the game'\n",
        encoding="utf-8",
    )
    result = run_build("--templates", str(tmp_path), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "en.yaml" in lines[0] and "en-offer-email-01" in lines[0] and "email" in lines[0]
    assert not (tmp_path / "out.jsonl").exists()


def test_generator_rejects_a_broken_reposts_file_naming_file_and_key(tmp_path: Path) -> None:
    reposts = tmp_path / "reposts.yaml"
    good = (ROOT / "annotaties" / "lexicons" / "reposts.yaml").read_text(encoding="utf-8")
    reposts.write_text(good.replace("  nl:\n    offer:", "  nl:\n    ofer:", 1), encoding="utf-8")
    result = run_build("--reposts", str(reposts), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "reposts.yaml" in lines[0] and "edits.nl.ofer" in lines[0]
    assert not (tmp_path / "out.jsonl").exists()


def test_generator_rejects_an_invalid_phone(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text(
        "lang: en\nfamilies:\n"
        "  - family: en-offer-uk-01\n    label: offer\n    source_kind: forum\n"
        "    text: 'call {phone:+447700900123}'\n",
        encoding="utf-8",
    )
    result = run_build("--templates", str(tmp_path), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    assert "en-offer-uk-01" in result.stderr and "+447700900123" in result.stderr


def test_generated_gold_matches_the_rendered_variants(tmp_path: Path) -> None:
    (tmp_path / "de.yaml").write_text(
        "lang: de\nfamilies:\n"
        "  - family: de-offer-lkw-01\n    label: offer\n    source_kind: telegram\n"
        "    variants: 8\n"
        "    text: 'Mit dem LKW von {place:Calais} nach {place:United Kingdom}, "
        "{price:2500 GBP}, Kontakt {phone:+33612345678} {handle:signal:Kapitan.K}'\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert run_build("--templates", str(tmp_path), "--out", str(out)).returncode == 0
    rows = corpus.load(out)
    assert len(rows) == 8 and len({r["text"] for r in rows}) == 8
    for row in rows:
        ents = row["entities"]
        assert ents["places"] == ["Calais", "United Kingdom"]
        assert ents["handles"] == [{"platform": "signal", "value": "kapitan.k"}]
        assert ents["prices"][0]["currency"] == "GBP"
        assert ents["phones"][0].startswith("+336")
        assert "{" not in row["text"]
    assert corpus.check(rows) and all(
        "de: 8 posts" in p or "de: label" in p or "hard" in p for p in corpus.check(rows)
    )
