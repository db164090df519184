"""A database that cannot be reached or answers too slowly: a 503 to retry with one log line, never a 500,
and every wait on MariaDB ends before gunicorn's worker timeout."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pymysql
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, delete, text
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from backend import create_app
from backend.articles.models import ResidentPreference
from backend.config import GUNICORN_TIMEOUT_SECONDS, Config, ConfigError
from backend.db import get_session
from backend.errors import is_transient
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users

CLOSED_PORT_URL = "mysql+pymysql://root@127.0.0.1:1/qingpu"  # nothing listens on port 1


def wrapped(orig: Exception) -> OperationalError:
    return OperationalError("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pymysql.err.OperationalError(2002, "Can't connect to local server through socket")),
        wrapped(pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.5'")),
        wrapped(pymysql.err.OperationalError(2006, "MySQL server has gone away")),
        wrapped(pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")),
        wrapped(pymysql.err.OperationalError(1053, "Server shutdown in progress")),
        wrapped(pymysql.err.OperationalError(1969, "Query execution was interrupted (max_statement_time)")),
        wrapped(pymysql.err.OperationalError(1205, "Lock wait timeout exceeded")),
        InterfaceError("SELECT 1", {}, pymysql.err.InterfaceError(0, "")),
        DisconnectionError("connection invalidated by the pool"),
    ],
    ids=lambda exc: str(getattr(exc, "orig", exc))[:24],
)
def test_an_unreachable_or_lost_database_is_transient(exc: Exception) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pymysql.err.OperationalError(1045, "Access denied for user 'qingpu'@'10.0.0.7'")),
        wrapped(pymysql.err.OperationalError(1054, "Unknown column 'x' in 'field list'")),
        InterfaceError("SELECT 1", {}, pymysql.err.InterfaceError(2, "some other interface fault")),
        IntegrityError("INSERT ...", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")),
    ],
    ids=lambda exc: str(exc.orig)[:24],
)
def test_a_wrong_setting_or_a_bug_is_not_transient(exc: Exception) -> None:
    assert not is_transient(exc)


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def assert_busy_with_one_quiet_line(response, caplog: pytest.LogCaptureFixture) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["code"] == "busy"
    assert response.get_json()["message"] == "系统繁忙，请稍后重试"
    assert response.headers["Retry-After"] == "1"
    logged = problems(caplog)
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.WARNING and not logged[0].exc_info


@pytest.fixture
def reading_app(tmp_path) -> Iterator[Flask]:
    """An app with a view that reads through the request's session."""
    app = create_app({"APP_ENV": "testing", "INSTANCE_DIR": str(tmp_path)})

    @app.get("/_test/read")
    def read() -> str:
        get_session().execute(text("SELECT 1"))
        return "read"

    yield app
    app.extensions["db"].engine.dispose()


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")),
        wrapped(pymysql.err.OperationalError(2006, "MySQL server has gone away")),
        wrapped(pymysql.err.OperationalError(2003, "Can't connect to MySQL server on '10.0.0.5'")),
        InterfaceError("SELECT 1", {}, pymysql.err.InterfaceError(0, "")),
    ],
    ids=lambda exc: str(exc.orig)[:24],
)
def test_a_connection_lost_inside_a_view_answers_busy_with_one_line_and_no_traceback(
    reading_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, exc: Exception
) -> None:
    def lost(*_args: object, **_kwargs: object) -> None:
        raise exc

    assert reading_app.test_client().get("/_test/read").status_code == 200
    monkeypatch.setattr(Session, "execute", lost)
    caplog.set_level(logging.INFO)
    assert_busy_with_one_quiet_line(reading_app.test_client().get("/_test/read"), caplog)


