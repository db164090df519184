"""Fixtures: one migrated, seeded database per run (SQLite by default, MariaDB when TEST_DATABASE_URL says so),
and a transaction per test, rolled back at its end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from backend import cache, create_app, migrate
from backend.accounts.models import User
from backend.seed import seed_content
from tests.support.accounts import make_resident
from tests.support.services import services_required

pytest_plugins = [
    "tests.support.wechat_fixtures",
    "tests.support.browser",
    "tests.support.mariadb",
    "tests.support.statements",
]


@pytest.fixture(autouse=True)
def _catalog_version_read_at_every_use(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every use of a cached set reads its version (CACHE_CHECK_SECONDS=0), so that what a test sends does not
    depend on how long ago the last test read it; the tests of the interval set it themselves
    (tests/test_catalog_cache.py)."""
    monkeypatch.setattr(cache, "CHECK_SECONDS", 0)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return (
        os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory):
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
            "CONSOLE_LOGIN_RATE": "10000 per minute",  # the throttle has its own test
        }
    )
    migrate.upgrade(database_url)
    with app.app_context():
        database = app.extensions["db"]
        with database.sessionmaker() as session:
            seed_content(session, app.config["QINGPU"].content_dir)
            session.commit()
    yield app
    app.extensions["db"].engine.dispose()


@pytest.fixture
def connection(app) -> Iterator[Connection]:
    """A connection in an open transaction; every session of the app works inside it."""
    database = app.extensions["db"]
    with database.engine.connect() as conn:
        outer = conn.begin()
        database.bind_to_connection(conn)
        try:
            yield conn
        finally:
            database.unbind()
            if outer.is_active:
                outer.rollback()


@pytest.fixture
def session(app, connection: Connection) -> Iterator[Session]:
    """The test's own session. No app context is held open: each request must open and close its own
    session, so that savepoints on the shared connection nest strictly."""
    db_session = app.extensions["db"].sessionmaker()
    try:
        yield db_session
    finally:
        db_session.close()


@pytest.fixture
def client(app, connection: Connection) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def cli_runner(app, connection: Connection):
    return app.test_cli_runner()


@pytest.fixture
def make_app(database_url: str, tmp_path, connection: Connection):
    """Another app on the suite's database (say, with WeChat configured), working inside the test's transaction."""
    created = []

    def factory(**overrides: object):
        settings = {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "INSTANCE_DIR": str(tmp_path),
            **overrides,
        }
        other = create_app(settings)
        other.extensions["db"].bind_to_connection(connection)
        created.append(other)
        return other

    yield factory
    for other in created:
        other.extensions["db"].engine.dispose()


@pytest.fixture
def wechat_app(make_app, wechat_standin):
    """The app with WeChat credentials, talking to the local stand-in."""
    return make_app(
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
        WECHAT_TEMPLATE_CASE_STATUS="tmpl-case-status",
    )


@pytest.fixture
def resident(session: Session) -> tuple[User, str]:
    """A logged-in resident and their bearer token."""
    return make_resident(session, "resident")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis: skipped on a bare machine, a failure in CI or when one was named but is unreachable."""
    url = os.environ.get("TEST_REDIS_URL", "")
    if not url and services_required():
        url = "redis://127.0.0.1:6379/15"
    if not url:
        pytest.skip("no Redis configured (set TEST_REDIS_URL); CI runs this test")
    try:
        Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        pytest.fail(f"Redis at {url} is unreachable: {exc}")
    return url


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite (temporary file)"
    redis = os.environ.get("TEST_REDIS_URL") or "none: jobs run in-process"
    return [f"qingpu database: {url}", f"qingpu redis: {redis}", f"services required: {services_required()}"]
