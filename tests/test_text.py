from __future__ import annotations

import re

import pytest

from signalering.text import alternation, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("w h a t s a p p", "whatsapp"),
        ("t.e.l.e.g.r.a.m", "telegram"),
        ("wh@tsapp", "whatsapp"),
        ("WhatsApp", "whatsapp"),
        ("Теlеgrаm", "telegram"),  # Cyrillic е and а inside a Latin word
        ("what\u200bs\u200capp", "whatsapp"),  # zero-width space and non-joiner
    ],
)
def test_hidden_platform_words_are_restored(raw: str, expected: str) -> None:
    assert normalise(raw).text == expected


def test_every_digit_system_becomes_ascii() -> None:
    assert normalise("٠٩٢٢ ۶۰۱ ８１５").text == "0922 601 815"


def test_emoji_keycaps_become_digits() -> None:
    assert normalise("+4️⃣4️⃣7️⃣9️⃣1️⃣1️⃣").text == "+447911"


@pytest.mark.parametrize(
    "raw",
    [
        "zero nine two two six zero one eight one five",
        "sıfır dokuz iki iki altı sıfır bir sekiz bir beş",
        "صفر تسعة اثنين اثنين ستة صفر واحد ثمانية واحد خمسة",
    ],
)
def test_spelled_out_phone_numbers_become_digits(raw: str) -> None:
    assert normalise(raw).text.replace(" ", "") == "0922601815"


def test_number_words_in_prose_are_left_alone() -> None:
    assert normalise("one way ticket for two people").text == "one way ticket for two people"


def test_russian_text_is_not_folded_to_latin() -> None:
    assert normalise("Переход границы").text == "переход границы"


def test_spans_map_back_to_the_original_text() -> None:
    raw = "Call w h a t s a p p ٠٩٢٢٦٠١٨١٥ now"
    n = normalise(raw)
    start = n.text.index("0922601815")
    o_start, o_end = n.to_original(start, start + 10)
    assert raw[o_start:o_end] == "٠٩٢٢٦٠١٨١٥"
    w = n.text.index("whatsapp")
    assert raw.__getitem__(slice(*n.to_original(w, w + 8))) == "w h a t s a p p"


def test_spelled_digit_maps_to_its_whole_word() -> None:
    raw = "tel zero six one two three four five six"
    n = normalise(raw)
    assert raw.__getitem__(slice(*n.to_original(4, 5))) == "zero"


def test_arabic_diacritics_and_tatweel_are_removed() -> None:
    assert normalise("طَرَابُلُس ليـــبيا").text == normalise("طرابلس ليبيا").text


def test_offsets_survive_characters_that_vanish_or_expand() -> None:
    raw = "☎️ ＋4️⃣4️⃣ ﷼ what\u200dsapp ٠٩٢٢"
    n = normalise(raw)
    assert len(n.starts) == len(n.ends) == len(n.text)
    assert "whatsapp" in n.text and "0922" in n.text
    w = n.text.index("whatsapp")
    assert raw.__getitem__(slice(*n.to_original(w, w + 8))) == "what\u200dsapp"
    d = n.text.index("0922")
    assert raw.__getitem__(slice(*n.to_original(d, d + 4))) == "٠٩٢٢"


@pytest.mark.parametrize(
    "words",
    [
        ["dun", "dunkirk", "dover", "do"],
        ["van", "vanadzor", "ван", "وان", "a.b", "a+b", "(x)"],
    ],
)
def test_alternation_matches_the_longest_word_like_a_sorted_alternation(words: list[str]) -> None:
    plain = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    trie = re.compile(alternation(words))
    text = " ".join(words) + " dunkirkx dov vanadzo a.b+b (x)) وانی"
    assert [m.span() for m in trie.finditer(text)] == [m.span() for m in plain.finditer(text)]
