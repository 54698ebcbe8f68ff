"""Caches are written through a temporary file and a rename (``files.replace_atomically``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signalering.files import replace_atomically


def test_a_write_replaces_the_file_whole_in_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "vectors.npz"
    replace_atomically(target, lambda tmp: np.savez(tmp, v=np.arange(3)), suffix=".npz")
    with np.load(target) as data:
        assert data["v"].tolist() == [0, 1, 2]
    replace_atomically(target, lambda tmp: np.savez(tmp, v=np.arange(2)), suffix=".npz")
    with np.load(target) as data:
        assert data["v"].tolist() == [0, 1]
    assert sorted(p.name for p in target.parent.iterdir()) == ["vectors.npz"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "lists.json"
    target.write_text('{"kept": true}', encoding="utf-8")

    def half_written(tmp: Path) -> None:
        tmp.write_text('{"half', encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        replace_atomically(target, half_written)
    assert target.read_text(encoding="utf-8") == '{"kept": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["lists.json"]
