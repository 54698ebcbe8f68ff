"""What the review app shows the ``campaign`` role: the report's aggregates, no identities."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from signalering.campaign.aggregate import aggregates
from signalering.campaign.report import render_plots

if TYPE_CHECKING:
    from signalering.store import Store

logger = logging.getLogger(__name__)


def campaign_view(
    store: Store,
    *,
    since: date | datetime | str | None = None,
    until: date | datetime | str | None = None,
    plots: bool = True,
    themes: bool = True,
    text_chars: int | None = None,
) -> dict[str, Any]:
    """Aggregates and scrubbed excerpts for the campaign page (plus inline SVG ``plots``).

    Holds no post id, URL, author, phone number or handle: only counts, place and
    language names, claim and theme keywords, and excerpts passed through
    :func:`signalering.campaign.scrub.scrub`.
    """
    data = aggregates(
        store,
        since=since,
        until=until,
        themes=themes,
        **({"text_chars": text_chars} if text_chars else {}),
    )
    if plots:
        data["plots"] = render_plots(data)
    return data
