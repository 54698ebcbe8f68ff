"""Claims: cue phrases per language, matched on normalised text, rules as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalering.campaign import claim_labels, detect_claims
from signalering.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "claim"),
    [
        ("100% guaranteed crossing, no danger", "safety_guarantee"),
        ("Überfahrt garantiert, kein Risiko", "safety_guarantee"),
        ("رحلة مضمونة الى ايطاليا", "safety_guarantee"),
        ("Pay on arrival in London", "pay_on_arrival"),
        ("betalen bij aankomst via kantoor", "pay_on_arrival"),
        ("پول پیش صرافی امانت میمونه", "escrow_hawala"),
        ("4 000 долларов, хавала принимается", "escrow_hawala"),
        ("half now, half when you arrive, instalments possible", "instalments"),
        ("Pasaport ve vize hazır", "documents_visa"),
        ("có việc làm sẵn ở tiệm nail", "job_promise"),
        ("we help you with the asylum interview", "asylum_promise"),
        ("Familles bienvenues, regroupement familial", "family_promise"),
        ("Son yerler!! acele edin", "urgency_scarcity"),
        ("100% success, watch the videos of our clients", "trust_signals"),
        ("children half price, group discount", "group_discount"),
    ],
)
def test_a_claim_is_found_in_its_language(text: str, claim: str) -> None:
    assert claim in detect_claims(text)


def test_obfuscated_and_fullwidth_cues_still_match() -> None:
    assert "safety_guarantee" in detect_claims("ＧＵＡＲＡＮＴＥＥＤ trip")
    # Arabic letter variants (أ/ا) are folded before matching.
    assert "trust_signals" in detect_claims("شاهد فيديوهات الناس اللي وصلوا")


def test_a_plain_warning_makes_no_claim() -> None:
    assert detect_claims("Smugglers lie about the sea. Report them to the police.") == []


def test_cues_start_at_a_word_start() -> None:
    # "secure" is a cue; "insecurely" must not count as one.
    assert "safety_guarantee" not in detect_claims("they live insecurely")


def test_every_claim_of_the_issue_has_a_rule() -> None:
    assert {
        "safety_guarantee",
        "pay_on_arrival",
        "instalments",
        "escrow_hawala",
        "documents_visa",
        "job_promise",
        "asylum_promise",
        "family_promise",
        "urgency_scarcity",
        "trust_signals",
        "group_discount",
    } <= set(claim_labels())


def test_changing_a_rule_needs_no_code_change(tmp_path: Path) -> None:
    rules = tmp_path / "claims.yaml"
    rules.write_text(
        "claims:\n  free_wifi:\n    group: comfort\n    label: Free wifi\n"
        "    cues: {en: ['free wifi'], nl: ['gratis wifi']}\n",
        encoding="utf-8",
    )
    assert detect_claims("Boot met GRATIS WIFI", rules_path=str(rules)) == ["free_wifi"]


def test_a_broken_rule_file_names_itself(tmp_path: Path) -> None:
    rules = tmp_path / "claims.yaml"
    rules.write_text("claims:\n  empty:\n    cues: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        detect_claims("anything", rules_path=str(rules))
