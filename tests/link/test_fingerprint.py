"""The ad fingerprint: what survives translation links one ad across scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from signalering.link.fingerprint import (
    Fingerprint,
    compatible_prices,
    conflict,
    emoji_sequence,
    same_ad,
    same_route,
)

PHONE = "phones::+905327718406"


def _fp(
    contacts: tuple[str, ...] = (PHONE,),
    route: tuple[str, ...] = ("Izmir", "Italy"),
    prices: tuple[tuple[float, str], ...] = ((6500.0, "EUR"),),
    dates: tuple[str, ...] = (),
    emoji: tuple[str, ...] = (),
) -> Fingerprint:
    return Fingerprint(frozenset(contacts), route, prices, frozenset(dates), emoji)


def test_contact_route_and_a_close_price_are_one_ad() -> None:
    assert same_ad(_fp(), _fp(prices=((6000.0, "EUR"),)))
    assert same_ad(_fp(), _fp(prices=()))  # a translation that drops the price


def test_a_shared_contact_alone_is_not_one_ad() -> None:
    assert not same_ad(_fp(), _fp(route=()))
    assert not same_ad(_fp(), _fp(route=("Van", "Istanbul")))
    assert not same_ad(_fp(), _fp(contacts=("phones::+31612345678",)))


def test_prices_in_another_currency_or_far_apart_are_not_compatible() -> None:
    assert not compatible_prices([(6500.0, "EUR")], [(6500.0, "USD")])
    assert not compatible_prices([(6500.0, "EUR")], [(2000.0, "EUR")])
    assert compatible_prices([(6500.0, "EUR"), (100.0, "USD")], [(100.0, "USD")])
    assert not same_ad(_fp(), _fp(prices=((2000.0, "EUR"),)))


def test_routes_must_keep_their_order_and_may_differ_by_one_place_beside_three() -> None:
    assert same_route(("Khartoum", "Libya", "Kufra"), ("Khartoum", "Libya", "Kufra"))
    assert not same_route(("Calais", "London"), ("London", "Calais"))
    assert not same_route(("Poland", "Germany"), ("Minsk", "Poland", "Germany"))
    assert same_route(("Bihac", "Italy", "Sarajevo"), ("Russia", "Bihac", "Italy", "Sarajevo"))
    assert not same_route(("Zuwara",), ("Zuwara",))


def test_different_dates_are_different_ads() -> None:
    assert not same_ad(_fp(dates=("2024-06-01",)), _fp(dates=("2024-07-15",)))
    assert same_ad(_fp(dates=("2024-06-01",)), _fp(dates=("2024-06-01", "2024-06-02")))


def test_without_a_route_an_identical_emoji_run_ties_a_repost() -> None:
    run = ("🛥️", "✅", "💯")
    assert same_ad(_fp(route=(), emoji=run), _fp(route=(), emoji=run))
    assert not same_ad(_fp(route=(), emoji=run[:2]), _fp(route=(), emoji=run[:2]))


def test_keycap_digits_of_a_phone_are_not_emoji_but_flags_are() -> None:
    assert emoji_sequence("call 2️⃣1️⃣8️⃣ now 🇮🇹 🚤") == ("🇮🇹", "🚤")


def test_a_different_route_or_price_vetoes_the_contact_and_similar_text_link() -> None:
    assert conflict(_fp(), _fp(route=("Van", "Istanbul")))
    assert conflict(_fp(), _fp(prices=((900.0, "EUR"),)))
    assert not conflict(_fp(), _fp(route=()))


# One ad in Arabic, Sorani and English: phone in Arabic-Indic digits, spaced and dashed,
# places in three scripts. None carries entities: `signalering cluster` must extract them.
YACHT_AR = (
    "🛥️ يخت VIP من ازمير الى ايطاليا مباشرة، بدون توقف\n"
    "الرحلة ٤ ايام، عدد قليل، سترات نجاة للجميع ✅\n"
    "السعر ٦٥٠٠ يورو للشخص، الدفع بعد الوصول عن طريق مكتب تأمين\n"
    "للحجز واتساب ‎+٩٠ ٥٣٢ ٧٧١ ٨٤٠٦"
)
YACHT_CKB = (
    "یەختی VIP لە ئیزمیر بۆ ئیتاڵیا ڕاستەوخۆ، بێ وەستان\n"
    "گەشتەکە ٤ ڕۆژە، ژمارەیەکی کەم، جلی ڕزگاربوون بۆ هەمووان\n"
    "نرخ 6500 یۆرۆ بۆ هەر کەسێک، پارەدان دوای گەیشتن لە ڕێگەی مەکتەب\n"
    "بۆ حجز واتساپ 0090-532-771-8406"
)
YACHT_EN = (
    "VIP yacht from Izmir to Italy direct, no stops. Trip is 4 days, small group, life "
    "jackets for everyone. Price 6,500 EUR per person, pay after arrival through an "
    "insurance office. Booking whatsapp +90 532 771 84 06"
)
WARNING_EN = (
    "⚠️ WARNING: do not send money to +90 532 771 84 06. They took 2000 euro from my "
    "cousin for a 'VIP yacht', then blocked him. Share so no other family is cheated 🙏"
)
OTHER_AD = "Minibus Van to Istanbul, no police on the road, 1200 USD. Call +90 532 771 84 06"


def test_signalering_cluster_joins_raw_translations_across_scripts_but_not_a_warning(
    tmp_path: Path,
) -> None:
    src = tmp_path / "posts.jsonl"
    posts = [
        {"id": "ar", "text": YACHT_AR},
        {"id": "ckb", "text": YACHT_CKB},
        {"id": "en", "text": YACHT_EN},
        {"id": "warning", "text": WARNING_EN},
        {"id": "other-ad", "text": OTHER_AD},
    ]
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), "utf-8")
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [str(Path(sys.executable).with_name("signalering")), "cluster", str(src), "-o", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cluster = {r["id"]: r["cluster"] for r in map(json.loads, out.read_text().splitlines())}
    assert cluster["ar"] is not None
    assert cluster["ar"] == cluster["ckb"] == cluster["en"], cluster
    assert cluster["warning"] != cluster["ar"]
    assert cluster["other-ad"] != cluster["ar"]  # same phone, other route: a network only
    assert "ckb" in done.stderr  # says which posts got no embedding links


def test_the_shared_phone_still_joins_the_warning_and_the_other_ad_into_one_network() -> None:
    from signalering.link import cluster_posts
    from signalering.link.network import find_networks
    from signalering.post import Post

    posts = [
        Post(text=t, id=i)
        for i, t in [("ar", YACHT_AR), ("en", YACHT_EN), ("w", WARNING_EN), ("o", OTHER_AD)]
    ]
    networks = find_networks(cluster_posts(posts, encoder=None))
    assert [sorted(n["post_ids"]) for n in networks] == [["ar", "en", "o", "w"]]
    assert len(networks[0]["clusters"]) == 1  # the yacht ad; warning and other ad alone
