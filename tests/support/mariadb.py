"""A migrated, seeded MariaDB for the tests that need MariaDB itself (row locks, server-side timeouts).

When the suite runs on MariaDB (TEST_DATABASE_URL=mysql+pymysql://…) it is the suite's database. When the suite
runs on SQLite and MariaDB is wanted anyway (CI sets CI=true, or TEST_MARIADB_URL names a server), these tests
get a database of their own beside it, so CI's SQLite pass fails them when MariaDB is missing instead of
skipping them. On a bare machine they skip with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend import create_app, migrate
from backend.seed import seed_content
from tests.support.services import services_required

DEFAULT_SERVER = "mysql+pymysql://root@127.0.0.1:3306/qingpu_test"
PRIVATE_SUFFIX = "_mariadb_only"  # the database these tests make beside an SQLite run


def _is_mariadb(url: str) -> bool:
    return url.startswith(("mysql", "mariadb"))


def _private_database(server_url: str) -> str:
    """Create (afresh) a database of its own on the server `server_url` names and return its URL."""
    url = make_url(server_url)
    name = f"{url.database or 'qingpu_test'}{PRIVATE_SUFFIX}"
    admin = create_engine(url.set(database=""), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def mariadb_url(app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MariaDB database, migrated and seeded: the suite's own, or one made for these tests."""
    if _is_mariadb(database_url):
        yield database_url  # the `app` fixture has migrated and seeded it
        return
    server = os.environ.get("TEST_MARIADB_URL", "")
    if not server and services_required():
        server = DEFAULT_SERVER
    if not server:
        pytest.skip(
            "needs MariaDB (set TEST_DATABASE_URL or TEST_MARIADB_URL=mysql+pymysql://…); CI runs this test"
        )
    try:
        url = _private_database(server)
    except Exception as exc:
        pytest.fail(f"MariaDB at {server} is unreachable: {exc}")
    migrate.upgrade(url)
    seeding = create_app(
        {"APP_ENV": "testing", "DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path_factory.mktemp("mariadb"))}
    )
    try:
        with seeding.app_context(), seeding.extensions["db"].sessionmaker() as session:
            seed_content(session, seeding.config["QINGPU"].content_dir)
            session.commit()
    finally:
        seeding.extensions["db"].engine.dispose()
    yield url
    admin = create_engine(make_url(url).set(database=""), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{make_url(url).database}`"))
    admin.dispose()


@pytest.fixture
def mariadb_app(mariadb_url: str, tmp_path) -> Iterator[Flask]:
    """An app on that MariaDB whose sessions commit for real (no test transaction around them)."""
    other = create_app({"APP_ENV": "testing", "DATABASE_URL": mariadb_url, "INSTANCE_DIR": str(tmp_path)})
    yield other
    other.extensions["db"].engine.dispose()
