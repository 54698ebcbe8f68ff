from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signalering import corpus
from signalering.extract import evaluate, extract, extract_many, pipeline, route
from signalering.text import normalise

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus_records(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The committed corpus, or one rendered fresh by its seeded generator."""
    committed = ROOT / "annotaties" / "corpus.jsonl"
    if committed.exists():
        return corpus.load(committed)
    out = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    script = ROOT / "annotaties" / "build_corpus.py"
    subprocess.run([sys.executable, str(script), "--out", str(out), "--quiet"], check=True)
    return corpus.load(out)


def phones(text: str, **kw: object) -> list[str]:
    return [p["value"] for p in extract(text, **kw)["phones"]]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("WhatsApp +218 92 260 1815 serious only", "en", "+218922601815"),
        ("call 00218922601815", "en", "+218922601815"),
        ("واتس ٠٩٢٢٦٠١٨١٥ من زوارة", "ar", "+218922601815"),
        ("تماس ۰۹۱۲ ۳۴۵ ۶۷۸۹", "fa", "+989123456789"),
        ("whatsapp: zero nine two two six zero one eight one five, Zuwara", "en", "+218922601815"),
        ("📞 +4️⃣4️⃣7️⃣9️⃣1️⃣1️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣", "en", "+447911123456"),
        ("w h a t s a p p 0532.792.44.02 Izmir", "tr", "+905327924402"),
        ("tel: (+90) 532 792 44 02", "en", "+905327924402"),
    ],
)
def test_obfuscated_phone_numbers_are_found_in_e164(text: str, lang: str, expected: str) -> None:
    assert phones(text, lang=lang) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Price 3.500 euro per person, 2.000 £ for children",
        "Departure 12/03/2025 at 22:30 from the beach",
        "post #123456789012 shared 1.234.567 times",
        "Ref: 447911123456 order number",
        "Boat for 45 people, 2024-06-01, 10:45, 1,200,000 IQD",
    ],
)
def test_prices_dates_times_and_ids_are_not_phones(text: str) -> None:
    assert phones(text, lang="en") == []


def test_trunk_zero_number_takes_its_region_from_the_places_in_the_post() -> None:
    assert phones("from Izmir to Kos, call 0532 792 44 02", lang="en") == ["+905327924402"]


def test_region_hint_resolves_a_national_number() -> None:
    assert phones("bel 06 12345678", lang="en", region_hints=["NL"]) == ["+31612345678"]


def test_offsets_point_into_the_original_text() -> None:
    text = "🚤 Zuwara → Lampedusa ٣٥٠٠ يورو للشخص، واتس ٠٩٢٢٦٠١٨١٥"
    ents = extract(text, lang="ar")
    for kind in ("phones", "prices", "places"):
        for e in ents[kind]:
            assert text[e["start"] : e["end"]] == e["text"]
    assert ents["phones"][0]["text"] == "٠٩٢٢٦٠١٨١٥"


@pytest.mark.parametrize(
    ("text", "platform", "value"),
    [
        ("join t.me/Boza_VIP now", "telegram", "boza_vip"),
        ("https://wa.me/33612313962", "whatsapp", "33612313962"),
        ("insta: sea.king_1", "instagram", "sea.king_1"),
        ("tg: @captain_ali", "telegram", "captain_ali"),
        ("snap 👻 lori_vip_uk", "snapchat", "lori_vip_uk"),
        ("t.e.l.e.g.r.a.m @captain_ali", "telegram", "captain_ali"),
        ("WhatsApp +218922601815 / @bodrum_yacht", "telegram", "bodrum_yacht"),
        ("tiktok.com/@harga.dz", "tiktok", "harga.dz"),
        ("facebook.com/travel.agency.sfax", "facebook", "travel.agency.sfax"),
    ],
)
def test_handles_and_links_are_found(text: str, platform: str, value: str) -> None:
    found = [(h["platform"], h["value"]) for h in extract(text, lang="en")["handles"]]
    assert found == [(platform, value)]


def test_email_addresses_are_not_handles() -> None:
    assert extract("write to info@ngo.org for help", lang="en")["handles"] == []


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Contactez-nous sur TikTok pour plus d'infos", "fr"),
        ("Mira nuestro TikTok para más información", "es"),
        ("follow our tiktok user for updates", "en"),
        ("Snap pour les infos", "fr"),
    ],
)
def test_a_word_of_prose_after_tiktok_or_snap_is_not_a_handle(text: str, lang: str) -> None:
    assert extract(text, lang=lang)["handles"] == []


def test_a_bare_word_ending_the_line_after_snap_is_still_a_handle() -> None:
    found = extract("Calais → UK, info on snap lorivip\ncall now", lang="en")["handles"]
    assert [(h["platform"], h["value"]) for h in found] == [("snapchat", "lorivip")]


@pytest.mark.parametrize(
    "text",
    [
        "Great pics on insta @paris_trip",
        "join t.me/london_boats today",
        "see https://example.com/rome-trip/ for the photos",
        "my snap is calais_team_uk",
    ],
)
def test_no_place_is_read_inside_a_handle_or_a_link(text: str) -> None:
    assert extract(text, lang="en")["places"] == []


def test_places_next_to_a_handle_or_written_with_a_slash_are_still_found() -> None:
    found = extract("Calais/Dover tonight, telegram @boat_king", lang="en")
    assert [p["value"] for p in found["places"]] == ["Calais", "Dover"]


def test_albanian_nga_means_from_not_russia() -> None:
    found = extract("Udhëtim nga Shqipëria për në Itali, Nga Tirana çdo javë", lang="sq")
    assert [p["value"] for p in found["places"]] == ["Albania", "Italy", "Tirana"]
    # In Vietnamese "Nga" is Russia, and stays so.
    assert [p["value"] for p in extract("Đi làm việc ở Nga", lang="vi")["places"]] == ["Russia"]


@pytest.mark.parametrize(
    ("text", "lang", "amount", "currency", "per"),
    [
        ("3.500€ p.p.", "en", 3500.0, "EUR", "person"),
        ("€3.500 per person", "en", 3500.0, "EUR", "person"),
        ("3,500 euro", "en", 3500.0, "EUR", None),
        ("السعر ٣٥٠٠ يورو للشخص", "ar", 3500.0, "EUR", "person"),
        ("قیمت ۴۰۰۰ دلار برای خانواده", "fa", 4000.0, "USD", "group"),
        ("$4000 for the family", "en", 4000.0, "USD", "group"),
        ("2.000 £", "en", 2000.0, "GBP", None),
        ("5 bin TL kişi başı", "tr", 5000.0, "TRY", "person"),
        ("fiyat 3k euro", "en", 3000.0, "EUR", None),
        ("850,000 دينار عراقي", "ar", 850000.0, "IQD", None),
        ("1500 dinar from Sfax", "en", 1500.0, "TND", None),
        ("5000 DA par personne", "fr", 5000.0, "DZD", "person"),
        ("traghetto da 40 euro a tratta", "it", 40.0, "EUR", None),
        ("Départ le 22 juillet, 1500 euros", "fr", 1500.0, "EUR", None),
        ("a partir de 60 dólares", "pt", 60.0, "USD", None),
        ("3.500 ευρώ το άτομο", "el", 3500.0, "EUR", "person"),
        ("κόστος 8000 δολάρια", "el", 8000.0, "USD", None),
        ("płacimy 700 euro za osobę", "pl", 700.0, "EUR", "person"),
        ("tylko 4 tys. funtów od osoby", "pl", 4000.0, "GBP", "person"),
    ],
)
def test_prices_get_amount_currency_and_who_pays(
    text: str, lang: str, amount: float, currency: str, per: str | None
) -> None:
    prices = extract(text, lang=lang)["prices"]
    assert [(p["amount"], p["currency"], p["per"]) for p in prices] == [(amount, currency, per)]


def test_places_resolve_to_canonical_names_in_any_script() -> None:
    for text in ("Dunkerque → UK", "من دنكرك الى بريطانيا", "Dunkirk to the UK tonight"):
        ents = extract(text)
        assert [p["value"] for p in ents["places"]][0] == "Dunkirk", text


def test_places_with_a_preposition_or_case_ending_on_the_word_are_found() -> None:
    # Tigrinya writes prepositions on the name (ብኩፍራ "via Kufra"), Kurmanji marks the
    # oblique case (Hewlêrê, Almanyayê); the span is the name itself.
    text = "ካብ ካርቱም ናብ ሊብያ ብኩፍራ ኣቢልና"
    places = extract(text, lang="ti")["places"]
    assert [p["value"] for p in places] == ["Khartoum", "Libya", "Kufra"]
    assert text[places[2]["start"] : places[2]["end"]] == "ኩፍራ"
    kmr = extract("pere li ofîsa Hewlêrê, rê bo Almanyayê", lang="kmr")["places"]
    assert [p["value"] for p in kmr] == ["Erbil", "Germany"]
    # The ending is not a licence to match inside other words.
    assert extract("Romanê and Parisian cafés", lang="en")["places"] == []


def test_greek_and_polish_places_and_national_numbers() -> None:
    el = extract("Από την Τουρκία στην Κρήτη, τηλ 694 123 4567", lang="el")
    assert [p["value"] for p in el["places"]] == ["Turkey", "Crete"]
    assert [p["value"] for p in el["phones"]] == ["+306941234567"]
    # Polish case forms are aliases; "polski" is the adjective unless written as a name.
    pl = extract("Z Białorusi do Niemiec, polski kierowca, zadzwoń 512 738 461", lang="pl")
    assert [p["value"] for p in pl["places"]] == ["Belarus", "Germany"]
    assert [p["value"] for p in pl["phones"]] == ["+48512738461"]
    assert [p["value"] for p in extract("Jedziemy do Polski", lang="pl")["places"]] == ["Poland"]


def test_dutch_van_is_not_the_turkish_city() -> None:
    assert extract("de boot van Calais", lang="nl")["places"][0]["value"] == "Calais"
    assert len(extract("de boot van Calais", lang="nl")["places"]) == 1


def test_route_summarises_departure_and_destination() -> None:
    ents = extract("Boat from Zuwara via Lampedusa to Italy, 3500 euro", lang="en")
    assert route(ents) == ("Zuwara", "Italy")
    assert route(extract("Dunkirk → UK", lang="en")) == ("Dunkirk", "United Kingdom")
    assert route({"places": []}) == (None, None)


def test_dates_and_times_of_departure_are_extracted() -> None:
    ents = extract("Departure 12/03/2025 at 22:30, tomorrow", lang="en")
    assert [d["value"] for d in ents["dates"]] == ["2025-03-12", "22:30", "tomorrow"]


def test_a_gazetteer_can_be_passed_in(tmp_path: Path) -> None:
    gaz = tmp_path / "places.yaml"
    gaz.write_text(
        "- name: Zuwara\n  country: LY\n  role: departure\n  aliases: {ar: [زوارة], en: [Zuwara]}\n",
        encoding="utf-8",
    )
    ents = extract("رحلة من زوارة", lang="ar", gazetteer=gaz)
    assert [(p["value"], p["country"]) for p in ents["places"]] == [("Zuwara", "LY")]


def test_extract_many_matches_extract() -> None:
    texts = ["WhatsApp +218 92 260 1815", "3.500€ p.p. from Sfax", "nothing here"]
    assert list(extract_many(texts, langs=["en", "en", "en"])) == [
        extract(t, lang="en") for t in texts
    ]


@pytest.mark.slow
def test_extraction_meets_the_targets_on_the_corpus(corpus_records: list[dict]) -> None:
    report = evaluate(corpus_records)
    assert report["phones"]["f1"] >= 0.95, report["phones"]
    assert report["handles"]["f1"] >= 0.95, report["handles"]
    assert report["prices"]["f1"] >= 0.93, report["prices"]
    assert report["places"]["f1"] >= 0.88, report["places"]


def test_a_normalised_post_gives_the_same_entities_as_its_text() -> None:
    texts = [
        "🚤 Zuwara → Lampedusa ٣٥٠٠ يورو للشخص، واتس ٠٩٢٢٦٠١٨١٥",
        "w h a t s a p p 0532.792.44.02 Izmir, 3k euro p.p., t.me/Boza_VIP",
    ]
    for text in texts:
        assert extract(normalise(text), lang="en") == extract(text, lang="en")
    assert list(extract_many([normalise(t) for t in texts], langs=["ar", "tr"])) == [
        extract(texts[0], lang="ar"),
        extract(texts[1], lang="tr"),
    ]


def test_pipeline_spans_cover_exactly_the_normalised_findings() -> None:
    nlp = pipeline()
    text = "Boat Zuwara → Lampedusa 3.500€ p.p. WhatsApp +218 92 260 1815"
    doc = nlp(normalise(text).text)
    labels = {(span.label_, span.text) for span in doc.spans["sc"]}
    assert ("phones", "+218 92 260 1815") in labels
    assert ("prices", "3.500€") in labels
    assert ("places", "zuwara") in labels


def test_new_words_do_not_grow_the_pipeline_vocabulary() -> None:
    nlp = pipeline()
    extract("warm up 0612345678 @someone", lang="en")
    before = len(nlp.vocab)
    for i in range(200):
        extract(f"contact @handle_{i}x{i * 7919} or wa.me/3161234{i:04d} code{i}", lang="en")
    assert len(nlp.vocab) - before < 20


def test_the_classify_path_starts_without_torch_yet_torch_still_imports_after() -> None:
    # spaCy's thinc would import torch (over a second) just to see whether it exists;
    # the sentence-transformers encoders still need a working `import torch` later.
    code = (
        "import sys; import signalering.pipeline, signalering.extract; "
        "from signalering.extract import extract; "
        "assert extract('WhatsApp +218 92 260 1815')['phones']; "
        "print('torch' in sys.modules); import torch; print(torch.ones(2).sum().item())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=300
    ).stdout.decode()
    assert out.split() == ["False", "2.0"]
