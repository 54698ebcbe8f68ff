"""The HTML pages: login, queue, post, decisions, sources, audit log, campaign overview, export."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from signalering import accounts, discover
from signalering.campaign import overview
from signalering.embed import DEFAULT_ENCODER, unread_languages
from signalering.errors import InputError, SignaleringError
from signalering.store.decisions import DECISION_ACTIONS
from signalering.store.retention import hold_of, lift_hold, place_hold
from signalering.web import review
from signalering.web.deps import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Admin,
    Analyst,
    Anyone,
    Filters,
    base_context,
    check_csrf,
    current_session,
    new_login_csrf,
    store_of,
)
from signalering.web.export import export_posts
from signalering.web.render import LANGUAGES, render

logger = logging.getLogger(__name__)
router = APIRouter()

LABELS = ("offer", "request", "warning", "unrelated")
CANDIDATES_SHOWN = 50


def _local(path: str | None) -> str:
    """Only same-site paths are followed after a redirect (no //evil.example)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"


def _secure(request: Request) -> bool:
    """Cookies get ``Secure`` when ``web.secure_cookies`` is set, or the request came over
    HTTPS: directly, or through a proxy that says ``X-Forwarded-Proto: https``.

    Trusting the header is safe here: a client that forges it only gets a cookie its
    browser will not send back over plain HTTP.
    """
    if request.app.state.settings.web.secure_cookies or request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> Response:
    token = new_login_csrf()
    page = render("login.html", **base_context(request, None), login_csrf=token, error=error)
    response = HTMLResponse(page)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=3600,
    )
    return response


@router.post("/login")
def login_submit(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf):
        raise HTTPException(status_code=403, detail="login form expired — reload the page")
    client = request.client.host if request.client else "unknown"
    try:
        session = accounts.login(store_of(request), name, password, client=client)
    except accounts.RateLimited:
        return RedirectResponse("/login?error=login_limited", status_code=303)
    except accounts.LoginError:
        return RedirectResponse("/login?error=login_failed", status_code=303)
    target = "/campaign" if session.account.role == "campaign" else "/queue"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=accounts.SESSION_HOURS * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session=Anyone, csrf: Annotated[str, Form()] = "") -> Response:  # noqa: B008
    check_csrf(session, csrf)
    accounts.logout(store_of(request), session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> Response:
    if code not in LANGUAGES:
        raise HTTPException(status_code=404, detail="unknown language")
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, httponly=True, samesite="lax", max_age=365 * 86400)
    return response


@router.get("/")
def home(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(
        "/campaign" if session.account.role == "campaign" else "/queue", status_code=303
    )


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session=Analyst,  # noqa: B008
    filters: review.QueueFilter = Filters,
) -> Response:
    store = store_of(request)
    page = review.queue(store, filters)
    params = filters.params()
    next_url = (
        "/queue?" + urlencode({**params, "after": page.next_cursor}) if page.next_cursor else None
    )
    first_url = "/queue?" + urlencode(params) if filters.after else None
    return HTMLResponse(
        render(
            "queue.html",
            **base_context(request, session),
            page=page,
            filters=filters,
            facets=review.facets(store),
            statuses=review.STATUSES,
            next_url=next_url,
            first_url=first_url,
        )
    )


@router.get("/posts/{post_pk}", response_class=HTMLResponse)
def post_page(request: Request, post_pk: int, session=Analyst) -> Response:  # noqa: B008
    store = store_of(request)
    post = store.get(post_pk)
    if post is None:
        raise HTTPException(status_code=404, detail="no such post")
    # Analysts see contacts in clear here, so each view is on the record.
    store.audit(session.account.name, "view.contacts", f"post:{post_pk}")
    decisions = store.decisions(post_pk)
    probabilities = sorted((post.scores or {}).items(), key=lambda kv: -float(kv[1]))
    # The page shows what the stages read at most (limits.normalise_chars), not 20 MB.
    limits = request.app.state.settings.limits
    shown = limits.normalise_chars
    versions = [{**v, "text": v["text"][:shown]} for v in store.versions(post_pk)]
    return HTMLResponse(
        render(
            "post.html",
            **base_context(request, session),
            post=post,
            segments=review.evidence_segments(post.text[:shown], post.evidence),
            shown_chars=min(shown, len(post.text)),
            total_chars=len(post.text),
            probabilities=probabilities,
            decisions=decisions,
            versions=versions,
            nearest=review.nearest_offers(store, post, max_chars=limits.cluster_chars),
            links=_post_links(store, post_pk),
            hold=hold_of(store, post_pk),
            unread_lang=post.lang if post.lang in unread_languages(DEFAULT_ENCODER) else None,
            next_pk=review.next_open(store, post_pk),
            labels=LABELS,
        )
    )


