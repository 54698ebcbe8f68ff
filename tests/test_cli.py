"""The command line as a user meets it: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from signalering.cli import app

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).with_name("signalering")


def run(*args: str, input: bytes | None = None, env: dict | None = None, timeout: int = 300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(BIN), *args], input=input, capture_output=True, env=full_env, timeout=timeout
    )


def _commands() -> list[list[str]]:
    import typer.main

    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        out += [[name, sub] for sub in subs] if subs else [[name]]
    return out


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c))
def test_every_command_has_help_with_an_example_and_is_in_the_readme(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert re.search(r"Example: .*\bsignalering ", result.stdout.decode()), "help shows an example"
    readme = (ROOT / "README.md").read_text()
    assert re.search(rf"signalering {' '.join(command)}\b", readme), (
        f"README lacks `signalering {' '.join(command)}`"
    )


def test_classify_reads_stdin_and_writes_one_object_per_line(trained_model: Path) -> None:
    lines = [
        {
            "id": "a",
            "text": "🚤 Boat Zuwara → Lampedusa guaranteed 100%, 3500€ per person, whatsapp +218 91 234 5678",
            "channel": "x",
        },
        {"id": "b", "text": "Cheap ferry tickets Calais - Dover, book online with P&O"},
    ]
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    result = run("classify", input=data, env={"SIGNALERING_MODEL_PATH": str(trained_model)})
    assert result.returncode == 0, result.stderr.decode()
    out = [json.loads(x) for x in result.stdout.decode().splitlines()]
    assert [o["id"] for o in out] == ["a", "b"]
    for o in out:
        assert {"label", "scores", "lang", "flagged", "evidence"} <= o.keys()
        assert set(o["scores"]) == {"offer", "request", "warning", "unrelated"}
    assert out[0]["channel"] == "x", "input fields are kept as they are"
    assert out[0]["flagged"] is True and out[1]["flagged"] is False


def test_bad_lines_are_reported_with_their_number_and_exit_3(
    trained_model: Path, tmp_path: Path
) -> None:
    src = tmp_path / "posts.jsonl"
    src.write_bytes(b'{"text": "first post"}\nnot json\n{"id": 3}\n{"text": "last post"}\n')
    out = tmp_path / "out.jsonl"
    result = run(
        "classify", str(src), "-o", str(out), env={"SIGNALERING_MODEL_PATH": str(trained_model)}
    )
    assert result.returncode == 3
    err = result.stderr.decode()
    assert f"{src}:2: not valid JSON" in err and f"{src}:3: no 'text' field" in err
    assert "Traceback" not in err
    assert [json.loads(x)["text"] for x in out.read_text().splitlines()] == [
        "first post",
        "last post",
    ]


def test_unwritable_output_is_one_line_and_exit_2(trained_model: Path) -> None:
    result = run(
        "classify",
        "-o",
        "/proc/forbidden/out.jsonl",
        input=b'{"text":"x"}\n',
        env={"SIGNALERING_MODEL_PATH": str(trained_model)},
    )
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.startswith("error: cannot write /proc/forbidden/out.jsonl") and "\n" not in err


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_input_is_one_line_and_exit_2(
    trained_model: Path, tmp_path: Path, kind: str
) -> None:
    src = tmp_path / "posts.jsonl"
    if kind == "directory":
        src.mkdir()
    result = run("classify", str(src), env={"SIGNALERING_MODEL_PATH": str(trained_model)})
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert err.startswith(f"error: input {'file ' if kind == 'missing' else ''}{src}"), err
    assert "\n" not in err and "Traceback" not in err


def test_unreachable_database_is_one_line_and_exit_2(trained_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "posts.jsonl"
    src.write_text('{"text": "hello"}\n')
    env = {
        "SIGNALERING_MODEL_PATH": str(trained_model),
        "SIGNALERING_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere",
    }
    result = run("run", "--input", str(src), env=env)
    assert result.returncode == 2
    err = result.stderr.decode().strip()
    assert "\n" not in err and "127.0.0.1:1" in err and "Traceback" not in err
    verbose = run("--verbose", "run", "--input", str(src), env=env)
    assert "Traceback" in verbose.stderr.decode()


def test_run_stores_posts_and_a_second_run_adds_none(trained_model: Path, tmp_path: Path) -> None:
    src = tmp_path / "posts.jsonl"
    src.write_text(
        json.dumps(
            {
                "source": "t",
                "post_id": "1",
                "text": "Lorry to UK from Dunkirk, guaranteed, 2000 £, call +33 6 12 34 56 78",
            }
        )
        + "\n"
        + json.dumps(
            {
                "source": "t",
                "post_id": "2",
                "text": "Beware of smugglers: the sea is deadly. Call the helpline.",
            }
        )
        + "\n"
    )
    env = {
        "SIGNALERING_MODEL_PATH": str(trained_model),
        "SIGNALERING_DATABASE_URL": f"sqlite:///{tmp_path}/s.db",
        "SIGNALERING_PATHS_HOME": str(tmp_path / "home"),
    }
    first = run("run", "--input", str(src), env=env)
    assert first.returncode == 0, first.stderr.decode()
    assert "2 new" in first.stdout.decode()
    second = run("run", "--input", str(src), env=env)
    assert "0 new" in second.stdout.decode() and "2 unchanged" in second.stdout.decode()


def test_evaluate_prints_per_label_and_per_language_metrics(trained_model: Path) -> None:
    from signalering import corpus

    result = run(
        "evaluate",
        "--no-lolo",
        "--partitions",
        "2",
        env={"SIGNALERING_MODEL_PATH": str(trained_model)},
    )
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    # The real-text CV again over a second, shuffled partition of the sources.
    spread = re.search(r"R at P 0\.85\W+([\d.]+)\W+([\d.]+)\W+([\d.]+)\W+([\d.]+) ([\d.]+)", out)
    assert "over 2 source partitions" in out and spread, out[-3000:]
    mean, low, high, first, second = (float(x) for x in spread.groups())
    assert low <= mean <= high and {low, high} == {first, second}
    for heading in (
        "Per label",
        "Per language",
        "Confusion",
        "Brier",
        "keyword baseline",
        "Entity extraction",
        "Everyday group chat:",
    ):
        assert heading in out
    assert re.search(r"Everyday group chat: \d+ of \d+ messages flagged", out)
    assert "the corpus changed since this model was trained" not in out
    for lang in {r["lang"] for r in corpus.load()}:
        assert re.search(rf"^\W*{re.escape(lang)}\W", out, re.M), f"no row for {lang}"


@pytest.mark.slow
def test_demo_crawls_the_bundled_site_and_shows_flagged_posts(
    trained_model: Path, tmp_path: Path
) -> None:
    env = {
        "SIGNALERING_MODEL_PATH": str(trained_model),
        "SIGNALERING_PATHS_HOME": str(tmp_path / "home"),
    }
    result = run("demo", env=env, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out = result.stdout.decode()
    crawled = int(re.search(r"Crawled \d+ demo sources: (\d+) posts", out).group(1))
    assert crawled >= 40
    assert "Top flagged posts" in out and "offer" in out
    assert (tmp_path / "home" / "demo.sqlite3").exists()


def test_networks_on_a_store_without_networks_says_how_to_build_them(tmp_path: Path) -> None:
    result = run("networks", "--database-url", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert result.returncode == 0
    assert "no candidate networks" in result.stderr.decode()
    assert "--rebuild" in result.stderr.decode()


def test_a_crawl_whose_database_is_down_stops_with_one_line(tmp_path: Path) -> None:
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - name: feed\n    kind: feed\n    start_urls: [http://127.0.0.1:9/feed.xml]\n",
        encoding="utf-8",
    )
    url = "postgresql+psycopg://postgres:secret@127.0.0.1:9/signalering"
    result = run("crawl", "--sources", str(sources), env={"SIGNALERING_DATABASE_URL": url})
    err = result.stderr.decode().strip()
    assert result.returncode == 2
    assert err.startswith("error: cannot connect to database") and "\n" not in err
    assert "secret" not in err
