"""Data that changes rarely (the category catalog, the estate list), built once per process and rebuilt when
another process has changed it.

Every process keeps what it built beside the version it was built from. The version of each cached set is a
row of `cache_version`, bumped in the same transaction as the change it announces, so no process can see the
change without the bump or the bump without the change, and a failed Redis cannot lose an invalidation. A
version is a random token, not a count: a bump that was rolled back (and a value built from it inside its
own transaction) can never be mistaken for a later, committed one. A reader pays one primary-key read per request, in its own transaction, and rebuilds only when the version it
reads differs from the one it holds. The version and what is built from it are read in that one transaction,
so the value is never older than the version it is filed under.

    value = cached(session, CATEGORIES, build_categories)   # a read
    bump(session, CATEGORIES, now)                          # in the transaction that changes categories
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base, UTCDateTime, upsert

T = TypeVar("T")

# The names of the cached sets; each announces a change to what it names.
CATEGORIES = "categories"  # categories, their keywords and their guidance
ESTATES = "estates"  # estates, their towns, squads and property companies


class CacheVersion(Base):
    """The version of a cached set, new at each change: a process holding another one rebuilds it."""

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


NEVER_CHANGED = ""  # the version of a set no transaction has bumped yet
# (database, set, what was built) → (version, value); a process may work on several databases (tests)
_held: dict[tuple[str, str, str], tuple[str, Any]] = {}
_building = threading.Lock()


def _fresh_lock_in_child() -> None:
    # a fork copies the lock as it is: held, if another thread was building at that moment
    global _building
    _building = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def bump(session: Session, name: str, now: dt.datetime) -> None:
    """Record, in the caller's transaction, that the set `name` changed. One statement (an upsert), so two
    transactions bumping at once never deadlock; whichever commits last leaves a version nobody has held."""
    token = secrets.token_hex(16)
    upsert(
        session,
        CacheVersion,
        {"name": name, "version": token, "changed_at": now},
        {"version": token, "changed_at": now},
    )


def version(session: Session, name: str) -> str:
    """The version of the set `name` as the session's transaction sees it."""
    return session.scalar(select(CacheVersion.version).where(CacheVersion.name == name)) or NEVER_CHANGED


def cached(session: Session, name: str, build: Callable[[Session], T], *, part: str = "") -> T:
    """What `build` makes from the set `name`, built again only when the set has changed since this process
    last built it. `part` tells apart several things built from the same set (a search index, a list).
    `build` reads in `session`, in the same transaction as the version read, and must return a value
    nobody mutates (tuples, frozen dataclasses, bytes)."""
    current = version(session, name)
    key = (str(session.get_bind().engine.url), name, part)
    held = _held.get(key)
    if held is not None and held[0] == current:
        return held[1]  # type: ignore[no-any-return]
    with _building:  # one build at a time: a second thread that saw the same change finds it built
        held = _held.get(key)
        if held is not None and held[0] == current:
            return held[1]  # type: ignore[no-any-return]
        value = build(session)
        _held[key] = (current, value)
        return value


def forget() -> None:
    """Drop everything this process holds (tests that rebuild their database from scratch)."""
    _held.clear()
