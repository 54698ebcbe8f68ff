"""JSON API: the same role rules as the pages (campaign users get aggregates only)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from signalering.campaign import overview
from signalering.web import review
from signalering.web.deps import Analyst, Anyone, Filters, store_of

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api")


@router.get("/queue")
def api_queue(
    request: Request,
    session=Analyst,  # noqa: B008
    filters: review.QueueFilter = Filters,
) -> dict[str, Any]:
    page = review.queue(store_of(request), filters)
    return {
        "posts": [
            {
                "id": r.id,
                "score": r.score,
                "label": r.label,
                "lang": r.lang,
                "source": r.source,
                "posted_at": r.posted_at.isoformat() if r.posted_at else None,
                "text": r.text,
                "decision": r.decision,
            }
            for r in page.rows
        ],
        "next": page.next_cursor,
    }


@router.get("/posts/{post_pk}")
def api_post(request: Request, post_pk: int, session=Analyst) -> dict[str, Any]:  # noqa: B008
    store = store_of(request)
    post = store.get(post_pk)
    if post is None:
        raise HTTPException(status_code=404, detail=f"post {post_pk} is not in the store")
    store.audit(session.account.name, "view.contacts", f"post:{post_pk}", {"via": "api"})
    record = post.to_record()
    record["decisions"] = store.decisions(post_pk)
    return record


@router.get("/aggregates")
def api_aggregates(request: Request, session=Anyone) -> dict[str, Any]:  # noqa: B008
    """The campaign overview's counts (``signalering.campaign.overview``)."""
    return overview(store_of(request))
