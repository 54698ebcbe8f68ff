from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from signalering import corpus
from signalering.errors import ModelError
from signalering.model.arrays import ARRAYS_FILE
from signalering.model.classifier import MODEL_FORMAT, TABLES_FILE, Classifier
from signalering.model.metrics import evaluate_classifier
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
    assert m.per_label["offer"].f1 >= 0.85
    assert m.macro_f1 >= 0.75
    # Probabilities are calibrated well enough to act on: far better than the
    # 0.75 multi-class Brier score of always predicting the class frequencies.
    assert m.calibration["brier_multiclass"] < 0.3


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


def _corpus_texts() -> list[str]:
    return [normalise(r["text"]).text for r in corpus.load()]


def test_a_saved_model_predicts_bit_identically_after_loading(
    model: Classifier, tmp_path: Path
) -> None:
    texts = _corpus_texts()
    model.save(tmp_path / "m")
    again = Classifier.load(tmp_path / "m")
    assert np.array_equal(model.predict_proba(texts), again.predict_proba(texts))
    normed = [normalise(r["text"]) for r in corpus.load()[:200]]
    assert again.predict(normed, explain="all") == model.predict(normed, explain="all")
    assert again.meta == model.meta
    before = dict(model.pipeline.named_steps["features"].transformer_list)["char"].vocabulary_
    after = dict(again.pipeline.named_steps["features"].transformer_list)["char"].vocabulary_
    assert list(after.items()) == list(before.items())
    assert {type(v) for v in after.values()} == {type(v) for v in before.values()}


def test_the_vocabulary_is_kept_out_of_the_skops_file(model: Classifier, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "m")
    with zipfile.ZipFile(folder / "model.skops") as z:
        members = len(z.namelist())
    vocabulary = dict(model.pipeline.named_steps["features"].transformer_list)["char"].vocabulary_
    assert members < 100 < len(vocabulary), "the n-grams are not one skops member each"
    saved = json.loads((folder / TABLES_FILE).read_text(encoding="utf-8"))
    assert saved["format"] == MODEL_FORMAT
    assert any(t["keys"] == list(vocabulary) for t in saved["tables"])
    # The model in memory keeps its vocabulary while and after it is saved.
    assert len(model.pipeline.named_steps["features"].transformer_list[0][1].vocabulary_)


def test_any_estimators_large_dicts_round_trip_not_only_the_char_vectoriser(
    tmp_path: Path,
) -> None:
    # Other feature sets (word n-grams, a fixed lexicon) keep working when the model's
    # features change: every large str-keyed dict attribute moves, whoever owns it.
    records = corpus.load()
    texts = [normalise(r["text"]).text for r in records]
    words = sorted({w for t in texts for w in t.lower().split()})[:2000]
    lexicon = {w: i for i, w in enumerate(words)}  # plain ints, as a user would give them
    union = FeatureUnion(
        [
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2)),
            ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), dtype=np.float32)),
            ("lexicon", CountVectorizer(vocabulary=lexicon, binary=True)),
        ]
    )
    pipe = Pipeline([("features", union), ("clf", LogisticRegression(max_iter=300))])
    pipe.fit(texts, [r["label"] for r in records])
    original = Classifier(pipe, {"version": "generic-test"})
    original.save(tmp_path / "g")
    again = Classifier.load(tmp_path / "g")
    assert np.array_equal(original.predict_proba(texts), again.predict_proba(texts))
    tables = json.loads((tmp_path / "g" / TABLES_FILE).read_text(encoding="utf-8"))["tables"]
    assert len(tables) == 4, "char and word vocabularies, the lexicon parameter and its copy"
    counter = again.pipeline.named_steps["features"].transformer_list[2][1]
    assert counter.vocabulary == lexicon and counter.vocabulary_ == lexicon
    assert {type(v) for v in counter.vocabulary_.values()} == {int}


def test_a_model_saved_in_the_old_format_says_to_retrain(model: Classifier, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "old")
    # Format 1 (before the tables file): everything, vocabulary included, in model.skops,
    # and no array form either.
    sio.dump(model.pipeline, folder / "model.skops")
    (folder / TABLES_FILE).unlink()
    (folder / ARRAYS_FILE).unlink()
    with pytest.raises(ModelError, match=r"no model.tables.json .*run `signalering train") as exc:
        Classifier.load(folder)
    assert "\n" not in str(exc.value)
    future = model.save(tmp_path / "future")
    (future / TABLES_FILE).write_text(json.dumps({"format": MODEL_FORMAT + 1, "tables": []}))
    with pytest.raises(ModelError, match="signalering train"):
        Classifier.load(future).pipeline  # noqa: B018 (reading the pipeline is the test)


def test_a_tables_file_that_does_not_match_the_model_is_refused(
    model: Classifier, tmp_path: Path
) -> None:
    folder = model.save(tmp_path / "m")
    saved = json.loads((folder / TABLES_FILE).read_text(encoding="utf-8"))
    (folder / TABLES_FILE).write_text(json.dumps({**saved, "tables": []}), encoding="utf-8")
    # The arrays predict without the tables; reading the pipeline finds them wrong.
    with pytest.raises(ModelError, match="unreadable"):
        Classifier.load(folder).pipeline  # noqa: B018
    (folder / TABLES_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="unreadable"):
        Classifier.load(folder).pipeline  # noqa: B018
    (folder / ARRAYS_FILE).unlink()
    with pytest.raises(ModelError, match="unreadable"):
        Classifier.load(folder)


def test_an_old_format_model_is_one_line_from_the_cli(model: Classifier, tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = tmp_path / "old"
    shutil.rmtree(folder, ignore_errors=True)
    model.save(folder)
    (folder / TABLES_FILE).unlink()
    (folder / ARRAYS_FILE).unlink()  # format 1 had no array form either
    result = subprocess.run(
        [str(Path(sys.executable).with_name("signalering")), "classify", "--model", str(folder)],
        input=b'{"text": "boat to Lampedusa"}\n',
        capture_output=True,
        timeout=300,
    )
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "signalering train" in err, err


_TRUSTED_NAMES = (
    "from skops.io import _trusted_types as t; "
    "names = {k: getattr(t, k) for k in dir(t) if k.endswith('_NAMES')}; "
)


def test_loading_a_model_leaves_torch_unimported_and_skops_trusting_the_same(
    trained_model: Path,
) -> None:
    # skops' trusted-type list imports every scikit-learn package, one of which imports
    # torch (seconds of a start); reading the pipeline (which classify skips, training and
    # the combiner do not) hides torch, which must not change what skops trusts, and
    # torch must still import afterwards.
    hidden = (
        "import json, sys; from signalering.model.classifier import Classifier; "
        f"Classifier.load({str(trained_model)!r}).pipeline; "
        + _TRUSTED_NAMES
        + "had = 'torch' in sys.modules; "
        "import torch; print(json.dumps([had, torch.ones(2).sum().item(), names]))"
    )
    plain = "import json, torch; " + _TRUSTED_NAMES + "print(json.dumps(names))"
    run = [sys.executable, "-c"]
    had_torch, two, names = json.loads(
        subprocess.run([*run, hidden], capture_output=True, check=True, timeout=300).stdout
    )
    with_torch = json.loads(
        subprocess.run([*run, plain], capture_output=True, check=True, timeout=300).stdout
    )
    assert (had_torch, two) == (False, 2.0)
    assert names == with_torch
    assert len(names["SKLEARN_ESTIMATOR_TYPE_NAMES"]) > 100
