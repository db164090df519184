"""Data that changes rarely (the category catalog, the estate list), built once per process and rebuilt when
another process has changed it.

Every process keeps what it built beside the version it was built from. The version of each cached set is a
row of `cache_version`, bumped in the same transaction as the change it announces, so no process can see the
change without the bump or the bump without the change, and a failed Redis cannot lose an invalidation. A
version is a random token, not a count: a bump that was rolled back (and a value built from it inside its
own transaction) can never be mistaken for a later, committed one. A process reads a set's version at most
once every `CHECK_SECONDS` (`CACHE_CHECK_SECONDS`, 1 s): between two reads a request touches no database for
the set at all. It rebuilds only when the version it reads differs from the one it holds. So a change
committed by another process is seen within `CHECK_SECONDS`; a change this process commits, at once (its
commit makes the next reads ask the database again); and a transaction that has bumped a set always reads the
version, its own, in that transaction. The version and what is built from it are read in one transaction, so
the value is never older than the version it is filed under.

    value = cached(session, CATEGORIES, build_categories)        # a read
    page = cached_for(session, ESTATES, key, build_page, part=…)  # one of many answers (a search), kept by key
    bump(session, CATEGORIES, now)                               # in the transaction that changes categories

No writer has to remember the bump: each domain names the tables a set is built from (`built_from`, beside its
models), and every INSERT, UPDATE, DELETE or TRUNCATE of one of them, whichever way it is sent (the ORM's flush,
a Core or ORM bulk statement, `text()`, `exec_driver_sql`), is preceded by the set's bump on the same connection,
in the same transaction. A write made outside the application (the `mariadb` client) bumps by hand, in its
transaction: REPLACE INTO cache_version VALUES ('estates', MD5(RAND()), UTC_TIMESTAMP()).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import threading
import time
import weakref
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, String, TextClause, bindparam, event, select
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.dml import UpdateBase

from backend.db import Base, UTCDateTime, upsert, utcnow

T = TypeVar("T")

# The names of the cached sets; each announces a change to what it names.
CATEGORIES = "categories"  # categories, their keywords and their guidance
ESTATES = "estates"  # estates, their towns, squads and property companies
ARTICLES = (
    "articles"  # the articles (what is kept of the published ones follows each publication, edit, withdrawal)
)


class CacheVersion(Base):
    """The version of a cached set, new at each change: a process holding another one rebuilds it."""

    __tablename__ = "cache_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


NEVER_CHANGED = ""  # the version of a set no transaction has bumped yet
# How long a process trusts the version it last read (seconds); set by the app from CACHE_CHECK_SECONDS.
# 0 reads the version at every use.
CHECK_SECONDS = 1.0
_clock = time.monotonic  # replaced by tests that let time pass
# (database, set) → (the version this process last read outside a transaction that bumped it, when)
_read: dict[tuple[str, str], tuple[str, float]] = {}
# (database, set) → until when every use asks the database (this process has just committed or rolled back
# a bump: a read in another thread may have taken the version from before the COMMIT)
_ask_until: dict[tuple[str, str], float] = {}
# the sets the open transactions of this thread have bumped, per (database, set)
_bumping = threading.local()
# a connection → the (database, set) its open transaction has bumped (kept beside the Connection, not in its
# info: an invalidated connection has no info, and its end must still be counted)
_bumped_by: weakref.WeakKeyDictionary[Connection, set[tuple[str, str]]] = weakref.WeakKeyDictionary()
# (database, set, what was built) → (version, value); a process may work on several databases (tests)
_held: dict[tuple[str, str, str], tuple[str, Any]] = {}
_building = threading.Lock()


def _fresh_lock_in_child() -> None:
    # a fork copies the lock as it is: held, if another thread was building at that moment
    global _building
    _building = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def bump(session: Session | Connection, name: str, now: dt.datetime) -> None:
    """Record, in the caller's transaction, that the set `name` changed. One statement (an upsert), so two
    transactions bumping at once never deadlock; whichever commits last leaves a version nobody has held."""
    token = secrets.token_hex(16)
    connection = session if isinstance(session, Connection) else session.connection()
    slot = (_database(connection.engine), name)
    bumped = _bumped_by.setdefault(connection, set())
    if slot not in bumped:
        bumped.add(slot)
        _bumps_of_thread()[slot] += 1
    upsert(
        session,
        CacheVersion,
        {"name": name, "version": token, "changed_at": now},
        {"version": token, "changed_at": now},
    )


_VERSION = select(CacheVersion.version).where(CacheVersion.name == bindparam("name"))


def version(session: Session, name: str) -> str:
    """The version of the set `name` as the session's transaction sees it (its own pending changes flushed
    first, as a query would, so that their bumps count)."""
    if session.autoflush:
        session.flush()
    # Core on the session's connection: the ORM's execution layer costs more than the read itself
    return session.connection().execute(_VERSION, {"name": name}).scalar() or NEVER_CHANGED


def _bumps_of_thread() -> Counter[tuple[str, str]]:
    bumps = getattr(_bumping, "sets", None)
    if bumps is None:
        bumps = _bumping.sets = Counter()
    return bumps


def _ended(connection: Connection) -> None:
    """A transaction ends (before its COMMIT or ROLLBACK is sent): what it bumped is asked of the database
    again for the next CHECK_SECONDS, in every thread of this process."""
    bumped = _bumped_by.pop(connection, None)
    if not bumped:
        return
    until = _clock() + CHECK_SECONDS
    bumps = _bumps_of_thread()
    for slot in bumped:
        _read.pop(slot, None)
        _ask_until[slot] = until
        bumps[slot] -= 1
        if bumps[slot] <= 0:
            del bumps[slot]


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def current_version(session: Session, name: str, database: str | None = None) -> str:
    """The version of `name` this process goes by: the one it read less than CHECK_SECONDS ago, else (and
    always inside a transaction that bumped the set) the one `session` reads."""
    slot = (database or _database(_engine_of(session)), name)
    now = _clock()
    if slot not in _bumps_of_thread() and now >= _ask_until.get(slot, 0.0):
        last = _read.get(slot)
        if last is not None and now - last[1] < CHECK_SECONDS:
            return last[0]
    current = version(session, name)  # flushes first: a pending change to the set bumps it
    if slot not in _bumps_of_thread() and now >= _ask_until.get(slot, 0.0):
        _read[slot] = (current, now)
    return current


def cached(session: Session, name: str, build: Callable[[Session], T], *, part: str = "") -> T:
    """What `build` makes from the set `name`, built again only when the set has changed since this process
    last built it. `part` tells apart several things built from the same set (a search index, a list).
    `build` reads in `session`, in the same transaction as the version read, and must return a value
    nobody mutates (tuples, frozen dataclasses, bytes)."""
    database = _database(_engine_of(session))
    current = current_version(session, name, database)
    key = (database, name, part)
    held = _held.get(key)
    if held is not None and held[0] == current:
        return cast(T, held[1])
    with _building:  # one build at a time: a second thread that saw the same change finds it built
        held = _held.get(key)
        if held is not None and held[0] == current:
            return cast(T, held[1])
        value = build(session)
        _held[key] = (current, value)
        return value


class _Recent:
    """The values most recently asked for, by key, up to `size` of them; shared by the threads of a process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable) -> tuple[bool, Any]:
        with self.lock:
            if key not in self.values:
                return False, None
            self.values.move_to_end(key)
            return True, self.values[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self.lock:
            self.values[key] = value
            self.values.move_to_end(key)
            while len(self.values) > self.size:
                self.values.popitem(last=False)


def cached_for(
    session: Session,
    name: str,
    key: Hashable,
    build: Callable[[Session], T],
    *,
    part: str,
    size: int = 256,
) -> T:
    """What `build` makes for `key` (a search, one page of a list) from the set `name`, kept for the `size`
    keys most recently asked for until the set changes: one primary-key read when it is kept. `build` follows
    the rules of `cached`; what it raises is not kept."""
    recent = cached(session, name, lambda _session: _Recent(size), part=part)
    found, value = recent.get(key)
    if found:
        return cast(T, value)
    made = build(session)  # outside the lock: two threads may build the same key, and keep either
    recent.put(key, made)
    return made


_databases: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _database(engine: Engine) -> str:
    # the engine's URL names the database; rendering it costs more than a dictionary look-up
    database = _databases.get(engine)
    if database is None:
        database = _databases[engine] = str(engine.url)
    return database


def forget() -> None:
    """Drop everything this process holds (tests that rebuild their database from scratch)."""
    _held.clear()
    _read.clear()
    _ask_until.clear()


# -- every write announces itself ----------------------------------------------------------------------------

# table name → the sets built from it (filled by the domains' models with `built_from`)
_sets_of_table: dict[str, tuple[str, ...]] = {}
# the table a statement sent as text writes to: INSERT [IGNORE|OR …] INTO, REPLACE [INTO], UPDATE [IGNORE],
# DELETE FROM, TRUNCATE [TABLE], the name perhaps quoted and perhaps after its schema
_WRITTEN_TABLE = re.compile(
    r"\s*(?:INSERT(?:\s+IGNORE|\s+OR\s+\w+)?\s+INTO|REPLACE(?:\s+INTO)?|UPDATE(?:\s+IGNORE)?|DELETE\s+FROM"
    r"|TRUNCATE(?:\s+TABLE)?)\s+(?:[`\"]?\w+[`\"]?\.)?[`\"]?(\w+)",
    re.IGNORECASE,
)


def built_from(name: str, *models: type[Base]) -> None:
    """Declare that the set `name` is built from the tables of `models`: from now on, every statement that writes
    one of them bumps the set first, in the same transaction. Called beside the models, so that no process can
    write the tables without the declaration having been made."""
    for model in models:
        table = str(model.__tablename__)
        _sets_of_table[table] = tuple(dict.fromkeys((*_sets_of_table.get(table, ()), name)))


def sets_written_by(statement: object) -> tuple[str, ...]:
    """The sets a statement changes: those built from the table it inserts into, updates or deletes from."""
    if isinstance(statement, UpdateBase):
        table = getattr(statement, "table", None)
        return _sets_of_table.get(getattr(table, "name", ""), ())
    if isinstance(statement, TextClause):
        statement = statement.text
    if isinstance(statement, str):
        written = _WRITTEN_TABLE.match(statement)
        return _sets_of_table.get(written.group(1).lower(), ()) if written else ()
    return ()


def _announce(connection: Connection, names: Iterable[str]) -> None:
    now = utcnow()
    for name in names:
        bump(connection, name, now)


def _before_statement(
    connection: Connection, statement: object, _multiparams: object, _params: object, _options: object
) -> None:
    # a statement object (the ORM's flush, select/insert/update/delete, text()), before it is compiled
    names = sets_written_by(statement)
    if names:
        _announce(connection, names)


def _before_driver_sql(
    connection: Connection,
    _cursor: DBAPICursor,
    statement: str,
    _parameters: object,
    context: ExecutionContext | None,
    _executemany: bool,
) -> None:
    # a string sent with exec_driver_sql, which skips before_execute (compiled statements went through it)
    if context is not None and getattr(context, "compiled", None) is None:
        names = sets_written_by(statement)
        if names:
            _announce(connection, names)


# On the Engine class, not on one engine: whatever made the engine (the app, a command, a migration, a script
# of bench/), a write to a watched table is announced.
event.listen(Engine, "before_execute", _before_statement)
event.listen(Engine, "before_cursor_execute", _before_driver_sql)
event.listen(Engine, "commit", _ended)
event.listen(Engine, "rollback", _ended)
