"""``model.load(settings)``: the one loader; nothing trains at run time."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from signalering import model
from signalering.config import Settings
from signalering.errors import ModelError
from signalering.model.classifier import Classifier, EmbeddingFeatures


def _settings(path: Path, threshold: float = 0.5) -> Settings:
    return Settings.model_validate({"model": {"path": str(path), "threshold": threshold}})


def test_load_reads_the_configured_folder_and_threshold(trained_model: Path) -> None:
    clf = model.load(_settings(trained_model, threshold=0.7))
    assert clf.threshold == 0.7
    assert clf.version == json.loads((trained_model / "model.json").read_text())["version"]


def test_a_missing_model_is_one_error_naming_the_folder_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-model"
    with pytest.raises(ModelError) as exc:
        model.load(_settings(missing))
    text = str(exc.value)
    assert str(missing) in text and "signalering train" in text and "make install" in text
    assert not missing.exists()  # nothing was trained into it


def test_classify_without_a_model_exits_2_with_one_line_and_trains_nothing(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "absent"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("signalering")), "classify", "--model", str(missing)],
        input=b'{"text": "boat to Lampedusa"}\n',
        capture_output=True,
        timeout=300,
    )
    err = result.stderr.decode().strip()
    assert result.returncode == 2, err
    assert len(err.splitlines()) == 1 and "signalering train" in err, err
    assert not missing.exists()


def test_a_model_saved_under_the_old_module_name_still_loads(
    trained_model: Path, tmp_path: Path
) -> None:
    # Models saved before the move name our classes signalering.classify.*.
    clf = Classifier.load(trained_model)
    union = clf.pipeline.named_steps["features"]
    union.transformer_list.append(("old", EmbeddingFeatures(encoder="use-m3", weight=0.5)))
    union.transformer_weights = None
    folder = clf.save(tmp_path / "old")
    file = folder / "model.skops"
    with zipfile.ZipFile(file) as z:
        members = {name: z.read(name) for name in z.namelist()}
    schema = members["schema.json"].decode()
    assert "signalering.model.classifier" in schema
    members["schema.json"] = schema.replace(
        "signalering.model.classifier", "signalering.classify"
    ).encode()
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)

    again = Classifier.load(folder)
    part = dict(again.pipeline.named_steps["features"].transformer_list)["old"]
    assert type(part) is EmbeddingFeatures and part.weight == 0.5
    assert "signalering.classify" not in sys.modules  # the alias lasts only the load


def test_a_skops_list_file_naming_anything_but_numpy_scipy_sklearn_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from signalering.model.classifier import _read_lists

    good = {"estimators": ["sklearn.svm._classes.LinearSVC"], "public": {"numpy|x": ["numpy.add"]}}
    file = tmp_path / "skops-trusted.json"
    file.write_text(json.dumps(good), encoding="utf-8")
    assert _read_lists(file) == good
    for bad in (
        {**good, "estimators": ["builtins.eval"]},
        {**good, "public": {"numpy|x": ["os.system"]}},
        {"estimators": "sklearn.svm"},
    ):
        file.write_text(json.dumps(bad), encoding="utf-8")
        with caplog.at_level(logging.WARNING, logger="signalering.model.classifier"):
            assert _read_lists(file) is None
    assert "not skops' lists of type names" in caplog.text
    assert _read_lists(tmp_path / "absent.json") is None
