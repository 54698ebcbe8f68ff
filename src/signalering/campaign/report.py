"""The campaign report: one self-contained HTML file (inline SVG plots), or CSV tables.

>>> data = aggregates(store, since="2024-01-01", until="2024-06-30")  # doctest: +SKIP
>>> write_report(data, Path("report.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, select_autoescape

from signalering.campaign.claims import claim_labels
from signalering.errors import InputError

logger = logging.getLogger(__name__)

Format = Literal["html", "csv"]
LABEL_COLOURS = {
    "offer": "#c0392b",
    "request": "#2e86c1",
    "warning": "#27ae60",
    "unrelated": "#95a5a6",
    "unscored": "#d4ac0d",
}
CSV_TABLES = (
    "volume", "languages", "sources", "platforms", "routes", "demand_routes",
    "demand_languages", "claims", "claims_by_lang", "claims_by_route", "claims_by_period",
    "prices",
)  # fmt: skip
# matplotlib's SVG carries an XML prolog, a DTD link, namespaces and metadata: none is needed
# inline in HTML5, and leaving them out keeps the file free of any address.
_SVG_NOISE = [
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(?::\w+)?="[^"]*"'),
]


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Glyphs missing from matplotlib's font (Ge'ez, say) only matter for layout: with
        # svg.fonttype "none" the browser draws the text with its own fonts.
        warnings.simplefilter("ignore", UserWarning)
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buffer.getvalue()
    for pattern in _SVG_NOISE:
        svg = pattern.sub(" " if pattern.pattern.startswith(r"\s+xmlns") else "", svg)
    return svg


def _figure(height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "text.parse_math": False, "font.size": 10})
    fig, ax = plt.subplots(figsize=(9, height))
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _empty(title: str) -> str:
    fig, ax = _figure(1.2)
    ax.axis("off")
    ax.text(0.5, 0.5, f"{title}: no posts", ha="center", va="center", color="#5a6475")
    return _svg(fig)


def _barh(
    title: str, names: list[str], values: list[float], colour: str, fmt: str = "{:.0f}"
) -> str:
    if not names:
        return _empty(title)
    fig, ax = _figure(0.8 + 0.32 * len(names))
    ax.barh(range(len(names)), values, color=colour)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    for i, v in enumerate(values):
        ax.text(v, i, " " + fmt.format(v), va="center", fontsize=8)
    ax.set_title(title, loc="left")
    return _svg(fig)


def plot_volume(data: dict[str, Any]) -> str:
    """Weekly posts per label."""
    weeks = sorted({r["period"] for r in data["volume"] if r["period"] != "?"})
    if not weeks:
        return _empty("Posts per week")
    fig, ax = _figure(3.4)
    per = Counter({(r["period"], r["label"]): r["posts"] for r in data["volume"]})
    for label in sorted({r["label"] for r in data["volume"]}):
        ax.plot(
            range(len(weeks)),
            [per[(w, label)] for w in weeks],
            marker="o",
            markersize=3,
            label=label,
            color=LABEL_COLOURS.get(label, "#555"),
        )
    step = max(1, len(weeks) // 12)
    ax.set_xticks(range(0, len(weeks), step), weeks[::step], rotation=45, ha="right")
    ax.set_ylabel("posts per week")
    ax.legend(frameon=False, ncol=5, loc="upper left")
    ax.set_title("Posts per week by label", loc="left")
    return _svg(fig)


def plot_languages(data: dict[str, Any]) -> str:
    """Offers and requests per language, side by side."""
    per = Counter()
    for r in data["languages"]:
        if r["label"] in ("offer", "request"):
            per[(r["lang"], r["label"])] += r["posts"]
    langs = sorted(
        {k[0] for k in per}, key=lambda lg: (-per[(lg, "offer")] - per[(lg, "request")], lg)
    )[:20]
    if not langs:
        return _empty("Offers and requests per language")
    fig, ax = _figure(0.8 + 0.3 * len(langs))
    ys = range(len(langs))
    ax.barh(
        [y - 0.2 for y in ys],
        [per[(lg, "offer")] for lg in langs],
        height=0.4,
        color=LABEL_COLOURS["offer"],
        label="offer",
    )
    ax.barh(
        [y + 0.2 for y in ys],
        [per[(lg, "request")] for lg in langs],
        height=0.4,
        color=LABEL_COLOURS["request"],
        label="request",
    )
    ax.set_yticks(list(ys), langs)
    ax.invert_yaxis()
    ax.legend(frameon=False)
    ax.set_title("Offers and requests per language", loc="left")
    return _svg(fig)


def render_plots(data: dict[str, Any]) -> dict[str, str]:
    """Every plot of the report as inline SVG markup."""
    offer_routes = [r for r in data["routes"] if r["label"] == "offer"][:12]
    demand = Counter()
    for r in data["demand_routes"]:
        demand[f"{r['departure']} → {r['destination']}"] += r["posts"]
    themes = [
        (f"{t['id']}. {t['label']}", t["estimated_posts"])
        for t in data["themes"].get("offer") or []
    ]
    platforms = Counter()
    for r in data["platforms"]:
        if r["label"] == "offer":
            platforms[r["platform"]] += r["posts"]
    return {
        "volume": plot_volume(data),
        "languages": plot_languages(data),
        "routes": _barh(
            "Most advertised routes (offers)",
            [f"{r['departure']} → {r['destination']}" for r in offer_routes],
            [r["posts"] for r in offer_routes],
            LABEL_COLOURS["offer"],
        ),
        "demand": _barh(
            "Routes people ask about (requests)",
            [k for k, _ in demand.most_common(12)],
            [v for _, v in demand.most_common(12)],
            LABEL_COLOURS["request"],
        ),
        "claims": _barh(
            "Share of offers making each claim",
            [r["name"] for r in data["claims"]],
            [r["share"] * 100 for r in data["claims"]],
            "#8e44ad",
            "{:.0f}%",
        ),
        "themes": _barh(
            "Offer themes (estimated posts)",
            [name for name, _ in themes],
            [n for _, n in themes],
            "#d35400",
        ),
        "platforms": _barh(
            "Contact platforms in offers",
            [k for k, _ in platforms.most_common(10)],
            [v for _, v in platforms.most_common(10)],
            "#16a085",
        ),
    }


def render_html(data: dict[str, Any]) -> str:
    """The report as one HTML string: no scripts, no external assets, everything escaped."""
    env = Environment(
        loader=PackageLoader("signalering.campaign", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=False,
    )
    names = claim_labels()
    langs = Counter()
    for r in data["claims_by_lang"]:
        langs[r["lang"]] += r["posts"]
    claim_langs = [lang for lang, _ in langs.most_common(17)]
    per = {(r["claim"], r["lang"]): r["posts"] for r in data["claims_by_lang"]}
    matrix = [(names[c], [per.get((c, lg), 0) for lg in claim_langs]) for c in names]
    return env.get_template("report.html.j2").render(
        data=data,
        plots=render_plots(data),
        claim_names=names,
        claim_langs=claim_langs,
        claim_matrix=matrix,
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _csv_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_csv(data: dict[str, Any], folder: Path) -> list[Path]:
    """One CSV per aggregate table (plus ``themes.csv``, ``unthemed.csv`` and ``labels.csv``)
    in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, Any]]] = {
        "labels": [{"label": k, "posts": v} for k, v in sorted(data["labels"].items())]
    }
    for name in CSV_TABLES:
        tables[name] = [
            {k: v for k, v in row.items() if k != "examples"} for row in data.get(name) or []
        ]
    tables["themes"] = [
        {
            "label_kind": kind,
            **{k: v for k, v in t.items() if k != "excerpts"},
        }
        for kind, themes in sorted(data["themes"].items())
        for t in themes
    ]
    # Sampled posts in no theme because the encoder cannot read them, per language.
    tables["unthemed"] = [
        {"label_kind": kind, "lang": lang, "posts": n}
        for kind, left in sorted((data.get("unthemed") or {}).items())
        for lang, n in left["languages"].items()
    ]
    written = []
    for name, rows in tables.items():
        path = folder / f"{name}.csv"
        columns = list(rows[0]) if rows else ["posts"]
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _csv_value(v) for k, v in row.items()})
        written.append(path)
    return written


def write_report(data: dict[str, Any], output: Path, *, format: Format = "html") -> list[Path]:
    """Write the report: ``output`` is the HTML file, or the folder for the CSV tables."""
    output = Path(output)
    if format == "csv":
        if output.suffix.lower() in (".html", ".htm") or output.is_file():
            raise InputError(f"{output} is a file name — give a folder for --format csv")
        return write_csv(data, output)
    if format != "html":
        raise InputError(f"report format {format!r} is unknown — use html or csv")
    if output.is_dir():
        raise InputError(f"{output} is a folder — give a file name like report.html")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(data), encoding="utf-8")
    logger.info("wrote %s", output)
    return [output]
