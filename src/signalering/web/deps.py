"""What the review app's routers share: role checks, CSRF, the request's store and language,
the queue's filter parameters. A leaf module: ``app`` and every router import it, it
imports none of them (so ``signalering.web`` has no import cycle).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from signalering import accounts
from signalering.store import Store
from signalering.web.render import DEFAULT_LANGUAGE, LANGUAGES, strings
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
