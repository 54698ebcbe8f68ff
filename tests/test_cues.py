from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signalering import corpus
from signalering.cues import CueFeatures, load_lexicon
from signalering.errors import ConfigError
from signalering.model.classifier import Classifier
from signalering.text import normalise


def slots(text: str) -> set[str]:
    f = CueFeatures().fit([])
    return {slot for slot, *_ in f.matches(normalise(text).text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Safe journey from Calais to the UK. 23K euro.", {"crossing", "payment", "guarantee"}),
        (
            "Trip is tomorrow, 100% sure, contact me DM",
            {"schedule", "guarantee", "private_contact"},
        ),
        ("رحلة مضمونة، الدفع بعد الوصول، للتواصل واتساب", {"crossing", "guarantee", "payment"}),
        ("Viaje seguro a Estados Unidos, escríbeme al privado", {"crossing", "private_contact"}),
        ("Drivers wanted, easy money, no questions asked", {"recruitment"}),
    ],
)
def test_offer_cues_are_found_in_terse_ads_in_several_languages(
    text: str, expected: set[str]
) -> None:
    assert expected <= slots(text)


def test_reporting_and_legal_business_have_their_own_slots() -> None:
    assert "reporting" in slots("Police arrested three smugglers, the court said on Monday")
    assert "legal_business" in slots("Book your ferry tickets Calais–Dover online, return ticket")


def test_a_cue_is_data_a_new_lexicon_changes_features_without_code(tmp_path: Path) -> None:
    lexicon = tmp_path / "cues.yaml"
    lexicon.write_text(
        "slots:\n  crossing:\n    side: offer\n    label: Crossing\n    cues:\n      hu: [átjutás]\n",
        encoding="utf-8",
    )
    features = CueFeatures(lexicon=str(lexicon)).fit([])
    rows = features.transform([normalise("Biztos átjutás Ausztriába").text, "semmi"])
    assert rows.shape == (2, 2) and rows[0, 0] == 1.0 and rows[1, 0] == 0.0


def test_a_broken_lexicon_is_one_line_naming_the_file(tmp_path: Path) -> None:
    lexicon = tmp_path / "cues.yaml"
    lexicon.write_text("slots:\n  crossing:\n    label: no side and no cues\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"cue slot 'crossing' in .*cues.yaml needs"):
        load_lexicon(lexicon)


def test_every_packaged_slot_has_cues_in_the_route_languages() -> None:
    from importlib import resources

    import yaml

    raw = yaml.safe_load(resources.files("signalering").joinpath("data", "cues.yaml").read_text())
    for slot, spec in raw["slots"].items():
        missing = {"en", "ar", "fa", "ps", "ckb", "tr", "sq", "fr", "es"} - set(spec["cues"])
        assert not missing, f"{slot} lacks cues in {sorted(missing)}"


@pytest.fixture(scope="module")
def cue_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train, _ = corpus.family_split(corpus.load(), test_size=0.25, seed=0)
    out = tmp_path_factory.mktemp("cues") / "model"
    return Classifier.train(train, features="tfidf+cues").save(out)


def test_a_model_with_cues_saves_loads_and_names_the_cues_as_evidence(cue_model: Path) -> None:
    clf = Classifier.load(cue_model)
    text = "🚤 Guaranteed trip to the UK tomorrow, 2000 euro per person, pay on arrival. DM me"
    (pred,) = clf.predict([normalise(text)], explain="all")
    assert pred.flagged
    cues = [e for e in pred.evidence if e.get("cue")]
    assert {"guarantee", "payment"} <= {e["cue"] for e in cues}
    for e in cues:
        assert e["text"] == text[e["start"] : e["end"]] and e["weight"] > 0
    # The fast feature path and the pipeline's own transform give the same rows.
    texts = [normalise(t).text for t in (text, "Ferry tickets Calais-Dover", "")]
    fast = clf._features(texts).toarray()
    slow = clf.pipeline.named_steps["features"].transform(texts)
    slow = slow.toarray() if hasattr(slow, "toarray") else slow
    assert np.allclose(fast, slow)
