"""The similarity + classifier combiner: trained by `train`, loaded from disk, applied by
``similarity.rule``, measured by `evaluate`."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signalering import corpus
from signalering.config import load_config
from signalering.errors import ConfigError, ModelError
from signalering.model.combiner import COMBINER_FILE, Combiner
from signalering.model.similarity import ExemplarBank, resolve_rule, similar
from signalering.pipeline import Stages
from signalering.post import Post

BIN = Path(sys.executable).with_name("signalering")


@pytest.fixture(scope="module")
def offer() -> dict:
    return next(r for r in corpus.load() if r["label"] == "offer" and len(r["text"]) > 80)


@pytest.fixture(scope="module")
def bank(offer: dict) -> ExemplarBank:
    return ExemplarBank().add([offer["id"]], [offer["text"]], [offer["lang"]], origin="corpus")


def _missed(text: str, p_offer: float) -> Post:
    """A post as the classify stage leaves it when it does not flag it."""
    return Post(
        text=text,
        label="request",
        scores={"offer": p_offer, "request": 1 - p_offer},
        flagged=False,
        evidence=[],
    )


def test_train_writes_a_combiner_with_its_held_out_measurement(trained_model: Path) -> None:
    combiner = Combiner.load(trained_model)
    assert combiner is not None and combiner.encoder == "use-m3"
    assert len(combiner.coef) == 3 and 0 < combiner.cut <= 1
    assert combiner.coef[1] > 0, "more similar to a known offer must mean more likely an offer"
    for scenario in ("new_ads", "reposts"):
        sc = combiner.measurement[scenario]
        assert sc["posts"] > 100 and sc["offers"] > 50
        for rule in ("classifier", "similarity", "or_rule", "logistic"):
            assert 0 <= sc[rule]["recall_at_classifier_precision"] <= 1
        # The combiner only adds flags to the classifier's.
        assert sc["logistic"]["flagged"] >= sc["classifier"]["flagged"]
    card = (trained_model / "MODEL_CARD.md").read_text()
    assert "| reposts | logistic combiner |" in card


def test_a_near_repost_the_classifier_misses_is_flagged_by_the_logistic_rule(
    trained_model: Path, offer: dict, bank: ExemplarBank
) -> None:
    combiner = Combiner.load(trained_model)
    repost = offer["text"] + " Call now!"
    (probe,) = similar([_missed(repost, 0.01)], bank, rule="off")
    top = next(e for e in probe.evidence if e["kind"] == "similar")
    assert 0.9 < top["score"] < 0.999  # an edited repost, not the exemplar itself
    # The lowest P(offer) the combiner flags at this similarity is below the classifier's
    # threshold (0.5): a hesitating classifier plus a near-copy of a known offer flags.
    # The evidence shows the similarity to 2 decimals; the exact one is at least this, and
    # the combiner grows with similarity (coef > 0), so what flags here flags the post.
    at_least = top["score"] - 0.005
    grid = np.round(np.arange(0.01, 0.5, 0.01), 2)
    flagged = combiner.score(grid, np.full(len(grid), at_least)) >= combiner.cut
    assert flagged.any(), "the combiner flags no post the classifier misses"
    hesitant = float(grid[flagged][0])
    (post,) = similar([_missed(repost, hesitant)], bank, rule="logistic", combiner=combiner)
    assert post.flagged is True
    why = next(e for e in post.evidence if e["kind"] == "rule")
    assert why["rule"] == "logistic"
    assert "combined score" in why["text"] and f"P(offer) {hesitant:.2f}" in why["text"]
    assert f"like known offer {offer['id']}" in why["text"]
    # Similarity alone does not decide: a post the classifier is sure about is not flagged.
    (sure,) = similar([_missed(repost, 0.01)], bank, rule="logistic", combiner=combiner)
    assert sure.flagged is False and not [e for e in sure.evidence if e["kind"] == "rule"]


def test_the_or_rule_with_a_high_cut_and_the_off_rule_leave_that_repost_unflagged(
    offer: dict, bank: ExemplarBank
) -> None:
    repost = _missed(offer["text"] + " Call now!", 0.45)
    (by_or,) = similar([repost], bank, rule="or", flag_cosine=0.999)
    (off,) = similar([repost], bank, rule="off")
    for post in (by_or, off):
        assert post.flagged is False
        assert [e for e in post.evidence if e["kind"] == "similar"]
    (low,) = similar([repost], bank, rule="or", flag_cosine=0.9)
    assert low.flagged is True and low.evidence[-1]["rule"] == "or"


def test_the_classify_stages_load_the_rule_and_combiner_from_the_model_folder(
    trained_model: Path, tmp_path: Path
) -> None:
    settings = load_config(
        env={}, overrides={"model": {"path": trained_model}, "similarity": {"cache_dir": tmp_path}}
    )
    assert settings.similarity.rule == "logistic"
    stages = Stages.load(settings)
    assert stages.rule == "logistic" and stages.combiner == Combiner.load(trained_model)
    orr = Stages.load(load_config(env={"SIGNALERING_SIMILARITY_RULE": "or"}, overrides={
        "model": {"path": trained_model}, "similarity": {"cache_dir": tmp_path}}))  # fmt: skip
    assert orr.rule == "or" and orr.combiner is None


def test_a_bad_rule_setting_is_one_line_naming_the_setting() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env={"SIGNALERING_SIMILARITY_RULE": "maybe"})
    message = str(err.value)
    assert "similarity.rule" in message and "'logistic'" in message and "\n" not in message
    result = subprocess.run(
        [str(BIN), "config", "show"],
        capture_output=True,
        env={**os.environ, "SIGNALERING_SIMILARITY_RULE": "maybe"},
        timeout=120,
    )
    assert result.returncode == 2
    assert len(result.stderr.decode().strip().splitlines()) == 1
    assert "similarity.rule" in result.stderr.decode()


def test_a_model_without_combiner_falls_back_to_or_with_a_warning(
    trained_model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = tmp_path / "old-model"
    shutil.copytree(trained_model, old)
    (old / COMBINER_FILE).unlink()
    with caplog.at_level(logging.WARNING, logger="signalering"):
        assert resolve_rule("logistic", old) == ("or", None)
    assert f"{old / COMBINER_FILE} is missing" in caplog.text
    assert "signalering train" in caplog.text


def test_a_broken_or_mismatched_combiner_is_an_error_naming_file_and_fix(
    trained_model: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained_model, broken)
    (broken / COMBINER_FILE).write_text('{"coef": [1, 2]', encoding="utf-8")
    with pytest.raises(ModelError, match=r"combiner .*combiner.json is unreadable .*signalering"):
        resolve_rule("logistic", broken)
    data = json.loads((trained_model / COMBINER_FILE).read_text())
    (broken / COMBINER_FILE).write_text(json.dumps({**data, "coef": [1, "x", 2]}))
    with pytest.raises(ModelError, match="unreadable"):
        resolve_rule("logistic", broken)
    (broken / COMBINER_FILE).write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"fitted with encoder 'use-m3'.*signalering train"):
        resolve_rule("logistic", broken, encoder="st:models/other")
    with pytest.raises(ModelError, match="needs the combiner"):
        similar([Post(text="x")], ExemplarBank(), rule="logistic")


def test_evaluate_prints_the_rule_comparison_for_new_ads_and_reposts(trained_model: Path) -> None:
    result = subprocess.run(
        [str(BIN), "evaluate", "--no-lolo"],
        capture_output=True,
        env={**os.environ, "SIGNALERING_MODEL_PATH": str(trained_model)},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "Similarity + classifier" in out
    for scenario in ("new ads", "reposts"):
        for rule in ("classifier alone", "similarity alone", "OR rule", "logistic combiner"):
            assert any(scenario in line and rule in line for line in out.splitlines()), (
                f"no row for {rule} on {scenario}"
            )
