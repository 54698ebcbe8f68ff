from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from signalering import corpus
from signalering.classify import Classifier
from signalering.errors import ModelError
from signalering.evaluate import evaluate_classifier
from signalering.text import normalise


@pytest.fixture(scope="module")
def model(trained_model: Path) -> Classifier:
    return Classifier.load(trained_model)


@pytest.fixture(scope="module")
def held_out() -> list[dict]:
    _, test = corpus.family_split(corpus.load(), test_size=0.25, seed=0)
    return test


def test_held_out_quality_is_far_above_chance(model: Classifier, held_out: list[dict]) -> None:
    m = evaluate_classifier(model, held_out)
    assert m["per_label"]["offer"]["f1"] >= 0.85
    assert m["macro_f1"] >= 0.75
    # Probabilities are calibrated well enough to act on: far better than the
    # 0.75 multi-class Brier score of always predicting the class frequencies.
    assert m["calibration"]["brier_multiclass"] < 0.3


def test_probabilities_cover_the_four_labels_and_sum_to_one(model: Classifier) -> None:
    texts = [
        "Boat from Zuwara to Lampedusa, 3500 euro, whatsapp +218 91 234 5678",
        "Ferry tickets Calais-Dover",
    ]
    proba = model.predict_proba([normalise(t).text for t in texts])
    assert sorted(model.labels) == ["offer", "request", "unrelated", "warning"]
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_evidence_spans_point_into_the_original_text(model: Classifier) -> None:
    text = (
        "🚤🇮🇹 رحلة مضمونة ١٠٠٪ من زوارة الى لامبيدوزا، السعر ٣٥٠٠ يورو للشخص. واتساب ٠٠٢١٨٩١٢٣٤٥٦٧٨"
    )
    (pred,) = model.predict([normalise(text)], explain="all")
    assert pred.evidence, "an explained prediction carries evidence spans"
    for span in pred.evidence:
        assert span["text"] == text[span["start"] : span["end"]]
        assert span["text"].strip() == span["text"] and span["weight"] > 0


def test_features_and_evidence_are_the_pipelines_own_on_every_pass(trained_model: Path) -> None:
    # The classifier counts n-grams from a per-word cache; the rows must be exactly the
    # fitted pipeline's, and a cached second pass must explain exactly like the first.
    fresh = Classifier.load(trained_model)
    odd = ["", " ", "a", "İstanbul ΣΟΦΟΣ σοφος", "x\u00a0y\tz\n\nw", "ا", "🔟 1️⃣", "word " * 40]
    texts = [normalise(r["text"]) for r in corpus.load()[:300]] + [normalise(t) for t in odd]
    expected = fresh.pipeline.named_steps["features"].transform([n.text for n in texts]).tocsr()
    first = fresh.predict(texts, explain="all")
    for _ in range(2):
        got = fresh._features([n.text for n in texts])
        assert np.array_equal(got.indptr, expected.indptr)
        assert np.array_equal(got.indices, expected.indices)
        assert np.array_equal(got.data, expected.data) and got.dtype == expected.dtype
    assert fresh.predict(texts, explain="all") == first
    assert sum(bool(p.evidence) for p in first) > 200


def test_hostile_and_odd_inputs_still_get_a_prediction(model: Classifier) -> None:
    odd = [
        "",
        "🚤🚤🚤🔥🔥",
        "x" * 1_000_000,
        "\x00\x01\ufffd\udcff garbage \x7f",
        "boat قارب лодка ጀልባ 船",
    ]
    preds = model.predict([normalise(t) for t in odd], explain="all")
    assert len(preds) == len(odd)
    for pred in preds:
        assert pred.label in model.labels
        assert abs(sum(pred.scores.values()) - 1.0) < 1e-3


def test_saved_model_reloads_with_identical_probabilities(
    model: Classifier, tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    again = Classifier.load(tmp_path / "m")
    texts = [normalise("Lorry to UK guaranteed, pay on arrival").text]
    assert np.allclose(model.predict_proba(texts), again.predict_proba(texts))
    assert again.version == model.version


def test_a_model_file_with_foreign_code_is_refused(model: Classifier, tmp_path: Path) -> None:
    folder = tmp_path / "evil"
    folder.mkdir()
    sio.dump(make_pipeline(FunctionTransformer(func=eval)), folder / "model.skops")
    (folder / "model.json").write_text("{}")
    with pytest.raises(ModelError, match="untrusted"):
        Classifier.load(folder)


def test_missing_model_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="signalering train"):
        Classifier.load(tmp_path / "nothing-here")
