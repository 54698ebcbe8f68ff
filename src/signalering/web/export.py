"""Exports: reviewed posts as annotations for retraining, and posts for an investigation.

Every export is written to the audit log with who asked for it and what it held.

>>> export_posts(store, [12, 15], fmt="csv", user="anna")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable
from typing import IO, Any, Literal

from signalering import entities as entity_kinds
from signalering.errors import InputError
from signalering.post import Post
from signalering.store import Store

logger = logging.getLogger(__name__)

Format = Literal["csv", "json"]
CSV_FIELDS = (
    "id",
    "source",
    "kind",
    "url",
    "post_id",
    "author",
    "posted_at",
    "fetched_at",
    "lang",
    "label",
    "score",
    # then one column per contact kind (signalering.entities), then:
    "decision",
    "text",
)


def csv_fields() -> tuple[str, ...]:
    """The CSV columns: the post's own, one per contact kind, the decision and the text."""
    head, tail = CSV_FIELDS[:-2], CSV_FIELDS[-2:]
    return head + entity_kinds.contact_keys() + tail


def reviewed_labels(store: Store) -> dict[int, dict[str, Any]]:
    """Post id -> the review that settles its label (``label``, ``user``, ``action``, ``at``).

    The store's one rule (``signalering.store.decisions``): the same one that decides which
    posts are confirmed offers, so an export never calls a post an offer that the exemplar
    bank has dropped.
    """
    return {pk: review.as_dict() for pk, review in store.reviews().items()}


def annotation_record(post: Post, review: dict[str, Any]) -> dict[str, Any]:
    """One post in the ``annotaties/corpus.jsonl`` format, with the reviewer's label as gold."""
    entities = post.entities or {}
    predicted = post.label
    return {
        "id": f"review-{post.id}",
        "text": post.text,
        "lang": post.lang or "und",
        "label": review["label"],
        # A post is its own family unless the linker put it in a repost cluster.
        "family": f"cluster-{post.cluster}" if post.cluster else f"review-{post.id}",
        "source_kind": post.kind or "website",
        # The model flagged it and a person said otherwise: exactly a hard negative.
        "hard_negative": predicted == "offer" and review["label"] != "offer",
        "entities": {
            "phones": [e["value"] for e in entities.get("phones", []) if e.get("value")],
            "handles": [
                {"platform": e["platform"], "value": str(e["value"]).lower().lstrip("@")}
                for e in entities.get("handles", [])
                if e.get("value") and e.get("platform")
            ],
            "prices": [
                {"amount": e["amount"], "currency": e["currency"]}
                for e in entities.get("prices", [])
                if e.get("amount") is not None and e.get("currency")
            ],
            "places": [e["value"] for e in entities.get("places", []) if e.get("value")],
        },
        "review": review,
    }


def export_annotations(store: Store, out: IO[str], *, user: str) -> int:
    """Write every reviewed post as one annotation line to ``out``, by id; returns how many.

    Escalated posts (and posts with no decision) carry no label and are left out.
    """
    reviews = reviewed_labels(store)
    written = 0
    for pk in sorted(reviews):
        post = store.get(pk)
        if post is None:
            continue
        out.write(json.dumps(annotation_record(post, reviews[pk]), ensure_ascii=False) + "\n")
        written += 1
    store.audit(user, "export.annotations", "posts:reviewed", {"posts": written})
    logger.info("exported %s reviewed posts as annotations", written)
    return written


def reviewed_records(store: Store) -> list[dict[str, Any]]:
    """Every reviewed post as a training record (``annotaties/`` format), oldest decision first.

    The label is the one the store's rule settles: a ``confirm`` the confirmed label, a
    ``correct`` its label, a ``dismiss`` the model's label when that is not ``offer``, else
    ``unrelated``; the latest of these decisions counts. ``review`` keeps who decided and
    when, so evaluation can split by time.
    """
    reviews = store.reviews()
    out = []
    for pk in sorted(reviews, key=lambda k: reviews[k].decision_id):
        post = store.get(pk)
        if post is None or not post.text:
            continue
        out.append(annotation_record(post, reviews[pk].as_dict()))
    return out


def _flat(post: Post, decision: str | None) -> dict[str, Any]:
    entities = post.entities or {}
    return {
        "id": post.id,
        "source": post.source,
        "kind": post.kind,
        "url": post.url,
        "post_id": post.post_id,
        "author": post.author,
        "posted_at": post.posted_at,
        "fetched_at": post.fetched_at,
        "lang": post.lang,
        "label": post.label,
        "score": (post.scores or {}).get(post.label or "", None),
        **{
            key: " ".join(
                f"{e['platform']}:{e.get('value', '')}" if e.get("platform") else e.get("value", "")
                for e in entities.get(key, [])
            )
            for key in entity_kinds.contact_keys()
        },
        "decision": decision,
        "text": post.text,
    }


def _csv_safe(value: Any) -> Any:
    # Spreadsheet apps run cells starting with = + - @ as formulas; crawled text is hostile.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_posts(store: Store, ids: Iterable[int], *, fmt: Format, user: str) -> str:
    """The posts ``ids`` with contacts in clear, as CSV or JSON text; audited."""
    if fmt not in ("csv", "json"):
        raise InputError(f"export format {fmt!r} is unknown — use csv or json")
    pks = sorted({int(i) for i in ids})
    if not pks:
        raise InputError("no posts to export — pass --ids 1,2,3 or select posts in the queue")
    posts = [p for p in (store.get(pk) for pk in pks) if p is not None]
    missing = sorted(set(pks) - {int(p.id or 0) for p in posts})
    if missing:
        raise InputError(f"posts {missing} are not in the store — check the ids")
    decisions = {int(p.id or 0): (store.decisions(int(p.id or 0)) or [{}])[-1] for p in posts}
    if fmt == "json":
        records = []
        for post in posts:
            record = post.to_record()
            record["decisions"] = store.decisions(int(post.id or 0))
            records.append(record)
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=csv_fields(), extrasaction="ignore")
        writer.writeheader()
        for post in posts:
            row = _flat(post, decisions[int(post.id or 0)].get("action"))
            # Phones are E.164 ("+31..."), which a spreadsheet reads as a number, not a formula.
            writer.writerow({k: v if k == "phones" else _csv_safe(v) for k, v in row.items()})
        text = buffer.getvalue()
    store.audit(user, f"export.{fmt}", f"posts:{','.join(map(str, pks))}", {"posts": len(posts)})
    return text
