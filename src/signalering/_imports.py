"""Imports that keep start-up cheap: torch hidden while a library only probes for it.

Two libraries on the ``classify`` path import torch (1.2-1.8 s quiet, twice that under
load) without needing it: thinc (under spaCy) to learn whether torch is installed, and
skops, whose trusted-type list walks every scikit-learn package, among them
``sklearn.externals.array_api_compat.torch``, which imports torch. Neither uses torch for
what we do with it (a blank spaCy pipeline of rule components; loading a TF-IDF model),
so while they are first imported ``import torch`` fails as if torch were absent.

The hiding is a finder on ``sys.meta_path`` that refuses ``torch`` and its submodules;
``sys.modules`` is left alone, so libraries that look there for torch (scipy's array-API
helpers) see it absent, not broken. When the block ends, torch imports normally for what
needs it (the sentence-transformers encoders). If torch is already loaded, nothing is
hidden.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType


class _HideTorch(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname == "torch" or fullname.startswith("torch."):
            raise ModuleNotFoundError("torch is hidden during this import", name=fullname)
        return None


@contextlib.contextmanager
def torch_hidden() -> Iterator[None]:
    """While inside, ``import torch`` raises ModuleNotFoundError (unless torch is loaded).

    >>> with torch_hidden():  # doctest: +SKIP
    ...     import spacy  # thinc believes torch absent
    """
    if "torch" in sys.modules:
        yield
        return
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
