"""Routes (departure → destination) from a post's extracted places."""

from __future__ import annotations

import logging
from typing import Any

from signalering.entities import route

logger = logging.getLogger(__name__)

UNKNOWN = "?"


def route_of(entities: dict[str, list[dict[str, Any]]] | None) -> tuple[str, str] | None:
    """``(departure, destination)`` of a post, ``"?"`` for an unknown end; None without places.

    Place roles decide first, then the order of mention (see
    :func:`signalering.entities.route`); places stored before migration 0008 have no role.
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
