"""Console sign-in: throttled password checks and server-side sessions (issue 9, item 2).

* Failures are counted per account (``user:NAME``) and per client address (``addr:IP``). Past
  ``security.login_slow_after_failures`` the next attempt must wait a growing delay (answered at
  once with 429 and Retry-After, so no server thread sleeps); at
  ``security.login_lock_after_failures`` the key is locked until an admin unlocks it
  (``warga users unlock``). A count with no failure for :data:`FAILURE_MEMORY` starts over.
* Every attempt runs one password hash, an unknown or inactive account included (against a
  dummy hash), so the answer's timing does not tell which accounts exist.
* A session is a row: the cookie carries a random token, the database its SHA-256. Signing out
  revokes the row; a session unused for ``security.session_idle_minutes`` ends.

Passwords stay hashed with werkzeug's ``generate_password_hash`` (scrypt, memory-hard): the
stored hashes keep working and no new dependency is needed; the CPU and memory a check costs
are bounded by the caller (a semaphore of ``security.login_concurrent_checks``).

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bot.settings.schema import SecuritySection
from bot.store.models import LoginThrottle, StaffSession, StaffUser

#: A failure count that saw no new failure for this long starts over (locks stay).
FAILURE_MEMORY = timedelta(hours=1)
#: The longest a slowed-down sign-in must wait.
MAX_DELAY_SECONDS = 10.0


@cache
def _dummy_hash() -> str:
    # Same method and cost as real accounts, so checking it takes as long.
    return generate_password_hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class SignIn:
    """The outcome of one attempt: ``user_id`` when it succeeded, else why not."""

    user_id: int | None = None
    locked: bool = False
    retry_after: float = 0.0     # > 0: too soon after the last failure; nothing was checked


def throttle_keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.strip().lower()[:150]}", f"addr:{address[:150]}"


class Accounts:
    def __init__(self, session: Session, settings: SecuritySection) -> None:
        self.s = session
        self.settings = settings

    # -- throttling ---------------------------------------------------------------------
    def refusal(self, username: str, address: str, now: datetime) -> SignIn | None:
        """Why this attempt is refused before any password check (None: go ahead)."""
        wait = 0.0
        for key in throttle_keys(username, address):
            row = self.s.get(LoginThrottle, key)
            if row is None:
                continue
            if row.locked_at is not None:
                return SignIn(locked=True)
            if row.last_failure_at is None or now - row.last_failure_at > FAILURE_MEMORY:
                continue
            over = row.failures - self.settings.login_slow_after_failures + 1
            if over > 0:
                delay = min(self.settings.login_delay_seconds * over, MAX_DELAY_SECONDS)
                wait = max(wait, (row.last_failure_at + timedelta(seconds=delay) - now).total_seconds())
        return SignIn(retry_after=wait) if wait > 0 else None

    def record_failure(self, username: str, address: str, now: datetime) -> bool:
        """Count a failure on both keys; True when this failure locked one of them."""
        locked = False
        for key in throttle_keys(username, address):
            row = self.s.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                row = LoginThrottle(key=key, failures=0)
                self.s.add(row)
            elif row.last_failure_at is not None and now - row.last_failure_at > FAILURE_MEMORY \
                    and row.locked_at is None:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= self.settings.login_lock_after_failures and row.locked_at is None:
                row.locked_at = now
                locked = True
        return locked

    def unlock(self, username: str | None = None, address: str | None = None) -> int:
        """Forget the failures and the lock of an account and/or an address; how many were kept."""
        keys = [k for k, v in ((f"user:{(username or '').strip().lower()}", username),
                               (f"addr:{address}", address)) if v]
        result = self.s.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- password -----------------------------------------------------------------------
    def check_password(self, username: str, password: str) -> int | None:
        """The active account's id if the password is right. Always hashes once."""
        user = self.s.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
        stored = user.password_hash if user is not None else _dummy_hash()
        ok = check_password_hash(stored, password)
        return user.id if ok and user is not None and user.active else None

    def forget_failures(self, username: str) -> None:
        self.s.execute(delete(LoginThrottle).where(LoginThrottle.key == throttle_keys(username, "")[0]))

    # -- sessions -----------------------------------------------------------------------
    def open_session(self, user_id: int, now: datetime) -> str:
        """A new session for ``user_id``; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        self.s.add(StaffSession(token_hash=_digest(token), staff_user_id=user_id, created_at=now,
                                last_seen_at=now))
        return token

    def resume(self, token: str, now: datetime, *, touch: bool = True) -> int | None:
        """The session's user id if it is open and was used recently (and, with ``touch``, mark
        it used: a page polling in the background passes False)."""
        row = self.s.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        if now - row.last_seen_at > timedelta(minutes=self.settings.session_idle_minutes):
            row.revoked_at = now
            return None
        if touch:
            row.last_seen_at = now
        return row.staff_user_id

    def revoke(self, token: str, now: datetime) -> None:
        row = self.s.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- user management (``warga users``; issue 12, item 1) -----------------------------------
#: Every role an account may have. ``admin``: everything (users, settings, the unparseable
#: list); ``supervisor``: every agency's complaints and conversations, all queues;
#: ``staff``: their agency's.
ROLES = ("admin", "supervisor", "staff")
#: Roles that see every agency's complaints and conversations.
EVERY_AGENCY_ROLES = frozenset({"admin", "supervisor"})
MIN_PASSWORD_LENGTH = 8
MAX_NAME_LENGTH = 200     # StaffUser.name
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,80}")


def sees_every_agency(user: StaffUser) -> bool:
    """True for roles not bound to one agency (admins and supervisors)."""
    return user.role in EVERY_AGENCY_ROLES


class AccountError(Exception):
    """A change to an account was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class UserSummary:
    """One account as ``warga users list`` shows it."""

    username: str
    name: str
    role: str
    agency: str | None
    active: bool
    locked: bool
    serves_intake: bool = False


