"""Routes (departure → destination) from a post's extracted places."""

from __future__ import annotations

import logging
from typing import Any

from signalering.extract import route

logger = logging.getLogger(__name__)

UNKNOWN = "?"


def route_of(entities: dict[str, list[dict[str, Any]]] | None) -> tuple[str, str] | None:
    """``(departure, destination)`` of a post, ``"?"`` for an unknown end; None without places.

    Stored places carry no role, so the order of mention decides there (see
    :func:`signalering.extract.route`).
    """
    if not entities or not entities.get("places"):
        return None
    departure, destination = route(entities)
    if departure is None and destination is None:
        return None
    return (departure or UNKNOWN, destination or UNKNOWN)


def route_name(pair: tuple[str, str]) -> str:
    """``"Zuwara → Lampedusa"``."""
    return f"{pair[0]} → {pair[1]}"
