"""Scrubbing: no phone number, handle, link, e-mail or author survives into an excerpt."""

from __future__ import annotations

import re

from signalering import corpus
from signalering.campaign import contacts_left, excerpt, scrub


def test_phone_handle_link_email_and_author_are_removed() -> None:
    text = (
        "Boat to Italy, call +218 92 260 1815 or @captain_ali, "
        "see https://t.me/captain_ali and mail boss@smug.example.com — Samir Haddad"
    )
    out = scrub(text, authors=["Samir Haddad"])
    for leaked in ("922601815", "260 1815", "captain_ali", "t.me", "boss@", "Samir"):
        assert leaked not in out
    assert "Boat to Italy" in out
    assert contacts_left(out) == []


def test_obfuscated_contacts_are_removed() -> None:
    text = "w h a t s a p p ٠٩٢٢٦٠١٨١٥ · telegram: rahbalad_van · facebook.com/dichvu.anhquoc"
    out = scrub(text, lang="ar")
    assert "٠٩٢٢" not in out and "rahbalad_van" not in out and "dichvu" not in out
    assert contacts_left(out, lang="ar") == []


def test_the_message_itself_is_kept() -> None:
    out = scrub("100% guaranteed, pay on arrival. WhatsApp +33 612 301 092")
    assert out.startswith("100% guaranteed, pay on arrival.")


def test_no_contact_of_the_corpus_survives_scrubbing() -> None:
    leaks = []
    for record in corpus.load():
        out = scrub(record["text"], lang=record["lang"])
        digits = re.sub(r"\D", "", out)
        for phone in record["entities"]["phones"]:
            if phone.lstrip("+")[-8:] in digits:
                leaks.append((record["id"], phone))
        for handle in record["entities"]["handles"]:
            if str(handle["value"]).lower() in out.lower():
                leaks.append((record["id"], handle["value"]))
        if contacts_left(out, lang=record["lang"]):
            leaks.append((record["id"], contacts_left(out, lang=record["lang"])))
    assert leaks == []


def test_an_excerpt_is_one_short_line() -> None:
    out = excerpt("line one\nline two " + "word " * 100, limit=60)
    assert "\n" not in out and len(out) <= 62 and out.endswith("…")
