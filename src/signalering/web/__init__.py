"""The review web app for analysts, with an aggregates-only view for campaign teams.

>>> from signalering.web import create_app, serve
>>> serve(load_config())  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from signalering.config import Settings

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The FastAPI app over the configured store (see ``signalering.web.app``)."""
    from signalering.web.app import create_app as _create

    return _create(settings)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the review app with uvicorn until interrupted."""
    import uvicorn

    from signalering.web.app import create_app as _create

    app = _create(settings)
    host = host or settings.web.host
    port = settings.web.port if port is None else port
    logger.info("review app on http://%s:%s/", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