def test_a_bug_in_a_statement_is_still_a_500_with_its_traceback(
    reading_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def wrong(*_args: object, **_kwargs: object) -> None:
        raise wrapped(pymysql.err.OperationalError(1054, "Unknown column 'x' in 'field list'"))

    monkeypatch.setattr(Session, "execute", wrong)
    response = reading_app.test_client().get("/_test/read")
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert [r for r in problems(caplog) if r.levelno == logging.ERROR and r.exc_info]


def test_a_database_nobody_listens_for_answers_503_at_once_not_500(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": CLOSED_PORT_URL, "INSTANCE_DIR": str(tmp_path)})
    caplog.set_level(logging.INFO)
    try:
        started = time.perf_counter()
        response = app.test_client().get("/api/mp/v1/reports", headers={"Authorization": "Bearer some-token"})
        took = time.perf_counter() - started
        assert_busy_with_one_quiet_line(response, caplog)
        assert "2003" in problems(caplog)[0].getMessage()
        assert took < app.config["QINGPU"].DATABASE_CONNECT_SECONDS
    finally:
        app.extensions["db"].engine.dispose()


# The timeouts in Config


def test_the_default_timeouts_end_inside_gunicorns_worker_timeout() -> None:
    config = Config.from_env({})
    assert config.DATABASE_LOCK_WAIT_SECONDS < config.DATABASE_READ_SECONDS
    assert config.DATABASE_STATEMENT_SECONDS < config.DATABASE_READ_SECONDS
    assert config.DATABASE_CONNECT_SECONDS + config.DATABASE_READ_SECONDS < GUNICORN_TIMEOUT_SECONDS


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DATABASE_LOCK_WAIT_SECONDS": "50"}, "DATABASE_READ_SECONDS"),  # MariaDB's default lock wait
        ({"DATABASE_STATEMENT_SECONDS": "20", "DATABASE_READ_SECONDS": "20"}, "DATABASE_READ_SECONDS"),
        ({"DATABASE_READ_SECONDS": "28"}, "worker timeout"),
        ({"DATABASE_READ_SECONDS": "0", "DATABASE_STATEMENT_SECONDS": "26"}, "worker timeout"),
        ({"DATABASE_LOCK_WAIT_SECONDS": "0"}, "DATABASE_LOCK_WAIT_SECONDS"),
        ({"DATABASE_STATEMENT_SECONDS": "-1"}, "DATABASE_STATEMENT_SECONDS"),
    ],
)
def test_timeouts_that_would_fight_each_other_are_refused(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Config.from_env(environ)
    assert named in str(refused.value)


def test_no_statement_limit_may_be_asked_for_a_long_command() -> None:
    config = Config.from_env({"DATABASE_STATEMENT_SECONDS": "0", "DATABASE_READ_SECONDS": "0"})
    assert config.database_timeouts.statement == 0 and config.database_timeouts.read == 0


# On MariaDB: the limits are set on every connection, and a lock wait ends as a 503 through a real request


@pytest.fixture
def committing_app(mariadb_url: str, tmp_path) -> Iterator[Flask]:
    """An app on MariaDB (tests/support/mariadb.py) whose requests commit for real, with a one-second lock wait."""
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": mariadb_url,
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_LOCK_WAIT_SECONDS": 1,
            "DATABASE_STATEMENT_SECONDS": 7,
        }
    )
    yield app
    app.extensions["db"].engine.dispose()


def test_every_new_connection_gets_the_configured_limits(committing_app: Flask) -> None:
    engine: Engine = committing_app.extensions["db"].engine
    with engine.connect() as conn:
        lock_wait, statement = conn.execute(
            text("SELECT @@innodb_lock_wait_timeout, @@max_statement_time")
        ).one()
        driver = conn.connection.dbapi_connection
    assert lock_wait == 1 and float(statement) == 7
    assert driver is not None
    assert driver.connect_timeout == committing_app.config["QINGPU"].DATABASE_CONNECT_SECONDS
    assert driver._read_timeout == committing_app.config["QINGPU"].DATABASE_READ_SECONDS


def test_a_statement_past_its_limit_is_stopped_by_the_server_and_is_transient(
    mariadb_url: str, tmp_path
) -> None:
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": mariadb_url,
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_STATEMENT_SECONDS": 1,
        }
    )
    try:
        with app.extensions["db"].engine.connect() as conn:
            started = time.perf_counter()
            # a join of ten billion rows (MariaDB's sequence engine); a SLEEP() cut short would return 1
            # instead of failing
            with pytest.raises(OperationalError) as stopped:
                conn.execute(
                    text(
                        "SELECT COUNT(*) FROM seq_1_to_100000 a JOIN seq_1_to_100000 b ON a.seq % 7 = b.seq % 11"
                    )
                )
            assert time.perf_counter() - started < 5
        assert is_transient(stopped.value)
    finally:
        app.extensions["db"].engine.dispose()


