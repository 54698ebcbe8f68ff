"""The review app: ``create_app(settings)`` builds the FastAPI application.

Server-rendered pages (Jinja2, autoescaped), one small static script, no CDN.
Every route names the roles that may use it; campaign users get aggregates only.

>>> app = create_app(load_config())  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from signalering.config import Settings
from signalering.errors import InputError
from signalering.store import Store
from signalering.web import api, campaign_report, pages
from signalering.web.deps import SECURITY_HEADERS, NeedLogin, base_context
from signalering.web.render import HERE, render

logger = logging.getLogger(__name__)


def create_app(settings: Settings, *, store: Store | None = None) -> FastAPI:
    """The review app over the configured store (or ``store``, which the caller then closes)."""
    owned = store is None
    if store is None:
        store = Store.open(settings.database_url, pseudonym_key=settings.pseudonym_key())
    app = FastAPI(title="signalering review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    if owned:

        @app.on_event("shutdown")
        def _close() -> None:
            store.close()

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(NeedLogin)
    async def _need_login(request: Request, exc: NeedLogin) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "log in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        key = {403: "forbidden", 404: "not_found"}.get(exc.status_code, "bad_request")
        page = render(
            "error.html", **base_context(request, None), status=exc.status_code, message_key=key
        )
        return HTMLResponse(page, status_code=exc.status_code)

    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400)
        page = render("error.html", **base_context(request, None), status=400, message=str(exc))
        return HTMLResponse(page, status_code=400)

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(campaign_report.router)
    return app
