"""Tables of the review app: user accounts, login sessions and login attempts.

Registered on the store's ``Base`` so the migrations and the models agree; their queries
are the Store's (``AccountQueries``); the logic that uses them (passwords, rate limits)
lives in ``signalering.accounts``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import ForeignKey, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from signalering.store.models import Base, utcnow

if TYPE_CHECKING:
    from signalering.store import Store

ROLES = ("analyst", "campaign", "admin")


class User(Base):
    """A person who may log in to the review app, with one role."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # analyst|campaign|admin
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A login session; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """A failed login, kept for the rate limit (per name and per client address)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_name_at", "name", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(100), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class UserRecord(NamedTuple):
    """A user as the accounts logic reads it (no ORM object leaves the store)."""

    id: int
    name: str
    role: str
    password_hash: str
    created_at: datetime


def _record(user: User) -> UserRecord:
    return UserRecord(user.id, user.name, user.role, user.password_hash, user.created_at)


class AccountQueries:
    """Reads and writes of users, login sessions and failed logins (mixed into ``Store``)."""

    def save_user(self: Store, name: str, role: str, password_hash: str) -> None:  # type: ignore[misc]
        """Create a user, or set the role and password of an existing one and end its sessions."""
        with self._session(write=True) as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            if user is None:
                session.add(User(name=name, role=role, password_hash=password_hash))
            else:
                user.role, user.password_hash = role, password_hash
                session.execute(delete(WebSession).where(WebSession.user_id == user.id))

    def users(self: Store) -> list[UserRecord]:  # type: ignore[misc]
        """Every user, by name."""
        with self._session() as session:
            return [_record(u) for u in session.scalars(select(User).order_by(User.name))]

    def user(self: Store, name: str) -> UserRecord | None:  # type: ignore[misc]
        """The user called ``name``, or None."""
        with self._session() as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            return None if user is None else _record(user)

    def delete_user(self: Store, name: str) -> bool:  # type: ignore[misc]
        """Delete a user and its sessions; False when there is no such user."""
        with self._session(write=True) as session:
            user = session.scalars(select(User).where(User.name == name)).first()
            if user is None:
                return False
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
            session.delete(user)
            return True

    def failed_logins(self: Store, name: str, client: str, since: datetime) -> tuple[int, int]:  # type: ignore[misc]
        """Failed logins since ``since``: for ``name``, and from ``client``."""
        with self._session() as session:
            by_name = session.scalar(
                select(func.count(LoginAttempt.id)).where(
                    LoginAttempt.name == name, LoginAttempt.at >= since
                )
            )
            by_client = session.scalar(
                select(func.count(LoginAttempt.id)).where(
                    LoginAttempt.client == client, LoginAttempt.at >= since
                )
            )
        return int(by_name or 0), int(by_client or 0)

    def add_failed_login(self: Store, name: str, client: str) -> None:  # type: ignore[misc]
        """Remember a failed login (for the rate limit)."""
        with self._session(write=True) as session:
            session.add(LoginAttempt(name=name[:200], client=client[:100]))

    def open_web_session(  # type: ignore[misc]
        self: Store, user_id: int, name: str, token_hash: str, csrf: str, expires_at: datetime
    ) -> None:
        """Start a login session; forgets ``name``'s failed logins and every expired session."""
        with self._session(write=True) as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.name == name))
            session.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
            session.add(
                WebSession(
                    token_hash=token_hash, user_id=user_id, csrf_token=csrf, expires_at=expires_at
                )
            )

    def web_session(self: Store, token_hash: str) -> tuple[UserRecord, str, datetime] | None:  # type: ignore[misc]
        """The user, CSRF token and expiry of the session ``token_hash``, or None."""
        with self._session() as session:
            row = session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.token_hash == token_hash)
            ).first()
            if row is None:
                return None
            web_session, user = row
            return _record(user), web_session.csrf_token, web_session.expires_at

    def close_web_session(self: Store, token_hash: str) -> None:  # type: ignore[misc]
        """End the session ``token_hash``."""
        with self._session(write=True) as session:
            session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))