@router.post("/posts/{post_pk}/decision")
def decide(
    request: Request,
    post_pk: int,
    session=Analyst,  # noqa: B008
    action: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf)
    if action not in DECISION_ACTIONS:
        raise HTTPException(status_code=400, detail="unknown decision")
    if action == "correct" and label not in LABELS:
        raise HTTPException(status_code=400, detail="choose the correct label")
    chosen = {"confirm": "offer", "correct": label}.get(action)
    store = store_of(request)
    store.add_decision(post_pk, session.account.name, action, label=chosen, note=note or None)
    following = review.next_open(store, post_pk)
    return RedirectResponse(
        f"/posts/{following}" if following is not None else "/queue", status_code=303
    )


@router.post("/posts/{post_pk}/hold")
def hold(
    request: Request,
    post_pk: int,
    session=Analyst,  # noqa: B008
    action: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Put a post on hold for an investigation (the purge keeps it), or lift the hold."""
    check_csrf(session, csrf)
    store = store_of(request)
    if store.get(post_pk) is None:
        raise HTTPException(status_code=404, detail="no such post")
    if action == "place":
        place_hold(store, post_pk, session.account.name, reason=reason or None)
    elif action == "lift":
        lift_hold(store, post_pk, session.account.name)
    else:
        raise HTTPException(status_code=400, detail="unknown hold action")
    return RedirectResponse(f"/posts/{post_pk}", status_code=303)


@router.get("/networks/{network_id}", response_class=HTMLResponse)
def network_page(request: Request, network_id: str, session=Analyst) -> Response:  # noqa: B008
    store = store_of(request)
    found = review.network(store, network_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such network")
    store.audit(session.account.name, "view.contacts", f"network:{network_id}")
    return HTMLResponse(render("network.html", **base_context(request, session), net=found))


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, session=Analyst, added: str | None = None) -> Response:  # noqa: B008
    """The crawled sources, their last crawl, markup drift warnings, and candidate sources
    that flagged posts point to (analysts and admins only, like the whole page)."""
    store = store_of(request)
    sources_file = request.app.state.settings.crawl.sources
    try:
        candidates = discover.suggest_sources(store, sources_file, limit=CANDIDATES_SHOWN)
        problem = None
    except SignaleringError as exc:  # a broken sources file must not hide the page
        candidates, problem = [], str(exc)
    return HTMLResponse(
        render(
            "sources.html",
            **base_context(request, session),
            sources=store.sources_overview(),
            candidates=candidates,
            sources_file=sources_file,
            problem=problem,
            added=added,
        )
    )


@router.post("/sources/add")
def add_candidate(
    request: Request,
    session=Analyst,  # noqa: B008
    key: Annotated[str, Form(max_length=500)] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Approve one candidate: it joins the sources file (audited by ``add_source``)."""
    check_csrf(session, csrf)
    sources_file = request.app.state.settings.crawl.sources
    if sources_file is None:
        raise InputError("no sources file is configured — set crawl.sources to add sources")
    try:
        added = discover.add_source(store_of(request), sources_file, key, user=session.account.name)
    except SignaleringError as exc:
        raise InputError(str(exc)) from None
    return RedirectResponse("/sources?" + urlencode({"added": added.source}), status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session=Admin, limit: int = 200) -> Response:  # noqa: B008
    entries = store_of(request).audit_log(limit=max(1, min(limit, 2000)))
    return HTMLResponse(render("audit.html", **base_context(request, session), entries=entries))


@router.get("/campaign", response_class=HTMLResponse)
def campaign_page(request: Request, session=Anyone) -> Response:  # noqa: B008
    data = overview(store_of(request))
    return HTMLResponse(render("campaign.html", **base_context(request, session), data=data))


@router.post("/export")
def export(
    request: Request,
    session=Analyst,  # noqa: B008
    ids: Annotated[list[int] | None, Form()] = None,
    fmt: Annotated[str, Form()] = "csv",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(session, csrf)
    if fmt not in ("csv", "json"):
        raise HTTPException(status_code=400, detail="format must be csv or json")
    body = export_posts(store_of(request), ids or [], fmt=fmt, user=session.account.name)  # type: ignore[arg-type]
    media = "text/csv" if fmt == "csv" else "application/json"
    return Response(
        body,
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="signalering-export.{fmt}"'},
    )


def _post_links(store: Any, post_pk: int) -> Any:
    # Linking imports scipy's sparse graphs (~0.35 s): loaded with the first post page,
    # not with the app.
    from signalering.link.network import post_links

    return post_links(store, post_pk)