class UserDirectory:
    """Create and change console accounts. Nothing here commits: the caller owns the transaction.

    ``agencies`` are the configured agencies (an account's agency must be one of them).
    """

    def __init__(self, session: Session, agencies: frozenset[str]) -> None:
        self.s = session
        self.agencies = agencies

    def list(self) -> list[UserSummary]:
        locked = set(self.s.scalars(select(LoginThrottle.key).where(LoginThrottle.locked_at.is_not(None))))
        return [UserSummary(u.username, u.name, u.role, u.agency, bool(u.active),
                            throttle_keys(u.username, "")[0] in locked, bool(u.serves_intake))
                for u in self.s.scalars(select(StaffUser).order_by(StaffUser.username))]

    def create(self, username: str, role: str, agency: str | None, name: str, password: str, *,
               serves_intake: bool = False) -> StaffUser:
        if not USERNAME.fullmatch(username):
            raise AccountError("a username is 1-80 letters, digits or . _ @ -")
        if len(name) > MAX_NAME_LENGTH:
            raise AccountError(f"a name is at most {MAX_NAME_LENGTH} characters")
        agency = self._check_role(role, agency)
        _check_password(password)
        if self.s.scalar(select(StaffUser).where(StaffUser.username == username)):
            raise AccountError(f"user {username!r} already exists")
        user = StaffUser(username=username, name=name or username, role=role, agency=agency,
                         password_hash=generate_password_hash(password), active=True,
                         serves_intake=serves_intake)
        self.s.add(user)
        self.s.flush()
        return user

    def set_password(self, username: str, password: str, now: datetime) -> int:
        """A new password; every open session of the account ends (how many did)."""
        _check_password(password)
        user = self.get(username)
        user.password_hash = generate_password_hash(password)
        return revoke_sessions(self.s, user.id, now)

    def disable(self, username: str, now: datetime) -> int:
        """The account can no longer sign in and its open sessions end (how many did)."""
        user = self.get(username)
        if user.role == "admin":
            self._keep_an_admin(user)
        user.active = False
        return revoke_sessions(self.s, user.id, now)

    def enable(self, username: str) -> None:
        self.get(username).active = True

    def set_role(self, username: str, role: str, agency: str | None, now: datetime) -> int:
        """Change role (and agency); open sessions end, so the new scope applies at once."""
        agency = self._check_role(role, agency)
        user = self.get(username)
        if user.role == "admin" and role != "admin":
            self._keep_an_admin(user)
        user.role, user.agency = role, agency
        return revoke_sessions(self.s, user.id, now)

    def set_intake(self, username: str, serves: bool) -> None:
        """Whether the account also serves the general intake queue of handovers."""
        self.get(username).serves_intake = serves

    def _keep_an_admin(self, leaving: StaffUser) -> None:
        # Nobody could manage accounts any more (the console's user pages are admins' only).
        others = self.s.scalar(select(func.count()).select_from(StaffUser).where(
            StaffUser.role == "admin", StaffUser.active.is_(True), StaffUser.id != leaving.id))
        if leaving.active and not others:
            raise AccountError(f"{leaving.username} is the last active admin; make another admin first")

    def get(self, username: str) -> StaffUser:
        user = self.s.scalar(select(StaffUser).where(StaffUser.username == username).with_for_update())
        if user is None:
            raise AccountError(f"no user {username!r}")
        return user

    def _check_role(self, role: str, agency: str | None) -> str | None:
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        if role == "staff" and not agency:
            raise AccountError("--agency is required for staff (e.g. --agency 'Dinas Bina Marga')")
        if agency and agency not in self.agencies:
            raise AccountError(f"unknown agency {agency!r}; configured agencies: "
                               f"{', '.join(sorted(self.agencies))}")
        return agency or None


def revoke_sessions(session: Session, user_id: int, now: datetime) -> int:
    """End every open session of ``user_id``; how many were open."""
    result = session.execute(update(StaffSession)
                             .where(StaffSession.staff_user_id == user_id, StaffSession.revoked_at.is_(None))
                             .values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
