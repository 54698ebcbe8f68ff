"""What analysts' decisions settle: the label a reviewed post has, and which posts are
confirmed offers.

One rule, read by the review app, the exports and ``model.similarity``: a post's reviewed label
comes from its latest ``confirm``/``correct``/``dismiss`` decision (``escalate`` does not
change what a post is; a ``correct`` without a label settles nothing) —

- ``confirm`` settles the decision's label, or without one the post's current label
  (what the model said and the analyst confirmed);
- ``correct`` settles its label;
- ``dismiss`` ("not an offer") keeps the current label when that is not ``offer``,
  else settles ``unrelated``.

A confirmed offer is a post whose reviewed label is ``offer``: a later dismissal or a
correction to another label, by anyone, takes it out again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from signalering.store.models import DECISION_ACTIONS, Decision, Score

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

__all__ = [
    "DECISION_ACTIONS",
    "OFFER",
    "SETTLING",
    "DecisionQueries",
    "Review",
    "confirmed_offer_ids",
    "settled_label",
]

OFFER = "offer"
SETTLING = ("confirm", "correct", "dismiss")
_NOT_OFFER = ("request", "warning", "unrelated")


@dataclass(frozen=True)
class Review:
    """The decision that settles a post's label, and that label."""

    decision_id: int
    label: str
    user: str
    action: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "user": self.user, "action": self.action, "at": _iso(self.at)}


def _iso(value: datetime) -> str:
    return value.isoformat()


def settled_label(action: str, label: str | None, model_label: str | None) -> str | None:
    """The label one decision settles (None: it settles nothing).

    >>> settled_label("confirm", None, "offer"), settled_label("dismiss", None, "offer")
    ('offer', 'unrelated')
    """
    if action == "confirm":
        return label or model_label
    if action == "correct":
        return label or None
    if action == "dismiss":
        return model_label if model_label in _NOT_OFFER else "unrelated"
    return None


class DecisionQueries:
    """The Store's reading of decisions (mixed into ``Store``)."""

    def reviews(self: Store) -> dict[int, Review]:  # type: ignore[misc]
        """Post id -> the review that settles its label (posts without one are absent)."""
        query = (
            select(
                Decision.post_id,
                Decision.id,
                Decision.action,
                Decision.label,
                Decision.user,
                Decision.created_at,
                Score.label,
            )
            .outerjoin(Score, and_(Score.post_id == Decision.post_id, Score.is_current))
            .where(Decision.action.in_(SETTLING))
            .order_by(Decision.id)
        )
        latest: dict[int, Review] = {}
        with self._session() as session:
            for pk, decision_id, action, label, user, at, model_label in session.execute(query):
                settled = settled_label(action, label, model_label)
                if settled is not None:
                    latest[int(pk)] = Review(decision_id, settled, user, action, at)
        return latest

    def confirmed_offer_ids(self: Store, *, limit: int | None = None) -> list[int]:  # type: ignore[misc]
        """Ids of stored posts whose reviewed label is ``offer``, most recently decided first."""
        ranked = sorted(
            ((r.decision_id, pk) for pk, r in self.reviews().items() if r.label == OFFER),
            reverse=True,
        )
        ids = [pk for _, pk in ranked]
        return ids if limit is None else ids[:limit]


def confirmed_offer_ids(store: Store, *, limit: int | None = None) -> list[int]:
    """``store.confirmed_offer_ids()``, for callers that name the rule by its module."""
    return store.confirmed_offer_ids(limit=limit)
