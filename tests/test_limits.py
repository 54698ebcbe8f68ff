"""Bounded memory where strangers' text comes in: the caps of each stage, the JSONL line
limit, batches by size, and the real commands on a file with one 20 MB post."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signalering.config import LimitsSettings, load_config
from signalering.jsonl import ReadReport, read_posts
from signalering.pipeline import Stages, batches, language, normalise
from signalering.post import Post
from signalering.store import Store

BIN = Path(sys.executable).with_name("signalering")
BIG = 20_000_000  # characters of the long post (ASCII: 20 MB)
GB = 1024**3
ORDINARY = [
    {"id": "a", "text": "Boat Zuwara to Lampedusa 3500 euro, whatsapp +218 91 234 5678"},
    {"id": "c", "text": "Looking for a flat in Berlin for two months, any advice welcome."},
]


# -- the JSONL reader ------------------------------------------------------------------------
class _Watched(io.BytesIO):
    """A stream that remembers the largest piece a reader asked it for."""

    largest = 0

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        piece = super().readline(size)
        self.largest = max(self.largest, len(piece))
        return piece


def _read(data: bytes, max_line_bytes: int) -> tuple[list[Post], ReadReport, _Watched]:
    stream = _Watched(data)
    report = ReadReport()
    posts = list(
        read_posts(
            stream,
            name="in.jsonl",
            report=report,
            on_error=lambda e: None,
            max_line_bytes=max_line_bytes,
        )
    )
    return posts, report, stream


def test_a_line_above_the_limit_is_named_skipped_and_never_held_whole() -> None:
    long_line = json.dumps({"id": "big", "text": "x" * 5_000_000}).encode() + b"\n"
    data = b'{"id": 1, "text": "first"}\n' + long_line + b'{"id": 3, "text": "third"}\n'
    posts, report, stream = _read(data, max_line_bytes=1024 * 1024)
    assert [p.text for p in posts] == ["first", "third"]
    (error,) = report.skipped
    assert str(error) == (
        "in.jsonl:2: line is 4.8 MB, above the limit (1 MB, setting limits.line_mb)"
    )
    assert stream.largest <= 1024 * 1024 + 1


def test_a_line_at_the_limit_is_read_and_one_past_it_is_refused() -> None:
    line = json.dumps({"text": "y" * 100}).encode()
    posts, report, _ = _read(line + b"\n" + line, max_line_bytes=len(line))
    assert len(posts) == 2 and not report.skipped
    posts, report, _ = _read(line + b"\n" + line, max_line_bytes=len(line) - 1)
    assert posts == [] and len(report.skipped) == 2
    assert str(report.skipped[1]).startswith("in.jsonl:2: line is")


def test_the_line_limit_is_a_setting_in_mb() -> None:
    settings = load_config(env={"SIGNALERING_LIMITS_LINE_MB": "0.5"})
    assert settings.limits.line_bytes == 512 * 1024
    assert LimitsSettings().line_bytes == 50 * 1024 * 1024


# -- batches -----------------------------------------------------------------------------------
def test_batches_end_at_their_size_as_well_as_their_count() -> None:
    posts = [Post(text="x" * n) for n in (10, 10, 500, 10, 10, 10, 10)]
    sizes = [[len(p.text) for p in b] for b in batches(posts, 3, max_chars=100)]
    assert sizes == [[10, 10], [500], [10, 10, 10], [10]]


# -- the stages' caps ---------------------------------------------------------------------
def test_each_stage_reads_only_its_cap_and_marks_the_post() -> None:
    head = "Bel +31 6 12345678 voor de overtocht. "
    text = head + "bla " * 2_000 + " of bel +31 6 87654321"
    limits = LimitsSettings(extract_chars=200)
    stages = Stages(None, stages=("normalise", "language", "extract"), limits=limits)
    long_post, short_post = stages.process([Post(text=text), Post(text=head)])
    assert long_post.truncated is True and long_post.text == text
    assert [p["value"] for p in long_post.entities["phones"]] == ["+31612345678"]
    assert short_post.truncated is None
    assert "truncated" not in short_post.to_record()
    assert long_post.to_record()["truncated"] is True


def test_normalise_and_language_read_their_caps() -> None:
    text = "Reis naar Duitsland, veilig en snel. " * 1000
    capped = normalise(Post(text=text), max_chars=500)
    assert capped.truncated is True and len(capped.normalised.original) == 500
    assert normalise(Post(text=text), max_chars=len(text)).truncated is None
    assert language(Post(text=text), max_chars=300).truncated is True


def test_the_store_keeps_the_whole_text_and_the_marker(sqlite_url: str) -> None:
    text = "z" * 300_000
    with Store.open(sqlite_url, pseudonym_key=b"k") as store:
        store.save_posts([Post(text=text, post_id="1", source="s", truncated=True)])
        store.save_posts([Post(text="short", post_id="2", source="s")])
        by_id = {p.post_id: p for p in store.iter_posts()}
    assert by_id["1"].text == text and by_id["1"].truncated is True
    assert by_id["1"].extras == {}
    assert by_id["2"].truncated is None


# -- the real commands on a 20 MB post -----------------------------------------------------
def _write(path: Path, big_text: str) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(ORDINARY[0]) + "\n")
        fh.write(json.dumps({"id": "big", "text": big_text}) + "\n")
        fh.write(json.dumps(ORDINARY[1]) + "\n")
    return path


@pytest.fixture(scope="module")
def big_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two ordinary posts around one 20 MB post: words and numbers, or one repeated letter."""
    folder = tmp_path_factory.mktemp("bigpost")
    phrase = "travel to Germany safe route call +4915112345678 price 2500 euro "
    words = (phrase * (BIG // len(phrase) + 1))[:BIG]
    return {
        "words": _write(folder / "words.jsonl", words),
        "letter": _write(folder / "letter.jsonl", "a" * BIG),
    }


def run_measured(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS in bytes of ``signalering ARGS`` in its own process."""
    err_path = cwd / "stderr.txt"
    with err_path.open("wb") as err:
        proc = subprocess.Popen(
            [str(BIN), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **env},
            cwd=cwd,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err_path.read_text(encoding="utf-8"), usage.ru_maxrss * 1024


COMMANDS = {
    "classify": lambda f, out: ["classify", str(f), "-o", str(out)],
    "extract": lambda f, out: ["extract", str(f), "-o", str(out)],
    "cluster": lambda f, out: ["cluster", str(f), "-o", str(out)],
    "run": lambda f, out: ["run", "--input", str(f)],
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["words", "letter"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_20_mb_post_among_ordinary_ones_is_processed_in_bounded_memory(
    command: str, kind: str, big_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    db = tmp_path / "store.sqlite3"
    env = {"SIGNALERING_PATHS_HOME": str(tmp_path), "SIGNALERING_DATABASE_URL": f"sqlite:///{db}"}
    code, stderr, peak = run_measured(COMMANDS[command](big_files[kind], out), env, tmp_path)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert peak <= 2 * GB, f"{command} peaked at {peak / 2**20:.0f} MB"
    if command == "run":
        with Store.open(f"sqlite:///{db}", pseudonym_key=b"k") as store:
            posts = {p.id: p for p in store.iter_posts()}
        assert len(posts) == 3
        stored = {len(p.text): p for p in posts.values()}
        assert stored[BIG].truncated is True  # the store keeps the whole text, marked
        assert all(p.label for p in posts.values())
        return
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["a", "big", "c"]
    assert len(records[1]["text"]) == BIG and records[1]["truncated"] is True
    assert all("truncated" not in r for r in (records[0], records[2]))
    if command == "classify":
        assert records[0]["flagged"] is True and records[2]["flagged"] is False
    if command == "extract":
        assert records[0]["entities"]["phones"][0]["value"] == "+218912345678"
    if command == "cluster":
        assert all("cluster" in r for r in records)


@pytest.mark.slow
def test_a_line_above_the_limit_is_one_line_on_stderr_and_exit_3(
    big_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    env = {"SIGNALERING_PATHS_HOME": str(tmp_path), "SIGNALERING_LIMITS_LINE_MB": "10"}
    args = ["extract", str(big_files["letter"]), "-o", str(out)]
    code, stderr, peak = run_measured(args, env, tmp_path)
    assert code == 3
    assert f"{big_files['letter']}:2: line is 19 MB, above the limit" in stderr
    assert "Traceback" not in stderr
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "c"]
    assert peak <= 2 * GB


def test_the_campaign_report_reads_only_the_head_of_a_long_stored_post(sqlite_url: str) -> None:
    from signalering.campaign import aggregates
    from signalering.campaign.aggregate import TEXT_CHARS

    def offer(post_id: str, text: str) -> Post:
        return Post(
            text=text,
            source="forum",
            post_id=post_id,
            posted_at="2024-04-02T12:00:00+00:00",
            lang="en",
            label="offer",
            scores={"offer": 0.9},
            flagged=True,
            model_version="test",
            entities={},
        )

    filler = "nothing to see here " * (TEXT_CHARS // 10)
    with Store.open(sqlite_url, pseudonym_key=b"k") as store:
        store.save_posts(
            [
                offer("head", "Boat to Lampedusa, 100% guaranteed. " + filler),
                offer("tail", "Boat to Lampedusa. " + filler + " pay on arrival"),
            ]
        )
        data = aggregates(store, themes=False)
    claims = {r["claim"]: r["posts"] for r in data["claims"]}
    assert data["posts"] == 2
    assert claims["safety_guarantee"] == 1 and claims["pay_on_arrival"] == 0
