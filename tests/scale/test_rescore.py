"""Re-scoring stored posts with a new model: every post once, old versions kept, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from signalering import corpus
from signalering.config import Settings
from signalering.post import Post
from signalering.rescore import jobs, rescore
from signalering.store import Store
from signalering.store.jobs import RescoreChunk
from signalering.store.models import PostRow, Score

OLD = "old-model-v1"
KEY = b"signalering-test-key"


def _fill(store: Store, n: int) -> list[dict]:
    """``n`` corpus posts, stored with a score of an older model (every offer flagged)."""
    records = corpus.load()
    chosen = [records[i % len(records)] for i in range(n)]
    posts = [
        Post(
            text=r["text"],
            source="forum",
            post_id=str(i),
            label=r["label"],
            scores={r["label"]: 0.9},
            flagged=r["label"] == "offer",
            model_version=OLD,
        )
        for i, r in enumerate(chosen)
    ]
    for start in range(0, n, 1000):
        store.save_posts(posts[start : start + 1000])
    return chosen


def _scores_per_post(store: Store, version: str) -> dict[int, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(Score.post_id, func.count())
            .where(Score.model_version == version)
            .group_by(Score.post_id)
        ).all()
    return dict(rows)


def _post_ids(store: Store) -> set[int]:
    with store.engine.connect() as conn:
        return set(conn.scalars(select(PostRow.id)))


def _settings(url: str, **sections: dict) -> Settings:
    """The configuration a re-score runs with: this store and the test key."""
    return Settings.model_validate(
        {"database": {"url": url}, "privacy": {"pseudonym_key": KEY.decode()}, **sections}
    )


def _version(model: Path) -> str:
    from signalering.model.classifier import Classifier

    return Classifier.load(model).version


def test_rescore_scores_every_post_once_and_keeps_the_old_versions_scores(
    store: Store, store_url: str, trained_model: Path
) -> None:
    chosen = _fill(store, 400)
    seen: list[tuple[int, int]] = []

    result = rescore(
        _settings(store_url),
        model_path=trained_model,
        workers=2,
        chunk_size=60,
        progress=lambda done, total: seen.append((done, total)),
    )

    new = _version(trained_model)
    assert result["model_version"] == new and result["posts"] == 400 and result["scored"] == 400
    per_post = _scores_per_post(store, new)
    assert set(per_post) == _post_ids(store)
    assert set(per_post.values()) == {1}
    # The old model's scores are all still there and queryable by their version.
    assert set(_scores_per_post(store, OLD).values()) == {1}
    assert len(_scores_per_post(store, OLD)) == 400
    old_flagged = store.flagged(model_version=OLD, limit=1000)
    assert len(old_flagged) == sum(r["label"] == "offer" for r in chosen)
    assert {p.model_version for p in old_flagged} == {OLD}
    # The newest scores are now the latest: the review queue shows the new model's verdicts.
    latest = store.flagged(limit=1000)
    assert latest and {p.model_version for p in latest} == {new}
    offers = [i for i, r in enumerate(chosen) if r["label"] == "offer"]
    flagged_ids = {p.post_id for p in latest}
    assert len(flagged_ids & {str(i) for i in offers}) >= 0.8 * len(offers)
    # Extraction ran too: a stored phone number of an offer is back as an entity.
    assert any(p.entities and p.entities.get("phones") for p in latest)
    # Progress rose to the total.
    assert seen[-1] == (400, 400)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_rescore_again_scores_only_posts_stored_since(
    store: Store, store_url: str, trained_model: Path
) -> None:
    _fill(store, 120)
    rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=50)
    store.save_posts([Post(text="new post: Italy by boat, call +90 555 111 2233", source="x")])

    again = rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=50)

    assert again["scored"] == 1 and again["posts"] == 121 and again["resumed_from"] == 120
    per_post = _scores_per_post(store, _version(trained_model))
    assert set(per_post) == _post_ids(store) and set(per_post.values()) == {1}
    assert jobs(store)[0]["status"] == "finished"


def _chunks_done(store: Store) -> tuple[int, int]:
    with store.engine.connect() as conn:
        total = conn.scalar(select(func.count(RescoreChunk.id)))
        done = conn.scalar(select(func.count()).where(RescoreChunk.status == "done"))
    return int(done or 0), int(total or 0)


def test_killed_rescore_resumes_and_ends_with_every_post_scored_once(
    store: Store, store_url: str, trained_model: Path
) -> None:
    n = 4000
    _fill(store, n)
    script = (
        "import sys; from signalering.config import Settings; "
        "from signalering.rescore import rescore; "
        "rescore(Settings.model_validate_json(sys.argv[1]), model_path=sys.argv[2], "
        "workers=2, chunk_size=100)"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", script, _settings(store_url).model_dump_json(), str(trained_model)],
        start_new_session=True,
        stderr=subprocess.PIPE,
    )
    decision_seconds = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            done, total = _chunks_done(store)
            if done >= 3:
                break
            assert job.poll() is None, job.stderr.read().decode() if job.stderr else ""
            time.sleep(0.05)
        # The review app keeps working while the job writes: an analyst's decision goes in.
        for pk in (1, 2, 3):
            start = time.monotonic()
            store.add_decision(pk, "analyst", "confirm")
            decision_seconds.append(time.monotonic() - start)
    finally:
        os.killpg(job.pid, signal.SIGKILL)  # the job and its workers, mid-chunk
        job.wait()

    done, total = _chunks_done(store)
    assert 3 <= done < total == n // 100
    new = _version(trained_model)
    assert len(_scores_per_post(store, new)) < n
    assert max(decision_seconds) < 5

    result = rescore(_settings(store_url), model_path=trained_model, workers=2, chunk_size=100)

    assert result["resumed_from"] >= 300 and result["scored"] == n - result["resumed_from"]
    per_post = _scores_per_post(store, new)
    assert set(per_post) == _post_ids(store) and set(per_post.values()) == {1}
    assert len(_scores_per_post(store, OLD)) == n
    assert _chunks_done(store) == (n // 100, n // 100)
    assert len(store.decisions(1)) == 1


def test_rescore_reuses_stored_language_and_entities_and_extracts_the_rest(
    store: Store, store_url: str, trained_model: Path
) -> None:
    text = "Boat to Italy tonight, 3500 euro, call +90 555 111 2233"
    # A stored entity extraction would not find: proof that it was kept, not recomputed.
    kept_phone = {"value": "+31612345678", "start": 0, "end": 4, "text": "Boat"}
    old = {"label": "offer", "scores": {"offer": 0.9}, "flagged": True, "model_version": OLD}
    store.save_posts(
        [
            Post(
                text=text,
                source="forum",
                post_id="kept",
                lang="xx",
                lang_confidence=1.0,
                entities={"phones": [kept_phone]},
                **old,  # type: ignore[arg-type]
            ),
            Post(text=text, source="forum", post_id="bare", **old),  # type: ignore[arg-type]
        ]
    )

    rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=10)

    posts = {p.post_id: p for p in store.iter_posts()}
    new = _version(trained_model)
    assert {p.model_version for p in posts.values()} == {new}
    kept = posts["kept"]
    assert kept.lang == "xx"
    assert kept.entities is not None and [e["value"] for e in kept.entities["phones"]] == [
        "+31612345678"
    ]
    bare = posts["bare"].entities
    assert bare is not None and [e["value"] for e in bare["phones"]] == ["+905551112233"]
    assert [e["amount"] for e in bare["prices"]] == [3500.0]


def test_rescore_does_not_extract_again_a_post_whose_extraction_found_nothing(
    store: Store, store_url: str, trained_model: Path
) -> None:
    text = "Boat to Italy tonight, 3500 euro, call +90 555 111 2233"
    old = {"label": "offer", "scores": {"offer": 0.9}, "flagged": True, "model_version": OLD}
    store.save_posts(
        [
            # Extracted at ingest and nothing found (as if by an older extractor): no rows.
            Post(text=text, source="forum", post_id="empty", entities={}, **old),  # type: ignore[arg-type]
            Post(text=text, source="forum", post_id="bare", **old),  # type: ignore[arg-type]
        ]
    )

    result = rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=10)

    posts = {p.post_id: p for p in store.iter_posts()}
    assert posts["empty"].entities is None  # kept as stored: not extracted again
    bare = posts["bare"].entities
    assert bare is not None and [e["value"] for e in bare["phones"]] == ["+905551112233"]
    assert result["scored"] == 2 and result["extracted"] == 1


def test_rescore_extracts_a_post_without_entities_once_even_when_it_finds_nothing(
    store: Store, store_url: str, trained_model: Path
) -> None:
    old = {"label": "unrelated", "scores": {"unrelated": 0.9}, "model_version": OLD}
    store.save_posts([Post(text="Good morning, how are you all?", source="forum", **old)])  # type: ignore[arg-type]

    first = rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=10)
    again = rescore(
        _settings(store_url),
        model_path=trained_model,
        workers=1,
        chunk_size=10,
        restart=True,
    )

    assert (first["scored"], first["extracted"]) == (1, 1)
    assert (again["scored"], again["extracted"]) == (1, 0)
    assert next(store.iter_posts()).entities is None  # nothing found, nothing stored


def test_rescore_extracts_an_edited_post_again(
    store: Store, store_url: str, trained_model: Path
) -> None:
    old = {"label": "offer", "scores": {"offer": 0.9}, "flagged": True, "model_version": OLD}
    store.save_posts([Post(text="Boat to Italy", source="forum", post_id="1", entities={}, **old)])  # type: ignore[arg-type]
    # The same post edited, saved without entities: the stored extraction is of the old text.
    edited = "Boat to Italy tonight, call +90 555 111 2233"
    store.save_posts([Post(text=edited, source="forum", post_id="1", **old)])  # type: ignore[arg-type]

    result = rescore(_settings(store_url), model_path=trained_model, workers=1, chunk_size=10)

    assert result["extracted"] == 1
    entities = next(store.iter_posts()).entities
    assert entities is not None and [e["value"] for e in entities["phones"]] == ["+905551112233"]


def test_rescore_with_similarity_flags_by_the_rule_ingest_uses(
    trained_model: Path, sqlite_url: str
) -> None:
    # A re-score must flag as a crawl or `classify` would: with the combiner saved beside
    # the new model under similarity.rule = "logistic", with no combiner under "or".
    from signalering import model
    from signalering.model.combiner import Combiner
    from signalering.rescore import _stages

    settings = _settings(sqlite_url, model={"path": str(trained_model)})
    classifier = model.load(settings)
    with Store.open(sqlite_url) as store:
        logistic = _stages(settings, classifier, store, True)
        plain = _stages(settings.model_copy(update={"similarity": settings.similarity.model_copy(
            update={"rule": "or"})}), classifier, store, True)  # fmt: skip
    assert logistic.rule == "logistic" and isinstance(logistic.combiner, Combiner)
    assert logistic.combiner.cut == Combiner.load(trained_model).cut
    assert plain.rule == "or" and plain.combiner is None


def test_the_rescore_command_says_how_many_posts_it_had_to_extract(
    tmp_path: Path, trained_model: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    with Store.open(url, pseudonym_key=KEY) as store:
        _fill(store, 30)  # stored without the extract stage
    binary = Path(sys.executable).with_name("signalering")
    env = {**os.environ, "SIGNALERING_PRIVACY_PSEUDONYM_KEY": "k"}
    command = [str(binary), "rescore", "--model", str(trained_model), "--database-url", url]
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "30 posts scored (30 in total, 0 done before; 30 never extracted before" in first.stdout
    again = subprocess.run(
        [*command, "--restart"], capture_output=True, text=True, env=env, timeout=300
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "30 posts scored (30 in total, 0 done before; 0 never extracted before" in again.stdout
