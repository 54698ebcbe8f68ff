"""What analysts' decisions mean for the exemplar bank: which stored posts are confirmed offers.

One rule, shared by the review app and ``model.similarity``: a post is a confirmed offer when
its latest ``confirm``/``correct``/``dismiss`` decision says so —

- ``confirm`` with the label ``offer`` (or without a label, when the post's current label is
  ``offer``),
- ``correct`` to the label ``offer``.

A later ``dismiss`` or a correction to another label takes it out again; ``escalate`` does
not change what a post is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from signalering.store.models import Decision, Score

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)

OFFER = "offer"
_MEANINGFUL = ("confirm", "correct", "dismiss")


def confirmed_offer_ids(store: Store, *, limit: int | None = None) -> list[int]:
    """Ids of stored posts that analysts confirmed as offers, most recently decided first."""
    query = (
        select(Decision.post_id, Decision.id, Decision.action, Decision.label, Score.label)
        .outerjoin(Score, and_(Score.post_id == Decision.post_id, Score.is_current))
        .where(Decision.action.in_(_MEANINGFUL))
        .order_by(Decision.id)
    )
    latest: dict[int, tuple[int, bool]] = {}
    with store._session() as session:
        for pk, decision_id, action, label, model_label in session.execute(query):
            if action == "confirm":
                offer = label == OFFER or (label is None and model_label == OFFER)
            else:
                offer = action == "correct" and label == OFFER
            latest[int(pk)] = (decision_id, offer)
    ranked = sorted(((d, pk) for pk, (d, offer) in latest.items() if offer), reverse=True)
    ids = [pk for _, pk in ranked]
    return ids if limit is None else ids[:limit]
