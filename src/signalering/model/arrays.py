"""A trained classifier as plain arrays: what ``classify`` needs, without scikit-learn.

A one-post ``signalering classify`` spent about 1.3 s importing scikit-learn (its
``utils.fixes`` and ``_loss`` import ``scipy.stats``, 0.6 s alone) and 0.35 s in skops'
audited load, for what is a few array operations once the model is fitted:

1. character n-gram counts of the folded text (:meth:`Classifier._char_grams`);
2. sublinear term frequency times IDF, each row scaled to unit length (TF-IDF);
3. beside it the cue block (:func:`signalering.lexicon.cue_counts`) and the sentence
   embedding block, each times its weight;
4. per label a linear decision (the SVM's coefficients and intercept), turned into a
   probability by that label's fitted sigmoid, the labels' probabilities normalised to
   sum to 1 (scikit-learn's one-vs-rest Platt calibration), averaged over the
   calibrated classifiers;
5. with embeddings, blended with the vote of the nearest training texts and with the
   embedding expert's probabilities
   (:class:`signalering.model.neighbours.NeighbourBlend`, which calls the same
   :func:`neighbour_vote`, :func:`blend` and :class:`Expert`).

``Classifier.save`` writes these arrays to ``model.arrays.npz`` beside ``model.skops``
(``allow_pickle=False``: numbers and strings only, nothing to audit), stamped with the
model's version; ``Classifier.load`` predicts from them and loads the scikit-learn
pipeline only when something asks for it (training, the combiner, the card). A model
whose structure this module does not cover (a word block, isotonic calibration, another
vectoriser) gets no array file and is served by its pipeline, as before. Tests hold both
paths to the same probabilities and evidence.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zipfile import BadZipFile

import numpy as np

from ..lexicon import cue_counts, cue_matches

logger = logging.getLogger(__name__)

ARRAYS_FILE = "model.arrays.npz"
# 1: char TF-IDF + optional cue and embedding blocks, sigmoid calibration, optional blend.
# 2: and the embedding expert. Format 1 files are still read; a reader of format 1 refuses 2
# (it would leave the expert out) and loads the pipeline instead.
ARRAYS_FORMAT = 2
READABLE_FORMATS = (1, 2)
_CHUNK = 1024  # posts compared with the training texts at once (CHUNK x N x 4 bytes)


# -- the nearest-neighbour vote, shared with NeighbourBlend ---------------------------
def unit_rows(block: Any) -> np.ndarray:
    """Rows of ``block`` (dense or sparse) as float32 unit vectors (a zero row stays zero)."""
    dense = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
    dense = np.asarray(dense, dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return dense / norms


def neighbour_vote(
    emb: np.ndarray, vectors: np.ndarray, targets: np.ndarray, n_labels: int, k: int
) -> np.ndarray:
    """Per post and label: the mean cosine of the ``k`` nearest training texts of that label
    (-1 for a label without training texts). ``emb`` and ``vectors`` are unit rows."""
    out = np.full((emb.shape[0], n_labels), -1.0, dtype=np.float32)
    members = [np.flatnonzero(targets == c) for c in range(n_labels)]
    for lo in range(0, emb.shape[0], _CHUNK):
        sims = emb[lo : lo + _CHUNK] @ vectors.T
        for c, rows in enumerate(members):
            if not len(rows):
                continue
            kk = min(k, len(rows))
            top = np.partition(sims[:, rows], len(rows) - kk, axis=1)[:, len(rows) - kk :]
            out[lo : lo + _CHUNK, c] = top.mean(axis=1)
    return out


def blend(linear: np.ndarray, vote: np.ndarray, *, alpha: float, temperature: float) -> np.ndarray:
    """``(1 - alpha)`` x the calibrated probabilities + ``alpha`` x softmax(temperature x vote)."""
    if not alpha:
        return linear
    scaled = temperature * vote.astype(np.float64)
    scaled -= scaled.max(axis=1, keepdims=True)
    soft = np.exp(scaled)
    soft /= soft.sum(axis=1, keepdims=True)
    return (1.0 - alpha) * linear + alpha * soft


@dataclass
class Expert:
    """The embedding expert: a multinomial logistic regression on the unit embedding rows
    (centred on the training texts' mean, divided by their spread) that raises P(``column``)
    toward its own (:func:`raise_by_expert`). Fitted by ``NeighbourBlend``; the same object
    predicts in the pipeline and in the array form."""

    center: np.ndarray  # (dim,)
    scale: float
    coef: np.ndarray  # (labels, dim)
    intercept: np.ndarray  # (labels,)
    column: int
    weight: float
    support: float

    def proba(self, emb: np.ndarray) -> np.ndarray:
        """Per row and label: the expert's probability."""
        logits = ((emb.astype(np.float64) - self.center) / self.scale) @ self.coef.T
        logits += self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        return soft / soft.sum(axis=1, keepdims=True)

    def apply(self, proba: np.ndarray, emb: np.ndarray) -> np.ndarray:
        """``proba`` with P(``column``) raised by the expert."""
        return raise_by_expert(proba, emb, self.proba(emb), self.column, self.weight, self.support)

    def fits(self, labels: int, dim: int) -> bool:
        return (
            0 <= self.column < labels
            and self.coef.shape == (labels, dim)
            and self.center.shape == (dim,)
            and self.intercept.shape == (labels,)
        )


def raise_by_expert(
    proba: np.ndarray,
    emb: np.ndarray,
    expert: np.ndarray,
    column: int,
    weight: float,
    support: float,
) -> np.ndarray:
    """Raise each row's probability in ``column`` toward the expert's, never lower it:
    ``p + weight x max(0, expert - p) x min(1, p / support)``, the other labels scaled down to
    keep the sum 1. A row the model gives less than ``support`` is raised in proportion (a
    greeting the n-grams see nothing in stays down); a text without an embedding (no letter
    or digit) keeps ``proba``."""
    out = np.array(proba, dtype=np.float64, copy=True)
    has = np.linalg.norm(emb, axis=1) > 0
    old = out[:, column].copy()
    trust = np.minimum(1.0, old / support) if support > 0 else np.ones_like(old)
    new = old + weight * np.maximum(0.0, expert[:, column] - old) * trust
    rest = np.divide(1.0 - new, 1.0 - old, out=np.ones_like(old), where=old < 1.0)
    out[has] *= rest[has, None]
    out[has, column] = new[has]
    return out


# -- the array form --------------------------------------------------------------------
@dataclass
class CharRows:
    """The TF-IDF block of a batch as compressed rows (column ids sorted within a row)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray


@dataclass
class ModelArrays:
    """What prediction and explanation read from a fitted model (see the module doc)."""

    version: str
    labels: list[str]
    vocabulary: dict[str, int]
    ngram_range: tuple[int, int]
    idf: np.ndarray
    sublinear_tf: bool
    norm: str | None
    dtype: str
    blocks: list[dict[str, Any]]  # after the char block: {"kind": "cues"|"embed", ...}
    coef: np.ndarray  # (calibrated classifiers, labels, features)
    intercept: np.ndarray  # (calibrated classifiers, labels)
    sigmoid_a: np.ndarray  # (calibrated classifiers, labels)
    sigmoid_b: np.ndarray
    neighbours: dict[str, Any] | None = None  # k, temperature, alpha, dim, expert_*
    bank: np.ndarray | None = None  # unit embedding rows of the training texts
    bank_targets: np.ndarray | None = None  # their label index
    expert: Expert | None = None  # the embedding expert (its numbers in ``neighbours``)

    # -- from a fitted pipeline ---------------------------------------------------------
    @classmethod
    def from_pipeline(cls, pipeline: Any, version: str) -> ModelArrays | None:
        """The arrays of a fitted pipeline, or None when its structure is not covered."""
        try:
            return cls._from_pipeline(pipeline, version)
        except _Unsupported as exc:
            logger.info("model kept without %s: %s", ARRAYS_FILE, exc)
            return None

    @classmethod
    def _from_pipeline(cls, pipeline: Any, version: str) -> ModelArrays:
        from .classifier import fold_case  # the pipeline is fitted: sklearn is loaded

        steps = getattr(pipeline, "named_steps", {})
        union, clf = steps.get("features"), steps.get("clf")
        if union is None or clf is None or getattr(union, "transformer_weights", None):
            raise _Unsupported("not a features + clf pipeline without weights")
        parts = list(union.transformer_list)
        if not parts or parts[0][0] != "char":
            raise _Unsupported("the first block is not the character n-grams")
        vec = parts[0][1]
        tfidf = getattr(vec, "_tfidf", None)
        if not (
            getattr(vec, "analyzer", None) == "char_wb"
            and vec.preprocessor is fold_case
            and not vec.lowercase
            and not vec.binary
            and vec.input == "content"
            and vec.strip_accents is None
            and tfidf is not None
            and tfidf.use_idf
            and tfidf.norm in ("l2", None)
        ):
            raise _Unsupported("the character block is not the folded char_wb TF-IDF")
        blocks: list[dict[str, Any]] = []
        for name, part in parts[1:]:
            if name == "cues" and hasattr(part, "slots_"):
                blocks.append(
                    {
                        "kind": "cues",
                        "weight": float(part.weight),
                        "slots": list(part.slots_),
                        "labels": list(part.labels_),
                        "patterns": part.patterns(),
                    }
                )
            elif name == "embed" and hasattr(part, "dim_"):
                blocks.append(
                    {
                        "kind": "embed",
                        "encoder": str(part.encoder),
                        "weight": float(part.weight),
                        "dim": int(part.dim_),
                    }
                )
            else:
                raise _Unsupported(f"feature block {name!r}")
        neighbours, bank, targets = None, None, None
        expert = None
        calibrated = clf
        if hasattr(clf, "estimator_") and hasattr(clf, "vectors_"):  # NeighbourBlend
            if not blocks or blocks[-1]["kind"] != "embed" or blocks[-1]["dim"] != clf.dim:
                raise _Unsupported("the neighbour vote does not read the embedding block")
            neighbours = {
                "k": int(clf.k),
                "temperature": float(clf.temperature),
                "alpha": float(clf.alpha),
                "dim": int(clf.dim),
            }
            bank = np.asarray(clf.vectors_, dtype=np.float32)
            targets = np.asarray(clf.targets_, dtype=np.int16)
            calibrated = clf.estimator_
            expert = clf.fitted_expert()
            if expert is not None:
                neighbours.update({f"expert_{k}": v for k, v in _expert_numbers(expert).items()})
        members = getattr(calibrated, "calibrated_classifiers_", None)
        if not members or getattr(calibrated, "method", None) != "sigmoid":
            raise _Unsupported("not a sigmoid-calibrated classifier")
        labels = [str(c) for c in calibrated.classes_]
        if len(labels) < 3:
            raise _Unsupported("fewer than three labels")
        coef, intercept, a, b = [], [], [], []
        for member in members:
            est = member.estimator
            if [str(c) for c in est.classes_] != labels or len(member.calibrators) != len(labels):
                raise _Unsupported("a calibrated classifier's labels differ")
            coef.append(np.asarray(est.coef_, dtype=np.float64))
            intercept.append(np.asarray(est.intercept_, dtype=np.float64))
            a.append([float(c.a_) for c in member.calibrators])
            b.append([float(c.b_) for c in member.calibrators])
        return cls(
            version=version,
            labels=labels,
            vocabulary=dict(vec.vocabulary_),
            ngram_range=(int(vec.ngram_range[0]), int(vec.ngram_range[1])),
            idf=np.asarray(tfidf.idf_),
            sublinear_tf=bool(tfidf.sublinear_tf),
            norm=tfidf.norm,
            dtype=np.dtype(vec.dtype).name,
            blocks=blocks,
            coef=np.stack(coef),
            intercept=np.stack(intercept),
            sigmoid_a=np.array(a, dtype=np.float64),
            sigmoid_b=np.array(b, dtype=np.float64),
            neighbours=neighbours,
            bank=bank,
            bank_targets=targets,
            expert=expert,
        )

    # -- file ---------------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        keys = np.empty(len(self.vocabulary), dtype=object)
        keys[list(self.vocabulary.values())] = list(self.vocabulary)
        head = {
            "format": ARRAYS_FORMAT,
            "version": self.version,
            "labels": self.labels,
            "ngram_range": list(self.ngram_range),
            "sublinear_tf": self.sublinear_tf,
            "norm": self.norm,
            "dtype": self.dtype,
            "blocks": self.blocks,
            "neighbours": self.neighbours,
        }
        arrays: dict[str, np.ndarray] = {
            "head": np.array(json.dumps(head, ensure_ascii=False)),
            "vocabulary": np.array(keys.tolist(), dtype=str),
            "idf": self.idf,
            "coef": self.coef,
            "intercept": self.intercept,
            "sigmoid_a": self.sigmoid_a,
            "sigmoid_b": self.sigmoid_b,
        }
        if self.bank is not None and self.bank_targets is not None:
            arrays["bank"] = self.bank
            arrays["bank_targets"] = self.bank_targets
        if self.expert is not None:
            arrays["expert_center"] = self.expert.center
            arrays["expert_coef"] = self.expert.coef
            arrays["expert_intercept"] = self.expert.intercept
        path = folder / ARRAYS_FILE
        np.savez(path, **arrays)
        return path

    @classmethod
    def read(cls, folder: Path, *, version: str) -> ModelArrays | None:
        """The arrays saved beside the model of ``version``; None when there are none, or
        (with a warning) when they are unreadable or belong to another model."""
        path = folder / ARRAYS_FILE
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                head = json.loads(str(data["head"]))
                if head.get("format") not in READABLE_FORMATS or head.get("version") != version:
                    logger.warning(
                        "ignoring %s: it belongs to model %s (format %s), not %s; "
                        "loading the scikit-learn pipeline instead",
                        path,
                        head.get("version"),
                        head.get("format"),
                        version,
                    )
                    return None
                keys = data["vocabulary"].tolist()
                arrays = cls(
                    version=version,
                    labels=[str(x) for x in head["labels"]],
                    vocabulary=dict(zip(keys, range(len(keys)), strict=True)),
                    ngram_range=(int(head["ngram_range"][0]), int(head["ngram_range"][1])),
                    idf=data["idf"],
                    sublinear_tf=bool(head["sublinear_tf"]),
                    norm=head["norm"],
                    dtype=str(head["dtype"]),
                    blocks=list(head["blocks"]),
                    coef=data["coef"],
                    intercept=data["intercept"],
                    sigmoid_a=data["sigmoid_a"],
                    sigmoid_b=data["sigmoid_b"],
                    neighbours=head.get("neighbours"),
                    bank=data["bank"] if "bank" in data.files else None,
                    bank_targets=data["bank_targets"] if "bank_targets" in data.files else None,
                    expert=_read_expert(head.get("neighbours"), data),
                )
                arrays._check()
        except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, BadZipFile) as exc:
            logger.warning(
                "ignoring unreadable %s (%s); loading the scikit-learn pipeline instead",
                path,
                exc,
            )
            return None
        return arrays

    def _check(self) -> None:
        width = len(self.vocabulary) + sum(self._width(b) for b in self.blocks)
        shapes_ok = (
            self.idf.shape == (len(self.vocabulary),)
            and self.coef.ndim == 3
            and self.coef.shape[1:] == (len(self.labels), width)
            and self.intercept.shape == self.coef.shape[:2]
            and self.sigmoid_a.shape == self.coef.shape[:2]
            and self.sigmoid_b.shape == self.coef.shape[:2]
        )
        if self.neighbours is not None:
            shapes_ok = shapes_ok and (
                self.bank is not None
                and self.bank_targets is not None
                and self.bank.shape == (len(self.bank_targets), self.neighbours["dim"])
            )
        if self.expert is not None:
            shapes_ok = shapes_ok and (
                self.neighbours is not None
                and self.expert.fits(len(self.labels), self.neighbours["dim"])
            )
        if not shapes_ok:
            raise ValueError("array shapes do not fit together")

    def has_expert(self) -> bool:
        return self.expert is not None

    @staticmethod
    def _width(block: dict[str, Any]) -> int:
        return 2 * len(block["slots"]) if block["kind"] == "cues" else int(block["dim"])

    # -- prediction ---------------------------------------------------------------------
    def tfidf(self, grams: list[np.ndarray]) -> CharRows:
        """TF-IDF rows from each text's n-gram ids (one id per occurrence), for the whole
        batch at once: counted by sorting (row, id) keys, scaled row by row."""
        n, width = len(grams), len(self.vocabulary)
        dtype = np.dtype(self.dtype)
        sizes = np.fromiter((len(g) for g in grams), dtype=np.int64, count=n)
        ids = np.concatenate(grams).astype(np.int64) if n else np.zeros(0, np.int64)
        keys, counts = np.unique(np.repeat(np.arange(n), sizes) * width + ids, return_counts=True)
        row, indices = np.divmod(keys, width)
        tf = counts.astype(dtype)
        if self.sublinear_tf:
            np.log(tf, tf)
            tf += 1.0
        tf *= self.idf[indices]
        if self.norm == "l2":
            squares = tf.astype(np.float64) ** 2
            size = np.sqrt(np.bincount(row, weights=squares, minlength=n))
            size[size == 0] = 1.0
            tf /= size[row]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
        return CharRows(indptr, indices, tf)

    def dense_blocks(self, texts: list[str]) -> list[np.ndarray]:
        """The cue and embedding blocks of normalised ``texts``, in column order."""
        out = []
        for block in self.blocks:
            if block["kind"] == "cues":
                out.append(cue_counts(block["patterns"], texts, block["weight"]))
            else:
                from ..embed import encode

                out.append(encode(list(texts), encoder=block["encoder"]) * block["weight"])
        return out

    def predict_proba(self, rows: CharRows, dense: list[np.ndarray]) -> np.ndarray:
        """Probabilities per label (``self.labels`` order) of the rows and dense blocks."""
        n = len(rows.indptr) - 1
        width = len(self.vocabulary)
        total = np.zeros((n, len(self.labels)), dtype=np.float64)
        row = np.repeat(np.arange(n), np.diff(rows.indptr))
        values = rows.data.astype(np.float64)
        for m in range(self.coef.shape[0]):
            coef = self.coef[m]
            decision = np.tile(self.intercept[m], (n, 1))
            contrib = coef[:, rows.indices] * values  # (labels, n-grams of the batch)
            for c in range(len(self.labels)):
                decision[:, c] += np.bincount(row, weights=contrib[c], minlength=n)
            offset = width
            for block in dense:
                w = block.shape[1]
                decision += block.astype(np.float64) @ coef[:, offset : offset + w].T
                offset += w
            # scikit-learn's _SigmoidCalibration: expit(-(a x decision + b)), per label
            proba = 1.0 / (1.0 + np.exp(self.sigmoid_a[m] * decision + self.sigmoid_b[m]))
            denominator = proba.sum(axis=1, keepdims=True)
            uniform = np.full_like(proba, 1.0 / len(self.labels))
            proba = np.divide(proba, denominator, out=uniform, where=denominator != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
            total += proba
        total /= self.coef.shape[0]
        if self.neighbours is None or self.bank is None or self.bank_targets is None:
            return total
        emb = unit_rows(dense[-1])
        vote = neighbour_vote(
            emb, self.bank, self.bank_targets, len(self.labels), self.neighbours["k"]
        )
        mixed = blend(
            total,
            vote,
            alpha=self.neighbours["alpha"],
            temperature=self.neighbours["temperature"],
        )
        return mixed if self.expert is None else self.expert.apply(mixed, emb)

    # -- explanation --------------------------------------------------------------------
    def mean_coef(self) -> np.ndarray:
        """The linear coefficients averaged over the calibrated classifiers."""
        return self.coef.mean(axis=0)

    def cue_block(self) -> tuple[int, dict[str, Any]] | None:
        """The cue block's first column and description, if the model has one."""
        offset = len(self.vocabulary)
        for block in self.blocks:
            if block["kind"] == "cues":
                return offset, block
            offset += self._width(block)
        return None

    def cue_matches(self, text: str) -> list[tuple[str, int, int, str]]:
        found = self.cue_block()
        if found is None:
            return []
        block = found[1]
        return cue_matches(block["slots"], block["patterns"], text)


_EXPERT_NUMBERS = {"scale": float, "column": int, "weight": float, "support": float}


def _expert_numbers(expert: Expert) -> dict[str, float | int]:
    """The expert's scalars, kept in the file's head (``neighbours``, as ``expert_*``)."""
    return {key: kind(getattr(expert, key)) for key, kind in _EXPERT_NUMBERS.items()}


def _read_expert(neighbours: dict[str, Any] | None, data: Any) -> Expert | None:
    """The expert of a format-2 file; None for a file without one (format 1)."""
    if not neighbours or "expert_coef" not in data.files:
        return None
    return Expert(
        center=data["expert_center"],
        coef=data["expert_coef"],
        intercept=data["expert_intercept"],
        **{key: kind(neighbours[f"expert_{key}"]) for key, kind in _EXPERT_NUMBERS.items()},
    )


class _Unsupported(Exception):
    """The pipeline has a part the array form does not cover."""
