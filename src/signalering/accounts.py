"""Accounts of the review app: users with one role, argon2 passwords, sessions, login limits.

No account exists until an admin adds one (``signalering users add NAME --role ROLE``).

>>> add_user(store, "anna", "analyst", "a long passphrase")  # doctest: +SKIP
>>> session = login(store, "anna", "a long passphrase", client="127.0.0.1")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from signalering.errors import InputError, SignaleringError
from signalering.store import Store
from signalering.store.accounts import ROLES

logger = logging.getLogger(__name__)

SESSION_HOURS = 12
MIN_PASSWORD_LENGTH = 10
# Failed logins allowed per name and per client address within the window.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a login takes as long either way.
_DUMMY_HASH = _hasher.hash("signalering-no-such-user")


class LoginError(SignaleringError):
    """Wrong name or password."""


class RateLimited(SignaleringError):
    """Too many failed logins for a name or a client address."""


@dataclass(frozen=True)
class Account:
    """A logged-in user as the web app sees it."""

    id: int
    name: str
    role: str


@dataclass(frozen=True)
class SessionInfo:
    """A live session: its account, the cookie token and the CSRF token of its forms."""

    account: Account
    token: str
    csrf: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r} is unknown — use one of {', '.join(ROLES)}")


def add_user(store: Store, name: str, role: str, password: str) -> None:
    """Create a user (or reset the role and password of an existing one)."""
    _check_role(role)
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("user name is empty or longer than 200 characters — choose another")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"password for {name!r} is shorter than {MIN_PASSWORD_LENGTH} characters — "
            "choose a longer one"
        )
    hashed = _hasher.hash(password)
    store.save_user(name, role, hashed)
    store.audit("cli", "user.add", f"user:{name}", {"role": role})


def list_users(store: Store) -> list[dict]:
    """Every user with role and creation time, by name."""
    return [
        {"name": u.name, "role": u.role, "created_at": u.created_at.isoformat()}
        for u in store.users()
    ]


def remove_user(store: Store, name: str) -> None:
    """Delete a user and end their sessions; InputError if there is no such user."""
    if not store.delete_user(name):
        raise InputError(f"user {name!r} does not exist — see `signalering users list`")
    store.audit("cli", "user.remove", f"user:{name}")


def login(store: Store, name: str, password: str, *, client: str) -> SessionInfo:
    """Check the password and open a session; LoginError or RateLimited otherwise."""
    since = datetime.now(UTC) - FAILURE_WINDOW
    by_name, by_client = store.failed_logins(name, client, since)
    user = store.user(name)
    if by_name >= MAX_FAILURES or by_client >= MAX_FAILURES * 4:
        logger.warning("login rate limit hit for %r from %s", name, client)
        raise RateLimited("too many failed logins — wait 15 minutes and try again")
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        store.add_failed_login(name, client)
        raise LoginError("wrong name or password")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(hours=SESSION_HOURS)
    store.open_web_session(user.id, name, _token_hash(token), csrf, expires)
    store.audit(name, "login", f"user:{name}", {"client": client})
    return SessionInfo(Account(user.id, user.name, user.role), token, csrf)


def session_for(store: Store, token: str | None) -> SessionInfo | None:
    """The live session of a cookie token, or None when absent, unknown or expired."""
    if not token:
        return None
    found = store.web_session(_token_hash(token))
    if found is None:
        return None
    user, csrf, expires_at = found
    if expires_at < datetime.now(UTC):
        return None
    return SessionInfo(Account(user.id, user.name, user.role), token, csrf)


def logout(store: Store, token: str) -> None:
    """End the session of a cookie token."""
    store.close_web_session(_token_hash(token))
