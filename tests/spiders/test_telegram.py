from __future__ import annotations

from pathlib import Path


def test_every_message_of_the_channel_is_extracted_once_across_pages(
    telegram_site, tmp_path, crawl
):
    base, log = telegram_site
    out = tmp_path / "posts.jsonl"
    result = crawl(["--kind", "telegram", "--url", f"{base}/s/grensreizen"], out)
    assert result.returncode == 0, result.stderr[-2000:]
    ids = [int(p["post_id"]) for p in result.posts]
    # Page 2 overlaps page 1 and has no "load more" link: still no gap and no duplicate.
    assert sorted(ids) == list(range(105, 126))
    assert len(ids) == len(set(ids))
    # The last page's "before" is served as the first page again (like a mirror looping):
    # the crawl stops instead of looping.
    assert log.count("/s/grensreizen?before=105") == 1
    summary = result.summary("telegram-grensreizen")
    assert summary["status"] == "ok"
    assert summary["metadata"]["title"] == "Grens Reizen ✈️"
    assert summary["metadata"]["subscribers"] == 12300
    assert (
        summary["metadata"]["description"] == "Fictitious test channel.\nContact: @fake_contact_bot"
    )


def test_message_fields_follow_the_preview_markup(telegram_site, tmp_path, crawl):
    base, _ = telegram_site
    out = tmp_path / "posts.jsonl"
    result = crawl(["--kind", "telegram", "--url", f"{base}/s/grensreizen"], out)
    posts = {p["post_id"]: p for p in result.posts}
    boat = posts["125"]
    assert boat["text"] == "Boat trip to UK 🚤 this week\nCall +44 7700 900123\n\nSafe & fast"
    assert boat["views"] == 1200
    assert boat["posted_at"] == "2024-03-25T13:15:00+00:00"
    assert boat["url"] == "https://t.me/grensreizen/125"
    assert boat["kind"] == "telegram" and boat["source"] == "telegram-grensreizen"
    assert boat["fetched_at"].endswith("+00:00")
    assert posts["124"]["forwarded_from"] == "Other Travel"
    assert posts["123"]["link_previews"][0]["title"] == "Smuggling warning"
    assert posts["122"]["text"] == "" and posts["122"]["photos"]
    assert posts["122"]["views"] == 2_000_000
    assert posts["121"]["edited"] is True and posts["125"]["edited"] is False
    # Emoji shown only as an image URL is decoded from its UTF-8 hex.
    assert posts["120"]["text"] == "Documents ready in 3 days 🚚"
    assert posts["120"]["author"] == "Admin K"
    assert posts["119"]["text"] == "قارب إلى إيطاليا هذا الأسبوع"
    # The quoted message of a reply is not mixed into the reply's text.
    assert posts["118"]["text"] == "Answering questions below"


def test_max_posts_stops_paging(telegram_site, tmp_path, crawl):
    base, log = telegram_site
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: tg\n    kind: telegram\n"
        f"    start_urls: ['{base}/s/grensreizen']\n    max_posts: 4\n",
        encoding="utf-8",
    )
    result = crawl(["--sources", str(sources)], tmp_path / "posts.jsonl")
    assert [p["post_id"] for p in result.posts] == ["125", "124", "123", "122"]
    assert "/s/grensreizen?before=113" not in log


def test_until_date_stops_at_older_messages(telegram_site, tmp_path, crawl):
    base, _ = telegram_site
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: tg\n    kind: telegram\n"
        f"    start_urls: ['{base}/s/grensreizen']\n    until: '2024-03-18T00:00:00+00:00'\n",
        encoding="utf-8",
    )
    result = crawl(["--sources", str(sources)], tmp_path / "posts.jsonl")
    assert sorted(int(p["post_id"]) for p in result.posts) == list(range(118, 126))


def test_channel_without_public_preview_is_reported_not_empty(telegram_site, tmp_path, crawl):
    base, _ = telegram_site
    out = tmp_path / "posts.jsonl"
    result = crawl(["--kind", "telegram", "--url", f"{base}/s/closedgroup"], out)
    summary = result.summary("telegram-closedgroup")
    assert summary["status"] == "no_public_preview"
    assert summary["errors"] == 1
    assert result.returncode == 3  # a source not crawled as asked
    assert "has no public preview" in result.stderr
    assert not Path(out).exists() or result.posts == []
