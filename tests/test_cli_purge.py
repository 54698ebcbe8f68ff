"""`signalering purge` as a user meets it: a real store file, real processes, the raw bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from signalering.pipeline import extract
from signalering.post import Post
from signalering.privacy import pseudonymise
from signalering.store import Store

BIN = Path(sys.executable).with_name("signalering")
KEY = "purge-test-key"
OLD = "Boat Zuwara to Lampedusa 3500 euro, leaving Friday, WhatsApp +218 92 260 1815"
NEW = "Crossing Calais to Dover 2000 euro, message +44 7700 900456"


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, env={**os.environ, **env}, timeout=300
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "SIGNALERING_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "SIGNALERING_PATHS_HOME": str(tmp_path / "home"),
        "SIGNALERING_PRIVACY_PSEUDONYM_KEY": KEY,
        **extra,
    }


def _raw(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())


def test_purge_older_than_365_leaves_no_trace_of_the_2023_post_in_the_sqlite_files(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.sqlite3"
    recent = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    posts = [
        Post(text=OLD, source="forum", post_id="2023", posted_at="2023-05-01T08:00:00+00:00"),
        Post(text=NEW, source="forum", post_id="recent", posted_at=recent),
    ]
    with Store.open(f"sqlite:///{db}", pseudonym_key=KEY.encode()) as store:
        store.save_posts([extract(p) for p in posts])
        [old] = [p for p in store.iter_posts() if p.post_id == "2023"]
        store.add_decision(int(old.id), "anna", "escalate", note="ring +218922601815")  # type: ignore[arg-type]
    # Every form the phone number can take in the store: as written, E.164, digits, pseudonym.
    phone = old.entities["phones"][0]  # type: ignore[index]
    assert phone["value"] == "+218922601815"
    forms = {
        OLD,
        "Zuwara to Lampedusa",
        "+218 92 260 1815",
        "+218922601815",
        "218922601815",
        phone["pseudonym"],
        pseudonymise("+218922601815", KEY, kind="phone"),
        "ring +",
    }
    assert b"Zuwara to Lampedusa" in _raw(db)

    dry = run("purge", "--older-than", "365", "--dry-run", env=_env(tmp_path))
    assert dry.returncode == 0, dry.stderr.decode()
    assert "would purge 1 posts" in dry.stdout.decode()
    assert b"Zuwara to Lampedusa" in _raw(db)

    done = run("purge", "--older-than", "365", env=_env(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    assert "purged 1 posts older than 365 days" in done.stdout.decode()
    found = _raw(db)
    assert [f for f in forms if f.encode() in found] == []
    assert NEW.encode() in found

    with Store.open(f"sqlite:///{db}") as store:
        assert [p.post_id for p in store.iter_posts()] == ["recent"]
    audit = run("audit", "--json", env=_env(tmp_path))
    entries = [json.loads(line) for line in audit.stdout.decode().splitlines()]
    purge_entry = next(e for e in entries if e["action"] == "purge")
    assert purge_entry["user"].startswith("cli")
    assert {k: purge_entry["detail"][k] for k in ("days", "posts", "held", "decisions")} == {
        "days": 365,
        "posts": 1,
        "held": 0,
        "decisions": 1,
    }
    assert [e["action"] for e in entries].count("purge") == 1  # the dry run wrote none


def test_purge_without_a_period_says_how_to_give_one(tmp_path: Path) -> None:
    result = run("purge", env=_env(tmp_path))
    assert result.returncode == 2
    assert "--older-than DAYS or set retention.days" in result.stderr.decode()
    assert len(result.stderr.decode().strip().splitlines()) == 1


def test_run_applies_the_configured_retention_at_its_end(
    trained_model: Path, tmp_path: Path
) -> None:
    lines = [
        {"text": OLD, "source": "forum", "post_id": "2023", "posted_at": "2023-05-01T08:00:00Z"},
        {"text": NEW, "source": "forum", "post_id": "recent"},
    ]
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    env = _env(
        tmp_path, SIGNALERING_MODEL_PATH=str(trained_model), SIGNALERING_RETENTION_DAYS="365"
    )
    result = run("run", "--input", str(src), env=env)
    assert result.returncode == 0, result.stderr.decode()
    assert "purged 1 posts older than 365 days" in result.stdout.decode()
    with Store.open(_env(tmp_path)["SIGNALERING_DATABASE_URL"]) as store:
        assert [p.post_id for p in store.iter_posts()] == ["recent"]
        [line] = [e for e in store.audit_log() if e["action"] == "purge"]
    assert line["user"] == "job:run"
