"""Fuzzing entity extraction: phones, handles, prices (and places, dates) from any text."""

from __future__ import annotations

import math

import phonenumbers
from hypothesis import example, given
from hypothesis import strategies as st

from signalering.extract import extract
from signalering.text import normalise

# Text around the shapes the rules look for: numbers with separators and prefixes,
# @handles and links, amounts with currency signs, in several scripts and digit sets.
pieces = st.sampled_from(
    [
        "+", "00", "0", "218", "44", "7700", "900", "123", "91", " ", "-", ".", "(", ")",
        "/", "@", "_", "t.me/", "wa.me/", "whatsapp", "واتساب", "tel", "€", "$", "£", "euro",
        "eur", "k", "1.500", "3,500", "٣٥٠٠", "۰۹۱۲", "\u200b", "\u00a0", "ﾠ", "ZERO", "one",
        "Zuwara", "Calais", "12/05/2024", "x",
    ]
)  # fmt: skip
shaped = st.lists(pieces, max_size=25).map("".join)
texts = st.text() | shaped | st.tuples(st.text(max_size=8), shaped).map("".join)


@given(texts)
@example("+218 92 260 1815")
@example("0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0")
@example("\ud800 +44 7700 900123")
@example("٠٠٢١٨٩٢٢٦٠١٨١٥")
def test_extraction_never_raises_and_every_entity_is_a_span_of_the_input(text: str) -> None:
    found = extract(text)
    assert set(found) == {"phones", "handles", "prices", "places", "dates"}
    for kind, entities in found.items():
        for e in entities:
            assert 0 <= e["start"] < e["end"] <= len(text), (kind, e)
            # The entity's text is exactly what the post says there.
            assert e["text"] == text[e["start"] : e["end"]], (kind, e)


@given(texts)
@example("WhatsApp ٠٠٢١٨٩٢٢٦٠١٨١٥")
@example("tel 0044 7700 900 123")
def test_every_phone_found_is_a_valid_e164_number_made_of_the_digits_written(text: str) -> None:
    for phone in extract(text)["phones"]:
        value = phone["value"]
        assert value.startswith("+") and value[1:].isdigit(), phone
        parsed = phonenumbers.parse(value)
        assert phonenumbers.is_valid_number(parsed), phone
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == value
        # A normalisation of the input: its national digits are digits of the written span.
        written = normalise(phone["text"]).text
        digits = "".join(ch for ch in written if ch.isdigit())
        assert str(parsed.national_number) in digits, phone


@given(texts)
@example("@smuggler_uk t.me/abc wa.me/447700900123")
def test_every_handle_is_a_normalisation_of_what_is_written(text: str) -> None:
    for handle in extract(text)["handles"]:
        value = handle["value"]
        assert value, handle
        written = normalise(handle["text"]).text.replace(" ", "")
        assert value.lower().replace(" ", "") in written or written in value.lower(), handle


@given(texts)
@example("3.500€ 1,5k euro £ 99999999999999999999999999")
@example("€" + "9" * 400)
def test_every_price_is_a_finite_positive_amount_with_a_currency_code(text: str) -> None:
    for price in extract(text)["prices"]:
        amount = price["amount"]
        assert amount is None or (math.isfinite(amount) and amount >= 0), price
        currency = price.get("currency")
        assert currency is None or (len(currency) == 3 and currency.isupper()), price


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
FORMATS = (
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
)


@given(st.sampled_from(REGIONS), st.sampled_from(FORMATS), st.sampled_from(["", "-", ".", "  "]))
# Found by this test: "+298-21-12-34" was read as the date 2034-12-21, and no phone.
@example("FO", phonenumbers.PhoneNumberFormat.INTERNATIONAL, "-")
def test_a_mobile_number_written_out_is_found_as_its_e164(region: str, fmt: int, sep: str) -> None:
    number = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, fmt)
    if sep:
        written = written.replace(" ", sep)
    found = extract(f"Boat leaves Friday, WhatsApp {written} for the price")["phones"]
    assert e164 in [p["value"] for p in found], (written, found)


@given(st.from_regex(r"[a-z][a-z0-9_]{4,30}[a-z0-9]", fullmatch=True))
@example("a00h00")  # found by this test: "00h00" inside the handle was taken for a time
@example("da0010")  # found by this test: "da0010" was 10 Algerian dinars, not a handle
@example("ab21_12_2024")
@example("x12_05_2024")
def test_a_telegram_handle_written_out_is_found_as_itself(name: str) -> None:
    for written in (f"@{name}", f"t.me/{name}", f"https://t.me/{name}"):
        found = extract(f"Contact {written} for the crossing")["handles"]
        assert name in [h["value"].lower() for h in found], (written, found)
