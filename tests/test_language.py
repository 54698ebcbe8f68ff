from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from signalering import corpus
from signalering.language import detect, evaluate

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


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Safe crossing from Calais to the UK tonight, call us now for the price", "en"),
        ("Veilige overtocht naar Engeland, bel ons vandaag nog voor de prijs", "nl"),
        ("Yunanistan'a güvenli geçiş, fiyat için bizi hemen arayın lütfen", "tr"),
        ("Безпечний перетин кордону до Польщі, телефонуйте нам сьогодні", "uk"),
        ("Безопасный переход границы в Польшу, звоните нам сегодня", "ru"),
        ("رحلة مضمونة من زوارة الى لامبيدوزا السعر للشخص والدفع بالمكتب", "ar"),
        ("له ترکیې څخه یونان ته خوندي سفر، د هر نفر بیه ووایاست", "ps"),
        ("گەشتی سەلامەت لە تورکیاوە بۆ یۆنان، نرخ بۆ هەر کەسێک", "ckb"),
        ("Rêya ewle ji Tirkiyê bo Yewnanistanê, em dikarin we bibin", "kmr"),
        ("yalla ya shabab re7le men zwara l lampedusa, el se3r 3500 w ma3 el captain", "ar-Latn"),
        ("ካብ ሊብያ ናብ ኢጣልያ ብጀልባ ጉዕዞ ኣሎ፣ ዋጋ ንሓደ ሰብ ክንደይ እዩ", "ti"),
        ("سفر امن از ترکیه به یونان، قیمت برای هر نفر خیلی مناسب، الان تماس بگیرید", "fa"),
        ("از ترکیه تا جرمنی همرای موتر، فی نفر ۲۰۰۰ دالر، پیسه پیش صراف میمانه", "prs"),
    ],
)
def test_corpus_languages_are_recognised(text: str, code: str) -> None:
    assert detect(text).code == code


def test_too_little_text_is_undetermined() -> None:
    assert detect("ok 👍").code == "und"
    assert detect("+218 91 234 5678").code == "und"


def test_detection_is_deterministic() -> None:
    text = "Passage garanti vers l'Angleterre ce soir, appelez-nous"
    assert len({detect(text) for _ in range(5)}) == 1
    assert 0.0 < detect(text).confidence <= 1.0


def test_accuracy_on_the_corpus_is_reported_per_language(corpus_records: list[dict]) -> None:
    report = evaluate(corpus_records, min_words=8)
    assert report["overall"]["n"] > 0
    for lang, row in report["per_lang"].items():
        assert row["accuracy"] >= 0.8, (lang, row)
