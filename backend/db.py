"""The declarative Base, the engine and the per-request session; plain SQLAlchemy 2."""

from __future__ import annotations

import datetime as dt
import logging
import select
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from annotated_types import Interval
from flask import Flask, current_app, g, has_app_context
from pymysql import converters as pymysql_converters
from pymysql.constants import FIELD_TYPE
from sqlalchemy import (
    Connection,
    CursorResult,
    DateTime,
    Engine,
    Executable,
    MetaData,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


log = logging.getLogger(__name__)

MAX_ROW_ID = 2**31 - 1  # the largest id an INT primary key holds: a larger one names no row
# An id taken from a request (validated by pydantic): a huge integer would overflow the database driver
RowId = Annotated[int, Interval(ge=1, le=MAX_ROW_ID)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_M = TypeVar("_M", bound=Base)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC instant, stored as a naive UTC DATETIME (microseconds kept on MySQL)."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC instant is required")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def as_loaded(session: Session, model: type[_M], values: Mapping[Any, Any]) -> _M:
    """The `model` instance with these column values (by attribute name, the primary key among them) as the
    session holds it: the one it already holds under that key, else a new one that it holds as if it had
    loaded it, without a statement. For rows kept by a process (backend/cache.py) or read through Core."""
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key(tuple(values[str(c.key)] for c in mapper.primary_key))
    held = session.identity_map.get(key)
    if held is not None:
        return held  # type: ignore[return-value]
    instance = model(**values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


def assign_changed(obj: object, **values: object) -> int:
    """Set attributes that differ and say how many did (for idempotent seeding and imports)."""
    changed = 0
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed += 1
    return changed


def upsert(
    session: Session | Connection,
    model: type[Base],
    values: dict[str, Any],
    on_conflict: dict[str, Any],
    key: Sequence[str] | None = None,
) -> None:
    """Insert a row, or apply `on_conflict` to the row already holding its unique `key` (default: the
    primary key), in one statement. On MySQL/MariaDB a separate UPDATE-then-INSERT or SELECT-then-INSERT
    would take gap locks that deadlock concurrent inserts of the same missing key, or fail one of them on
    the unique key; the upsert queues them on the row lock instead. `session` may be a Connection (an event
    listener that writes in the statement's own transaction)."""
    bind = session.get_bind() if isinstance(session, Session) else session
    if bind.dialect.name in {"mysql", "mariadb"}:
        statement: Any = mysql.insert(model).values(values).on_duplicate_key_update(on_conflict)
    else:
        key = key or [column.name for column in model.__table__.primary_key]
        statement = (
            sqlite.insert(model).values(values).on_conflict_do_update(index_elements=key, set_=on_conflict)
        )
    session.execute(statement)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_db_engine(url: str, *, pool_recycle: int = 3600) -> Engine:
    """An engine configured for the dialect: utf8mb4 and a liveness check at checkout on MySQL, real
    transactions on SQLite."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() in {"mysql", "mariadb"}:
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        # no pre-ping and no ROLLBACK on return: _spare_round_trips does both without a round trip
        kwargs.update(
            pool_recycle=pool_recycle, pool_reset_on_return=None, connect_args={"conv": _CONVERSIONS}
        )
    engine = create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _make_sqlite_transactional(engine)
    else:
        _spare_round_trips(engine)
    return engine


def _read_datetime(value: str | bytes) -> dt.datetime | str:
    """A DATETIME or TIMESTAMP as MySQL sends it ('2026-12-03 08:15:00.123456'), read by the standard library's
    parser: PyMySQL's own, a regular expression in Python, is most of the cost of reading a row of dates.
    What it does not take (a zero date) goes to PyMySQL's, which returns such values as text."""
    try:
        return dt.datetime.fromisoformat(value if isinstance(value, str) else value.decode("ascii"))
    except ValueError:
        return pymysql_converters.convert_datetime(value)


_CONVERSIONS = {
    **pymysql_converters.conversions,
    FIELD_TYPE.DATETIME: _read_datetime,
    FIELD_TYPE.TIMESTAMP: _read_datetime,
}


# A pooled connection's record: whether a transaction may be open on it (a statement was sent since the last
# COMMIT or ROLLBACK, or one of them failed)
_MAY_BE_IN_TRANSACTION = "qingpu_may_be_in_transaction"


def _still_open(dbapi_connection: Any) -> bool:
    """Whether a pooled PyMySQL connection is still usable, told without a round trip: between statements the
    server sends nothing, so a socket with something to read has been closed by the server (a restart, a KILL,
    its wait_timeout) or holds a packet no one asked for; either way it is not reused. TLS sockets buffer
    inside ssl and are pinged instead, as pre-ping would."""
    sock = getattr(dbapi_connection, "_sock", None)
    if sock is None or isinstance(sock, ssl.SSLSocket):
        try:
            dbapi_connection.ping(reconnect=False)
        except Exception:
            return False
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):  # a socket already closed on this side
        return False


def _spare_round_trips(engine: Engine) -> None:
    """Two round trips a request would make besides its own statements, saved on MySQL/MariaDB.

    - Pre-ping (a COM_PING at every checkout) becomes a look at the socket (`_still_open`): a connection the
      server closed while it sat in the pool is replaced before use, as with pre-ping (the Go MySQL driver's
      liveness check does the same).
    - The pool's ROLLBACK when a connection is returned is sent only when a transaction may be open on it. A
      session's close already rolled back (SQLAlchemy's ORM then returns the connection through the pool's
      reset, a second ROLLBACK); checkout, statements, COMMIT, ROLLBACK and errors are followed by events,
      and the connection is rolled back on return unless the last of them was a COMMIT or ROLLBACK that
      succeeded."""
    _replace_closed_at_checkout(engine)
    _follow_transactions(engine)


def _replace_closed_at_checkout(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _replace_if_closed(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if not _still_open(dbapi_connection):
            raise DisconnectionError("the server closed this pooled connection")  # the pool takes another
        # until a COMMIT or ROLLBACK through SQLAlchemy says otherwise (a raw DBAPI connection is rolled back)
        record.info[_MAY_BE_IN_TRANSACTION] = True


def _follow_transactions(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _sent(conn: Connection, *_args: Any) -> None:
        conn.info[_MAY_BE_IN_TRANSACTION] = True

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _ending(conn: Connection) -> None:
        # runs before the COMMIT or ROLLBACK is sent; if that fails, handle_error marks it again
        if not conn.invalidated:  # an invalidated connection is not returned to the pool
            conn.info[_MAY_BE_IN_TRANSACTION] = False

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        conn = context.connection
        if conn is not None and not conn.invalidated:
            conn.info[_MAY_BE_IN_TRANSACTION] = True

    @event.listens_for(engine, "reset")
    def _rollback_if_open(dbapi_connection: Any, record: Any, state: Any) -> None:
        if state.transaction_was_reset or not state.asyncio_safe:
            return
        if record is None or record.info.get(_MAY_BE_IN_TRANSACTION, True):
            dbapi_connection.rollback()
            if record is not None:
                record.info[_MAY_BE_IN_TRANSACTION] = False


@dataclass(frozen=True)
class DatabaseTimeouts:
    """How long a MySQL/MariaDB connection waits, in seconds (0: no limit), from Config."""

    connect: int  # to open a connection (PyMySQL's connect_timeout)
    read: int  # for the server's answer to one statement (PyMySQL's read_timeout and write_timeout)
    lock_wait: int  # for a row lock (innodb_lock_wait_timeout): error 1205, the statement rolled back
    statement: int  # for one statement to run (MariaDB's max_statement_time, MySQL's max_execution_time)


def limit_waits(engine: Engine, timeouts: DatabaseTimeouts) -> None:
    """Make every new MySQL/MariaDB connection of `engine` give up in time: a request then fails with an
    error it can answer (a 503 to retry) before gunicorn kills its worker. SQLite is left as it is."""
    if engine.dialect.name not in {"mysql", "mariadb"}:
        return

    @event.listens_for(engine, "do_connect")
    def _socket_timeouts(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["connect_timeout"] = timeouts.connect
        if timeouts.read:
            cparams["read_timeout"] = cparams["write_timeout"] = timeouts.read

    @event.listens_for(engine, "connect")
    def _server_limits(dbapi_connection: Any, _record: Any) -> None:
        # The handshake's version string tells MariaDB (seconds, every statement) from MySQL (milliseconds,
        # SELECTs only) without a query.
        if "mariadb" in dbapi_connection.get_server_info().lower():
            statement_limit = f"max_statement_time = {timeouts.statement:d}"
        else:
            statement_limit = f"max_execution_time = {timeouts.statement * 1000:d}"
        cursor = dbapi_connection.cursor()
        cursor.execute(
            f"SET SESSION innodb_lock_wait_timeout = {timeouts.lock_wait:d}, SESSION {statement_limit}"
        )
        cursor.close()


def _make_sqlite_transactional(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and transactional DDL; SQLAlchemy's documented
    # recipe hands BEGIN to SQLAlchemy instead. IMMEDIATE takes the write lock up front (as Rails does for
    # SQLite), so two writers queue on busy_timeout instead of failing when one upgrades a read lock.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    # A reader's plain (deferred) BEGIN reads beside the writer in WAL mode instead of queueing for its lock.

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE")


_READ_ONLY = "qingpu_read_only"


class Database:
    """The engine and the session factory of one app; `info` is copied into every session."""

    def __init__(self, engine: Engine, info: dict[str, Any] | None = None) -> None:
        self.engine = engine
        self.info = info or {}
        self.sessionmaker: sessionmaker[Session] = sessionmaker(
            engine, expire_on_commit=False, info=self.info
        )

    def bind_to_connection(self, connection: Connection) -> None:
        """Hand out sessions that work inside `connection`'s open transaction, each commit becoming a
        savepoint release (the savepoint-per-test recipe)."""
        self.sessionmaker = sessionmaker(
            bind=connection, expire_on_commit=False, info=self.info, join_transaction_mode="create_savepoint"
        )

    def unbind(self) -> None:
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=self.info)

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A short session of its own for reading only, whatever transactions are open around it: on
        SQLite it never waits for the write lock (which a request's own transaction may hold)."""
        with self.engine.connect() as connection:
            connection.execution_options(**{_READ_ONLY: True})
            with Session(bind=connection) as session:
                yield session


def close_quietly(session: Session) -> None:
    """Close a request's session at its end. A connection the server dropped after the request's last
    statement (a committed report, then MariaDB gone) fails the ROLLBACK that closing sends: that is logged in
    one line, not raised, since an error escaping a teardown would replace the answer already made (a 201, a
    503 busy) with the WSGI server's own 500 page."""
    try:
        session.close()
    except DBAPIError as exc:
        if not exc.connection_invalidated:  # not a lost connection: a real error, raised as ever
            raise
        log.warning("database connection lost while closing the request's session: %s", exc.orig)


def init_app(app: Flask, engine: Engine, info: dict[str, Any] | None = None) -> Database:
    limit_waits(engine, app.config["QINGPU"].database_timeouts)
    database = Database(engine, info)
    app.extensions["db"] = database

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            close_quietly(session)

    return database


def init_replica(app: Flask, engine: Engine) -> Database:
    """Send the heavy reads (statistics, exports, open data) to a replica, so they never slow the primary."""
    limit_waits(engine, app.config["QINGPU"].database_timeouts)
    replica = Database(engine)
    app.extensions["db_replica"] = replica

    @app.teardown_appcontext
    def _close_read_session(_exc: BaseException | None) -> None:
        session = g.pop("db_read_session", None)
        if session is not None:
            close_quietly(session)

    return replica


def get_read_session() -> Session:
    """The session the heavy reads use: the replica's when `DATABASE_REPLICA_URL` is set, else the request's
    own session on the primary. Nothing read through it may be written back."""
    if "db_replica" not in current_app.extensions:
        return get_session()
    if "db_read_session" not in g:
        g.db_read_session = current_app.extensions["db_replica"].sessionmaker()
    return g.db_read_session


def get_session() -> Session:
    """The session of the current app context, opened on first use and closed at its end."""
    if not has_app_context():
        raise RuntimeError("get_session() needs an application context")
    if "db_session" not in g:
        g.db_session = current_app.extensions["db"].sessionmaker()
    return g.db_session


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed (a DML statement's result is a cursor
    result, though Session.execute is typed for any statement)."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount
