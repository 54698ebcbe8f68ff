"""The campaign report inside the review app: the same self-contained page as
`signalering report`, for every role (it holds aggregates and scrubbed excerpts only)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from signalering.campaign import campaign_view, render_html
from signalering.web.deps import Anyone, store_of

logger = logging.getLogger(__name__)

router = APIRouter()

# The report carries its styles inline (and matplotlib's SVG uses style attributes); it has
# no script and loads nothing, so this page alone allows inline styles and nothing else.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@router.get("/campaign/report", response_class=HTMLResponse)
def campaign_report_page(
    request: Request,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: Annotated[str | None, Query(alias="to")] = None,
    session=Anyone,  # noqa: B008
) -> Response:
    store = store_of(request)
    data = campaign_view(
        store,
        since=since or None,
        until=until or None,
        plots=False,
        text_chars=request.app.state.settings.limits.classify_chars,
    )
    store.audit(
        session.account.name, "view.campaign_report", f"report:{since or ''}..{until or ''}"
    )
    return HTMLResponse(render_html(data), headers={"Content-Security-Policy": REPORT_CSP})
