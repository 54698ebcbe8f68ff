"""The model's array form (model.arrays.npz): what ``classify`` predicts from without
scikit-learn must be what the scikit-learn pipeline predicts, on template and real
texts, with the same evidence; a wrong or broken array file never changes a prediction."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from signalering import corpus
from signalering.model.arrays import ARRAYS_FILE
from signalering.model.classifier import Classifier, fold_case
from signalering.text import normalise

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "models" / "default"
REAL = ROOT / "annotaties" / "real" / "corpus.jsonl"

# Posts a stream brings besides ads: empty, emoji only, one long word, mixed scripts.
ODD = [
    "",
    "ok",
    "😀😀😀",
    "x" * 3000,
    "🚤🇮🇹 رحلة مضمونة ١٠٠٪ من زوارة الى لامبيدوزا، السعر ٣٥٠٠ يورو. واتساب +218 91 234 5678",
    "Lorry to UK, second driver, pay on arrival, write me privately: +33 6 12 34 56 78",
]


def _texts() -> list:
    records = corpus.load()
    real = [json.loads(line)["text"] for line in REAL.read_text(encoding="utf-8").splitlines()]
    return [normalise(t) for t in [r["text"] for r in records[::8]] + real[::2] + ODD]


def _pipeline_twin(loaded: Classifier) -> Classifier:
    """The same model served by its scikit-learn pipeline instead of its arrays."""
    return Classifier(loaded.pipeline, loaded.meta, threshold=loaded.threshold)


def _same_predictions(arrays: Classifier, pipeline: Classifier, texts: list) -> None:
    assert arrays.arrays is not None and pipeline.arrays is None
    plain = [n.text for n in texts]
    assert np.allclose(arrays.predict_proba(plain), pipeline.predict_proba(plain), atol=1e-7)
    got = arrays.predict(texts, explain="all")
    want = pipeline.predict(texts, explain="all")
    # Scores and weights are rounded to 4 decimals; the two computations differ in the
    # last float bits (~1e-9), which can move a rounding by one unit, never more.
    for n, a, p in zip(texts, got, want, strict=True):
        assert (a.label, a.flagged) == (p.label, p.flagged), n.original
        assert _close(a.scores, p.scores), n.original
        assert [_span(e) for e in a.evidence] == [_span(e) for e in p.evidence], n.original
        for e, f in zip(a.evidence, p.evidence, strict=True):
            assert abs(e["weight"] - f["weight"]) <= 1.01e-4, n.original


def _close(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1.01e-4 for k in a)


def _span(e: dict) -> tuple:
    return e["start"], e["end"], e["text"], e.get("cue")


@pytest.fixture(scope="module")
def texts() -> list:
    return _texts()


def test_a_tfidf_model_predicts_the_same_from_its_arrays(trained_model: Path, texts: list) -> None:
    loaded = Classifier.load(trained_model)
    assert (trained_model / ARRAYS_FILE).is_file()
    _same_predictions(loaded, _pipeline_twin(loaded), texts)


def test_the_shipped_model_predicts_the_same_from_its_arrays(texts: list) -> None:
    # Character n-grams, cue slots, sentence embeddings and the neighbour vote.
    loaded = Classifier.load(SHIPPED)
    assert loaded.meta["features"] == "tfidf+embed+cues"
    assert loaded._pipeline is None, "predicting from the arrays reads no pipeline"
    _same_predictions(loaded, _pipeline_twin(loaded), texts)


def test_classify_starts_without_scikit_learn_and_gives_the_same_output(tmp_path: Path) -> None:
    post = tmp_path / "one.jsonl"
    post.write_text(json.dumps({"id": "1", "text": ODD[-1]}) + "\n", encoding="utf-8")
    script = (
        "import json, sys; from signalering.cli import main; sys.argv = sys.argv[1:]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('sklearn', 'skops', 'scipy.stats', 'torch')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]), file=sys.stderr)\n"
    )
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-c", script, "signalering", "--quiet", "classify", str(post)]
    run = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stderr.strip().splitlines()[-1]) == []
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["flagged"] and row["evidence"] and row["entities"]["phones"]
    # The same post through the pipeline, in this process, gives the same label and scores.
    twin = _pipeline_twin(Classifier.load(SHIPPED))
    (want,) = twin.predict([normalise(ODD[-1])])
    assert row["label"] == want.label and _close(row["scores"], want.scores)


def test_arrays_of_another_model_or_broken_ones_are_ignored_with_a_warning(
    trained_model: Path, tmp_path: Path, texts: list, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "m"
    shutil.copytree(trained_model, folder)
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    (folder / "model.json").write_text(json.dumps({**meta, "version": "retrained-since"}))
    with caplog.at_level(logging.WARNING):
        stale = Classifier.load(folder)
    assert stale.arrays is None and "belongs to model" in caplog.text
    assert ARRAYS_FILE in caplog.text and len(caplog.records[-1].getMessage().splitlines()) == 1
    sample = texts[:40]
    reference = _pipeline_twin(Classifier.load(trained_model))
    assert all(
        _close(a.scores, b.scores)
        for a, b in zip(stale.predict(sample), reference.predict(sample), strict=True)
    )

    (folder / "model.json").write_text(json.dumps(meta))
    (folder / ARRAYS_FILE).write_bytes(b"PK\x03\x04 not really a zip")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        broken = Classifier.load(folder)
    assert broken.arrays is None and "unreadable" in caplog.text
    assert all(
        _close(a.scores, b.scores)
        for a, b in zip(broken.predict(sample), reference.predict(sample), strict=True)
    )


def test_a_pipeline_the_arrays_do_not_cover_is_served_by_its_pipeline(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = corpus.load()[::4]
    texts = [normalise(r["text"]).text for r in records]
    union = FeatureUnion(
        [
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(1, 3),
                    min_df=2,
                    sublinear_tf=True,
                    lowercase=False,
                    preprocessor=fold_case,
                ),
            ),
            ("word", TfidfVectorizer(analyzer="word", min_df=2)),
        ]
    )
    clf = CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3, ensemble=False)
    pipe = Pipeline([("features", union), ("clf", clf)])
    pipe.fit(texts, [r["label"] for r in records])
    folder = tmp_path / "words"
    folder.mkdir()
    (folder / ARRAYS_FILE).write_bytes(b"left over from an earlier model")
    Classifier(pipe, {"version": "with-words"}).save(folder)
    assert not (folder / ARRAYS_FILE).exists(), "a stale array file is removed, not kept"
    with caplog.at_level(logging.INFO):
        again = Classifier.load(folder)
    assert again.arrays is None and again.meta["arrays"] is False
    assert "signalering train" not in caplog.text, "retraining would not give it arrays"
    assert np.allclose(again.predict_proba(texts[:50]), pipe.predict_proba(texts[:50]))


def test_a_model_saved_before_the_array_form_says_how_to_get_it(
    trained_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "older"
    shutil.copytree(trained_model, folder)
    (folder / ARRAYS_FILE).unlink()
    meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    del meta["arrays"]
    (folder / "model.json").write_text(json.dumps(meta), encoding="utf-8")
    with caplog.at_level(logging.INFO):
        older = Classifier.load(folder)
    assert older.arrays is None
    assert f"signalering train -o {folder}" in caplog.text
    (pred,) = older.predict([normalise(ODD[-1])])
    assert pred.label in older.labels
