"""Fixtures of the fault tests: servers of their own (a MariaDB copied from one migrated and seeded once, a Redis
per test), the processes each test starts, all stopped when it ends. Skipped on a machine without redis-server
and mariadbd, failed in CI."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select

from backend import create_app, migrate
from backend.config import Config
from backend.org.models import Estate, Squad
from backend.seed import seed_content
from tests.support.processes import (
    PrivateMariaDB,
    PrivateRedis,
    Processes,
    missing_binaries,
    production_env,
)
from tests.support.services import services_required
from tests.support.wechat_standin import WeChatStandIn

DATABASE = "qingpu_faults"


@dataclass(frozen=True)
class Template:
    datadir: Path  # a MariaDB data directory, shut down cleanly, with DATABASE migrated and seeded
    # an estate whose town has a squad: a report there is dispatched at once, which tells its reporter
    estate_id: int


@pytest.fixture(scope="package")
def fault_servers() -> None:
    missing = missing_binaries()
    if missing and services_required():
        pytest.fail(
            f"the fault tests need {', '.join(missing)} (apt-get install redis-server mariadb-server)"
        )
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on PATH; CI runs this test")


@pytest.fixture(scope="package")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One instance folder for every process of these tests: the bot's start-up cache is built once."""
    return tmp_path_factory.mktemp("faults-instance")


@pytest.fixture(scope="package")
def mariadb_template(fault_servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    """Made once (about 10 s: install, migrate, seed), copied for each test; removed at the end (100 MB)."""
    root = tmp_path_factory.mktemp("faults-mariadb")
    datadir = root / "data"
    with Processes(root) as processes:
        PrivateMariaDB.install(datadir, root / "install.log")
        server = PrivateMariaDB(processes, datadir)
        server.start()
        server.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        url = server.url(DATABASE)
        migrate.upgrade(url)
        app = create_app({"APP_ENV": "testing", "DATABASE_URL": url, "INSTANCE_DIR": str(root / "instance")})
        try:
            with app.app_context(), app.extensions["db"].sessionmaker() as session:
                seed_content(session, app.config["QINGPU"].content_dir)
                session.commit()
                estate_id = session.scalar(
                    select(Estate.id)
                    .join(Squad, Squad.town_id == Estate.town_id)
                    .order_by(Estate.id)
                    .limit(1)
                )
        finally:
            app.extensions["db"].engine.dispose()
        server.stop()
    assert estate_id is not None, "the seed made no estate in a town with a squad"
    yield Template(datadir, estate_id)
    shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """What the test starts; every process still running at its end is stopped (its logs stay in tmp_path)."""
    with Processes(tmp_path) as started:
        yield started


@pytest.fixture
def mariadb(mariadb_template: Template, processes: Processes, tmp_path: Path) -> Iterator[PrivateMariaDB]:
    """A MariaDB of this test's own, started on a copy of the template; its data removed at the end (its log
    stays)."""
    datadir = tmp_path / "mariadb"
    shutil.copytree(mariadb_template.datadir, datadir)
    server = PrivateMariaDB(processes, datadir)
    server.start()
    yield server
    server.kill()
    shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture
def redis_server(fault_servers: None, processes: Processes, tmp_path: Path) -> PrivateRedis:
    server = PrivateRedis(processes, tmp_path / "redis")
    server.start()
    return server


@pytest.fixture
def database(mariadb: PrivateMariaDB) -> Iterator[Engine]:
    """An engine of the test's own on its MariaDB, for looking at what the processes committed."""
    engine = create_engine(mariadb.url(DATABASE), pool_pre_ping=True)
    yield engine
    engine.dispose()


@pytest.fixture
def estate_id(mariadb_template: Template) -> int:
    return mariadb_template.estate_id


@pytest.fixture
def service_env(
    mariadb: PrivateMariaDB, redis_server: PrivateRedis, wechat_standin: WeChatStandIn, instance_dir: Path
) -> dict[str, str]:
    """The environment of the service's processes (APP_ENV=production) on this test's servers."""
    return production_env(
        database_url=mariadb.url(DATABASE),
        redis_url=redis_server.url(),
        wechat=wechat_standin,
        instance_dir=instance_dir,
    )


@pytest.fixture
def command(service_env: dict[str, str]) -> Iterator[Callable[..., str]]:
    """Run a flask command as cron runs the relay (`flask --app backend notifications relay`), with the service's
    settings: the same command, in this process, without another interpreter loading the whole app."""
    config = Config.from_env(service_env)
    app = create_app({f.name: getattr(config, f.name) for f in fields(Config)})

    def run(*args: str) -> str:
        result = app.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    yield run
    app.extensions["db"].engine.dispose()
