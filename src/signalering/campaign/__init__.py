"""Campaign analytics: which promises smugglers make, in which languages, on which routes,
and how that changes — aggregates and scrubbed excerpts only, never an identity.

>>> from signalering.campaign import aggregates, write_report  # doctest: +SKIP
>>> write_report(aggregates(store, since="2024-01-01", until="2024-06-30"), Path("report.html"))
"""

from __future__ import annotations

from signalering.campaign.aggregate import aggregates, aggregates_from_posts, overview, summary
from signalering.campaign.claims import claim_labels, detect_claims, load_claims
from signalering.campaign.report import render_html, write_csv, write_report
from signalering.campaign.routes import route_of
from signalering.campaign.scrub import contacts_left, excerpt, scrub
from signalering.campaign.themes import Theme, ThemeInput, find_themes, unthemed
from signalering.campaign.view import campaign_view

__all__ = [
    "Theme",
    "ThemeInput",
    "aggregates",
    "aggregates_from_posts",
    "overview",
    "campaign_view",
    "claim_labels",
    "contacts_left",
    "detect_claims",
    "excerpt",
    "find_themes",
    "load_claims",
    "render_html",
    "route_of",
    "scrub",
    "summary",
    "unthemed",
    "write_csv",
    "write_report",
]
