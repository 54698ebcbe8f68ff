"""The review app: ``create_app(settings)`` builds the FastAPI application.

Server-rendered pages (Jinja2, autoescaped), one small static script, no CDN.
Every route names the roles that may use it; campaign users get aggregates only.

>>> app = create_app(load_config())  # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from signalering import accounts
from signalering.config import Settings
from signalering.errors import InputError
from signalering.store import Store
from signalering.web.render import DEFAULT_LANGUAGE, HERE, LANGUAGES, render, strings
from signalering.web.review import PAGE_SIZE, QueueFilter

logger = logging.getLogger(__name__)

SESSION_COOKIE = "signalering_session"
LOGIN_CSRF_COOKIE = "signalering_login_csrf"
LANG_COOKIE = "signalering_lang"
ANALYSTS = ("analyst", "admin")
# The audit log says who looked at which contacts and who decided what: it oversees the
# analysts, so only admins read it (README: Roles).
ADMINS = ("admin",)
EVERYONE = ("analyst", "campaign", "admin")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class NeedLogin(Exception):
    """Raised by the role check when there is no live session."""


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

    from signalering.web import api, campaign_report, pages

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(campaign_report.router)
    return app


# -- request helpers shared by the routers ------------------------------------------------------


def store_of(request: Request) -> Store:
    """The app's store."""
    return request.app.state.store


def language_of(request: Request) -> str:
    """The interface language: the cookie if set to a known one, else Dutch."""
    lang = request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def base_context(request: Request, session: accounts.SessionInfo | None) -> dict[str, Any]:
    """What every page template needs: strings, language, the user and their CSRF token."""
    lang = language_of(request)
    return {
        "t": strings(lang),
        "lang": lang,
        "languages": LANGUAGES,
        "user": session.account if session else None,
        "csrf": session.csrf if session else "",
        "path": request.url.path,
    }


def current_session(request: Request) -> accounts.SessionInfo | None:
    """The live session of the request's cookie, or None."""
    return accounts.session_for(store_of(request), request.cookies.get(SESSION_COOKIE))


def require(*roles: str) -> Callable[[Request], accounts.SessionInfo]:
    """A dependency: the session of a user with one of ``roles`` (401/redirect or 403 otherwise)."""

    def check(request: Request) -> accounts.SessionInfo:
        session = current_session(request)
        if session is None:
            raise NeedLogin()
        if session.account.role not in roles:
            logger.info(
                "%s (%s) refused %s", session.account.name, session.account.role, request.url.path
            )
            raise HTTPException(status_code=403, detail="your role has no access to this")
        return session

    return check


def check_csrf(session: accounts.SessionInfo, token: str | None) -> None:
    """403 unless ``token`` is the session's CSRF token."""
    if not token or not hmac.compare_digest(token, session.csrf):
        raise HTTPException(status_code=403, detail="form expired or forged — reload the page")


def new_login_csrf() -> str:
    """A fresh token for the login form (double-submit: cookie and hidden field)."""
    return secrets.token_urlsafe(32)


def queue_filter(
    label: str | None = None,
    lang: str | None = None,
    source: str | None = None,
    platform: str | None = None,
    date_from: Annotated[str | None, Query(alias="from")] = None,
    date_to: Annotated[str | None, Query(alias="to")] = None,
    status: str = "open",
    q: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE,
    cluster: str | None = None,
    network: str | None = None,
) -> QueueFilter:
    """The queue's query parameters, for the page and the API alike (blank means unset)."""
    return QueueFilter(
        label=label or None,
        lang=lang or None,
        source=source or None,
        platform=platform or None,
        date_from=date_from or None,
        date_to=date_to or None,
        status=status or "open",
        q=q or None,
        after=after or None,
        limit=limit,
        cluster=cluster or None,
        network=network or None,
    )


Filters = Depends(queue_filter)
Analyst = Depends(require(*ANALYSTS))
Admin = Depends(require(*ADMINS))
Anyone = Depends(require(*EVERYONE))
