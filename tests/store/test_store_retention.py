"""Decisions, the audit log and the retention purge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signalering.errors import InputError, StoreError
from signalering.post import Post
from signalering.store import Store

TABLES = ("posts", "scores", "entities", "post_versions", "decisions")


def _rows(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in TABLES}


def _post(post_id: str, text: str, fetched_at: str) -> Post:
    return Post(
        text=text,
        source="forum",
        post_id=post_id,
        fetched_at=fetched_at,
        label="offer",
        scores={"offer": 0.9, "unrelated": 0.1},
        flagged=True,
        model_version="v1",
        entities={"phones": [{"value": "+447700900123"}], "places": [{"value": "Calais"}]},
    )


def test_a_decision_is_recorded_with_an_audit_row(store: Store) -> None:
    store.save_posts([_post("1", "boat", "2024-06-01T00:00:00Z")])
    decision = store.add_decision(1, "analyst.a", "correct", label="warning", note="NGO post")
    assert store.decisions(1) == [
        {
            "id": decision,
            "user": "analyst.a",
            "action": "correct",
            "label": "warning",
            "note": "NGO post",
            "created_at": store.decisions(1)[0]["created_at"],
        }
    ]
    [entry] = store.audit_log()
    assert (entry["user"], entry["action"], entry["target"]) == (
        "analyst.a",
        "decision.correct",
        "post:1",
    )
    assert entry["detail"] == {"label": "warning", "note": "NGO post"}


def test_an_unknown_decision_or_post_is_refused(store: Store) -> None:
    store.save_posts([_post("1", "boat", "2024-06-01T00:00:00Z")])
    with pytest.raises(InputError, match="confirm"):
        store.add_decision(1, "analyst.a", "approve")
    with pytest.raises(StoreError, match="404"):
        store.add_decision(404, "analyst.a", "confirm")
    assert store.audit_log() == []


def test_the_audit_log_lists_the_newest_first(store: Store) -> None:
    store.audit("analyst.a", "export", "flagged.csv", {"rows": 12})
    store.audit("analyst.b", "login", "web")
    log = store.audit_log(limit=10)
    assert [e["action"] for e in log] == ["login", "export"]
    assert log[1]["detail"] == {"rows": 12}
    assert len(store.audit_log(limit=1)) == 1


def test_purge_removes_old_posts_with_their_scores_entities_history_and_decisions(
    store: Store,
) -> None:
    store.save_posts([_post("old", "old text", "2023-01-01T00:00:00Z")])
    store.save_posts([_post("old", "old text, edited", "2023-02-01T00:00:00Z")])
    store.save_posts([_post("new", "new text", "2024-06-01T00:00:00Z")])
    store.add_decision(1, "analyst.a", "confirm")
    store.add_decision(2, "analyst.a", "dismiss")

    assert store.purge(before=datetime(2024, 1, 1, tzinfo=UTC)) == 1
    assert [p.post_id for p in store.iter_posts()] == ["new"]
    assert _rows(store) == {
        "posts": 1,
        "scores": 1,
        "entities": 2,
        "post_versions": 0,
        "decisions": 1,
    }
    # The audit trail outlives the posts, and the purge adds its own line.
    assert [e["action"] for e in store.audit_log()] == [
        "purge",
        "decision.dismiss",
        "decision.confirm",
    ]
    assert store.purge(before=datetime(2024, 1, 1, tzinfo=UTC)) == 0