def test_a_request_waiting_on_a_locked_row_answers_busy_after_the_configured_wait(
    committing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    engine: Engine = committing_app.extensions["db"].engine
    client, headers, user_id = _signed_in(committing_app, "lockwait")
    body = {"pushes": True, "topics": [], "estate_ids": []}
    holder = create_engine(engine.url)  # another process's connection, with MariaDB's own lock wait
    try:
        assert client.put("/api/mp/v1/preferences", json=body, headers=headers).status_code == 200
        with holder.connect() as other:
            other.execute(
                text("SELECT * FROM resident_preference WHERE user_id = :id FOR UPDATE"), {"id": user_id}
            )
            caplog.set_level(logging.INFO)
            started = time.perf_counter()
            response = client.put("/api/mp/v1/preferences", json={**body, "pushes": False}, headers=headers)
            waited = time.perf_counter() - started
            other.rollback()
        assert_busy_with_one_quiet_line(response, caplog)
        assert "1205" in problems(caplog)[0].getMessage()
        assert 0.9 < waited < 5
        # nothing of the refused request was kept, and the same request again succeeds
        again = client.put("/api/mp/v1/preferences", json={**body, "pushes": False}, headers=headers)
        assert again.status_code == 200 and again.get_json()["pushes"] is False
    finally:
        holder.dispose()
        with engine.begin() as conn:
            conn.execute(delete(ResidentPreference).where(ResidentPreference.user_id == user_id))
        purge_users(engine, [user_id])


def test_a_pooled_connection_the_server_killed_is_replaced_not_reused(
    committing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """MariaDB restarted (or killed the connection) while it sat in the pool: pre-ping finds it dead, and
    the next request gets a fresh one instead of an error."""
    engine: Engine = committing_app.extensions["db"].engine
    with engine.connect() as conn:
        pooled_id = conn.execute(text("SELECT CONNECTION_ID()")).scalar_one()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT CONNECTION_ID()")).scalar_one() == pooled_id  # the pool keeps it
    killer = create_engine(engine.url)
    try:
        with killer.connect() as conn:
            conn.execute(text(f"KILL CONNECTION {int(pooled_id)}"))
    finally:
        killer.dispose()
    caplog.set_level(logging.WARNING)
    response = committing_app.test_client().get(
        "/api/mp/v1/reports", headers={"Authorization": "Bearer no-such"}
    )
    assert response.status_code == 401  # the token was looked up: the database answered
    assert not problems(caplog)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT CONNECTION_ID()")).scalar_one() != pooled_id


def test_a_connection_lost_mid_request_answers_busy_and_the_next_request_is_served(
    committing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    engine: Engine = committing_app.extensions["db"].engine
    client, headers, user_id = _signed_in(committing_app, "lost")
    killer = create_engine(engine.url)

    def kill_the_sleeper() -> None:
        # kill the request's connection while it runs a long statement, as a crashing server would
        with killer.connect() as conn:
            for _ in range(100):
                sleeper = conn.execute(
                    text("SELECT id FROM information_schema.processlist WHERE info LIKE 'SELECT SLEEP(3)%'")
                ).scalar()
                if sleeper:
                    conn.execute(text(f"KILL CONNECTION {int(sleeper)}"))
                    return
                time.sleep(0.02)

    @committing_app.get("/_test/slow")
    def slow() -> str:
        get_session().execute(text("SELECT SLEEP(3)"))
        return "slept"

    try:
        thread = threading.Thread(target=kill_the_sleeper)
        thread.start()
        caplog.set_level(logging.INFO)
        response = client.get("/_test/slow")
        thread.join()
        assert_busy_with_one_quiet_line(response, caplog)
        assert client.get("/api/mp/v1/reports", headers=headers).status_code == 200
    finally:
        killer.dispose()
        purge_users(engine, [user_id])


def test_a_connection_lost_after_the_last_statement_keeps_the_answer_made(
    committing_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """The server drops the connection once the view has done its work (a report committed, then MariaDB
    gone): the answer stands, and closing the session logs one line instead of a 500 from the WSGI server."""
    engine: Engine = committing_app.extensions["db"].engine
    killer = create_engine(engine.url)

    @committing_app.get("/_test/done-then-lost")
    def done_then_lost() -> str:
        mine = get_session().execute(text("SELECT CONNECTION_ID()")).scalar()
        with killer.connect() as conn:
            conn.execute(text(f"KILL CONNECTION {int(mine)}"))
        return "done"

    try:
        caplog.set_level(logging.INFO)
        client = committing_app.test_client()
        response = client.get("/_test/done-then-lost")
        assert (response.status_code, response.get_data(as_text=True)) == (200, "done")
        lost = [r for r in problems(caplog) if "connection lost while closing" in r.getMessage()]
        assert len(lost) == 1 and lost[0].exc_info is None
        assert client.get("/healthz").status_code == 200
    finally:
        killer.dispose()


def _signed_in(app: Flask, prefix: str) -> tuple[FlaskClient, dict[str, str], int]:
    """A client, the bearer header and the id of a new resident committed to the app's database."""
    with Session(app.extensions["db"].engine) as session:
        user, token = make_resident(session, f"{prefix}-{uuid.uuid4().hex[:8]}")
        session.commit()
        user_id = user.id
    return app.test_client(), {"Authorization": f"Bearer {token}"}, user_id
