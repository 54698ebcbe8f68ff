"""Writing a file so that no reader ever sees half of it.

Caches (tokenizer, embeddings, language profiles, the exemplar bank, the model's trusted
type lists) are written by whichever process needs them first, and read by any other
while it writes: :func:`replace_atomically` writes a temporary file beside the target
(named with the process id) and renames it over the target, which POSIX and Windows
make atomic on one file system. A write that fails removes its temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def replace_atomically(path: Path, write: Callable[[Path], object], *, suffix: str = "") -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path`` (its name ends in ``suffix``,
    for writers such as ``np.savez`` that add one), then rename it to ``path``. Creates the
    parent folder; raises what ``write`` or the rename raise, leaving no temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp{suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
