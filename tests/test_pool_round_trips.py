"""The MySQL/MariaDB engine (backend/db.py): a pooled connection is lent without a ping and returned without a
second ROLLBACK, yet a closed one is never reused and an open transaction never goes back to the pool; dates
are read by the standard library's parser, as PyMySQL read them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from backend.db import _read_datetime, create_db_engine


@pytest.fixture
def engine(mariadb_url: str) -> Iterator[Engine]:
    engine = create_db_engine(mariadb_url)
    yield engine
    engine.dispose()


def rollbacks(conn: object) -> tuple[int, int]:
    """The connection's id and how many ROLLBACKs its server session has run."""
    row = conn.execute(
        text(
            "SELECT CONNECTION_ID(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS "  # type: ignore[attr-defined]
            "WHERE VARIABLE_NAME = 'COM_ROLLBACK'"
        )
    ).one()
    return int(row[0]), int(row[1])


def test_a_session_returns_its_connection_with_one_rollback(engine: Engine) -> None:
    with Session(engine) as session:
        first_id, before = rollbacks(session)
    with Session(engine) as session:
        same_id, after = rollbacks(session)
    assert same_id == first_id  # the pool lent the same connection again
    assert after - before == 1  # the session's own ROLLBACK, and not a second one from the pool


def test_a_committed_connection_goes_back_without_a_rollback(engine: Engine) -> None:
    with engine.begin() as conn:
        first_id, before = rollbacks(conn)
    with engine.begin() as conn:
        same_id, after = rollbacks(conn)
    assert same_id == first_id and after == before


def test_a_raw_connection_left_in_a_transaction_is_rolled_back_on_return(
    engine: Engine, mariadb_url: str
) -> None:
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS pool_probe (id INT PRIMARY KEY) ENGINE=InnoDB"))
        conn.execute(text("DELETE FROM pool_probe"))
        conn.commit()
    try:
        raw = engine.raw_connection()
        cursor = raw.cursor()
        cursor.execute("INSERT INTO pool_probe VALUES (1)")  # not through SQLAlchemy: no event saw it
        cursor.close()
        raw.close()  # back to the pool, uncommitted
        with engine.connect() as conn:  # the same connection again: the insert was rolled back
            assert conn.execute(text("SELECT COUNT(*) FROM pool_probe")).scalar_one() == 0
        other = create_engine(mariadb_url)
        try:
            with other.connect() as conn:  # and its lock released: another session takes the row at once
                conn.execute(text("SET SESSION innodb_lock_wait_timeout = 1"))
                conn.execute(text("INSERT INTO pool_probe VALUES (1)"))
                conn.rollback()
        finally:
            other.dispose()
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS pool_probe"))


def test_a_connection_that_failed_is_rolled_back_on_return(engine: Engine) -> None:
    with engine.connect() as conn:
        first_id, before = rollbacks(conn)
        with pytest.raises(ProgrammingError):
            conn.execute(text("SELECT * FROM no_such_table_here"))
        # closed after the error without a rollback of its own: it goes back to the pool rolled back
    with engine.connect() as conn:
        same_id, after = rollbacks(conn)
    assert same_id == first_id and after - before >= 1


def test_dates_are_read_as_pymysql_read_them(engine: Engine) -> None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT CAST('2026-12-03 08:15:00.123456' AS DATETIME(6)), CAST('2026-12-03 08:15:00' AS DATETIME),"
                " CAST('2026-12-03 08:15:00.5' AS DATETIME(1)), CAST(NULL AS DATETIME)"
            )
        ).one()
    assert tuple(row) == (
        dt.datetime(2026, 12, 3, 8, 15, 0, 123456),
        dt.datetime(2026, 12, 3, 8, 15),
        dt.datetime(2026, 12, 3, 8, 15, 0, 500000),
        None,
    )


def test_a_date_the_standard_parser_refuses_is_left_to_pymysql() -> None:
    assert _read_datetime("0000-00-00 00:00:00") == "0000-00-00 00:00:00"  # as PyMySQL returns it
    assert _read_datetime(b"2026-01-02 03:04:05") == dt.datetime(2026, 1, 2, 3, 4, 5)
