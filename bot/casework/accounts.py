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
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import delete, select
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

    def resume(self, token: str, now: datetime) -> int | None:
        """The session's user id if it is open and was used recently (and mark it used)."""
        row = self.s.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
        if row is None or row.revoked_at is not None:
            return None
        if now - row.last_seen_at > timedelta(minutes=self.settings.session_idle_minutes):
            row.revoked_at = now
            return None
        row.last_seen_at = now
        return row.staff_user_id

    def revoke(self, token: str, now: datetime) -> None:
        row = self.s.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
