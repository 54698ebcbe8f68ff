"""Why a post was flagged: typed evidence, and its JSON form in the store and the API.

Three kinds, each a frozen dataclass with ``to_dict`` (what ``Post.evidence`` and
``scores.evidence`` hold) and read back by :func:`parse`:

- :class:`Span`: a stretch of the original text that pushed the label up (the
  classifier's explanation), optionally a cue (``cue`` names its slot);
- :class:`SimilarMatch`: a known offer the post is close to (``model.similarity``);
- :class:`Rule`: the similarity rule that flagged the post, with its numbers.

A span's JSON has no ``kind`` (evidence stored before this module had none either).

>>> parse({"kind": "similar", "exemplar": "post-12", "score": 0.91, "text": "0.91 like …"})
SimilarMatch(exemplar='post-12', score=0.91, lang=None, origin=None, text='0.91 like …')
>>> Span(4, 8, "3500", 1.25).to_dict()
{'start': 4, 'end': 8, 'text': '3500', 'weight': 1.25}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from signalering.errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["Evidence", "Rule", "SimilarMatch", "Span", "parse", "parse_all"]


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of the original post, and how much they weighed."""

    start: int
    end: int
    text: str
    weight: float = 0.0
    cue: str | None = None
    cue_label: str | None = None

    kind: ClassVar[str] = "span"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "weight": self.weight,
        }
        if self.cue is not None:
            out.update(cue=self.cue, cue_label=self.cue_label)
        return out


@dataclass(frozen=True)
class SimilarMatch:
    """A known offer (``post-<id>`` or a corpus id) the post is ``score`` similar to."""

    exemplar: str
    score: float
    lang: str | None = None
    origin: Literal["corpus", "confirmed"] | None = None
    text: str = ""

    kind: ClassVar[str] = "similar"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "similar",
            "exemplar": self.exemplar,
            "lang": self.lang,
            "score": self.score,
            "text": self.text,
        }
        if self.origin is not None:
            out["origin"] = self.origin
        return out


@dataclass(frozen=True)
class Rule:
    """The similarity rule (``similarity.rule``) that flagged the post, and why in words."""

    rule: str
    text: str
    score: float | None = None

    kind: ClassVar[str] = "rule"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "rule", "rule": self.rule, "text": self.text}
        if self.score is not None:
            out["score"] = self.score
        return out


Evidence = Span | SimilarMatch | Rule


def _number(item: dict[str, Any], key: str, where: str, *, default: Any = None) -> Any:
    value = item.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: evidence {key} {value!r} is not a number")
    return value


def parse(item: Any, *, where: str = "evidence") -> Evidence:
    """The typed form of one JSON evidence item; InputError naming ``where`` if it is none."""
    if not isinstance(item, dict):
        raise InputError(f"{where}: an evidence item must be an object, not {item!r:.40}")
    kind = item.get("kind", "span")
    if kind == "span":
        start = _number(item, "start", where)
        end = _number(item, "end", where)
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end:
            raise InputError(f"{where}: a span needs whole start <= end, got {start!r}, {end!r}")
        return Span(
            start,
            end,
            str(item.get("text") or ""),
            float(_number(item, "weight", where, default=0.0)),
            item.get("cue"),
            item.get("cue_label"),
        )
    if kind == "similar":
        if not item.get("exemplar"):
            raise InputError(f"{where}: similar evidence names no exemplar")
        origin = item.get("origin")
        return SimilarMatch(
            str(item["exemplar"]),
            float(_number(item, "score", where, default=0.0)),
            item.get("lang"),
            origin if origin in ("corpus", "confirmed") else None,
            str(item.get("text") or ""),
        )
    if kind == "rule":
        if not item.get("rule"):
            raise InputError(f"{where}: rule evidence names no rule")
        score = _number(item, "score", where)
        return Rule(str(item["rule"]), str(item.get("text") or ""), score)
    raise InputError(f"{where}: unknown evidence kind {kind!r} — expected span, similar or rule")


def parse_all(
    items: Iterable[Any] | None, *, strict: bool = False, where: str = "evidence"
) -> list[Evidence]:
    """Every item of ``items`` typed; a bad one raises when ``strict``, else is skipped."""
    out: list[Evidence] = []
    for i, item in enumerate(items or []):
        try:
            out.append(parse(item, where=f"{where}[{i}]"))
        except InputError as exc:
            if strict:
                raise
            logger.debug("skipped %s", exc)
    return out
