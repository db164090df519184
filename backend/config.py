"""One Config for the whole service, read from the environment with safe defaults for a developer's machine."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from flask import current_app

from backend.db import DatabaseTimeouts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-insecure-secret-key"
# gunicorn's --timeout, left at its default by the README's command: a worker silent for longer is killed
# with its request. The database timeouts are checked against it (Config.check).
GUNICORN_TIMEOUT_SECONDS = 30


class ConfigError(RuntimeError):
    """Raised when the environment describes a configuration the service must not start with."""


def _setting(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Config:
    """Every configuration key of the service. The README's table is checked against this class."""

    APP_ENV: str = _setting(
        "development", "`development` (embedded defaults), `production` (secrets required) or `testing`"
    )
    SECRET_KEY: str = _setting(DEV_SECRET_KEY, "signs sessions and tokens; required in production")
    DATABASE_URL: str = _setting("", "SQLAlchemy URL; empty means the SQLite file `instance/qingpu.sqlite3`")
    DATABASE_REPLICA_URL: str = _setting(
        "", "SQLAlchemy URL of a read replica for statistics, exports and open data; empty reads the primary"
    )
    DATABASE_POOL_RECYCLE: int = _setting(
        3600, "seconds after which a pooled MySQL connection is replaced (below MySQL's wait_timeout)"
    )
    DATABASE_CONNECT_SECONDS: int = _setting(
        5, "seconds to open a MySQL connection before giving up (the request answers 503)"
    )
    DATABASE_LOCK_WAIT_SECONDS: int = _setting(
        10, "seconds a MySQL statement waits for a row lock before it is rolled back (a 503 to retry)"
    )
    DATABASE_STATEMENT_SECONDS: int = _setting(
        15, "seconds a MySQL statement may run (MariaDB: every statement; MySQL: SELECTs); 0: no limit"
    )
    DATABASE_READ_SECONDS: int = _setting(
        20, "seconds to wait for MySQL's answer before dropping the connection (a dead server); 0: no limit"
    )
    CACHE_CHECK_SECONDS: int = _setting(
        1,
        "seconds a process trusts the version of the catalog and estate list it last read (backend/cache.py): "
        "another process's change is seen within it, the process's own at once; 0 reads it every request",
    )
    REDIS_URL: str = _setting(
        "", "Redis for RQ jobs and shared state; empty runs jobs in-process after commit"
    )
    RQ_QUEUE: str = _setting("default", "name of the RQ queue jobs are sent to")
    INSTANCE_DIR: str = _setting("", "folder for the SQLite file and uploads; empty means `instance/`")
    CONTENT_DIR: str = _setting("", "folder of the seed content; empty means the project's `content/`")
    LOG_LEVEL: str = _setting("INFO", "level of the application's log")
    WECHAT_APP_ID: str = _setting("", "the mini-program's AppID; empty enables the development login")
    WECHAT_APP_SECRET: str = _setting("", "the mini-program's AppSecret")
    WECHAT_API_BASE_URL: str = _setting(
        "https://api.weixin.qq.com/", "base URL of WeChat's HTTP API (a local stand-in in tests)"
    )
    WECHAT_TOKEN: str = _setting("", "the Token of WeChat's message push (/wechat/callback)")
    WECHAT_ENCODING_AES_KEY: str = _setting("", "the EncodingAESKey of WeChat's message push (safe mode)")
    CHAT_TTL_SECONDS: int = _setting(1800, "seconds a bot conversation is kept after its last message")
    BOT_GAZETTEER: str = _setting(
        "", "estate CSV for the bot's place finder; empty writes one from the database at first use"
    )
    WECHAT_TEMPLATE_CASE_STATUS: str = _setting(
        "", "subscribe-message template id for case status changes; empty sends none"
    )
    WECHAT_TEMPLATE_ARTICLE: str = _setting(
        "", "subscribe-message template id for articles pushed to residents; empty sends in-app messages only"
    )
    WECHAT_SENDS_PER_SECOND: int = _setting(
        20, "subscribe messages of article pushes sent per second at most, by every worker together"
    )
    AUTH_TOKEN_TTL_DAYS: int = _setting(30, "days a mini-program bearer token stays valid")
    REPORTS_PER_DAY: int = _setting(10, "reports one user may file per day (Shanghai time)")
    UPLOAD_DIR: str = _setting("", "folder of uploaded photos; empty means `instance/uploads`")
    PROXY_COUNT: int = _setting(
        0,
        "reverse proxies in front of the web processes whose X-Forwarded-For/-Proto are trusted; 0 trusts none",
    )
    CONSOLE_LOGIN_RATE: str = _setting(
        "10 per minute", "failed console logins allowed per address (Flask-Limiter notation)"
    )
    DUE_SOON_HOURS: int = _setting(4, "hours before a deadline when the squad is told a case is due soon")
    ESCALATE_AFTER_HOURS: int = _setting(24, "hours overdue after which a case is escalated to the bureau")
    DUTY_CHECK_DAYS: int = _setting(
        90, "days before a case the duty cross-check looks back over a company's registrations and patrols"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """Build the configuration from `environ` (default: the process environment), then `overrides`."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif f.name in environ:
                raw = environ[f.name]
                values[f.name] = int(raw) if isinstance(f.default, int) else raw.strip()
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown configuration keys: {sorted(unknown)}")
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        if self.APP_ENV not in {"development", "production", "testing"}:
            raise ConfigError(f"APP_ENV must be development, production or testing, not {self.APP_ENV!r}")
        if self.PROXY_COUNT < 0:
            raise ConfigError(f"PROXY_COUNT must be 0 or more, not {self.PROXY_COUNT}")
        if self.WECHAT_SENDS_PER_SECOND < 1:
            raise ConfigError(
                f"WECHAT_SENDS_PER_SECOND must be 1 or more, not {self.WECHAT_SENDS_PER_SECOND}"
            )
        if self.CACHE_CHECK_SECONDS < 0:
            raise ConfigError(f"CACHE_CHECK_SECONDS must be 0 or more, not {self.CACHE_CHECK_SECONDS}")
        self._check_database_timeouts()
        if self.is_production:
            missing = [
                name
                for name, bad in (
                    ("SECRET_KEY", self.SECRET_KEY in {"", DEV_SECRET_KEY}),
                    ("DATABASE_URL", not self.DATABASE_URL),
                    ("REDIS_URL", not self.REDIS_URL),
                    ("WECHAT_APP_ID", not self.WECHAT_APP_ID),
                    ("WECHAT_APP_SECRET", not self.WECHAT_APP_SECRET),
                )
                if bad
            ]
            if missing:
                raise ConfigError(f"production needs these settings: {', '.join(missing)}")

    def _check_database_timeouts(self) -> None:
        # The server ends a statement (a lock wait, a slow query) before the client stops waiting for its
        # answer, so that the connection stays usable; and all of it ends before gunicorn kills the worker,
        # so that the request answers 503 instead of vanishing.
        if self.DATABASE_CONNECT_SECONDS < 1 or self.DATABASE_LOCK_WAIT_SECONDS < 1:
            raise ConfigError("DATABASE_CONNECT_SECONDS and DATABASE_LOCK_WAIT_SECONDS must be 1 or more")
        if self.DATABASE_STATEMENT_SECONDS < 0 or self.DATABASE_READ_SECONDS < 0:
            raise ConfigError(
                "DATABASE_STATEMENT_SECONDS and DATABASE_READ_SECONDS must be 0 (no limit) or more"
            )
        server_limit = max(self.DATABASE_LOCK_WAIT_SECONDS, self.DATABASE_STATEMENT_SECONDS)
        if self.DATABASE_READ_SECONDS and server_limit >= self.DATABASE_READ_SECONDS:
            raise ConfigError(
                f"DATABASE_LOCK_WAIT_SECONDS and DATABASE_STATEMENT_SECONDS ({server_limit}) must be below "
                f"DATABASE_READ_SECONDS ({self.DATABASE_READ_SECONDS})"
            )
        longest = self.DATABASE_CONNECT_SECONDS + (self.DATABASE_READ_SECONDS or server_limit)
        if longest >= GUNICORN_TIMEOUT_SECONDS:
            raise ConfigError(
                f"DATABASE_CONNECT_SECONDS + DATABASE_READ_SECONDS ({longest}) must be below gunicorn's "
                f"worker timeout ({GUNICORN_TIMEOUT_SECONDS} s)"
            )

    @property
    def database_timeouts(self) -> DatabaseTimeouts:
        return DatabaseTimeouts(
            connect=self.DATABASE_CONNECT_SECONDS,
            read=self.DATABASE_READ_SECONDS,
            lock_wait=self.DATABASE_LOCK_WAIT_SECONDS,
            statement=self.DATABASE_STATEMENT_SECONDS,
        )

    @property
    def is_production(self) -> bool:
        return self.APP_ENV == "production"

    @property
    def instance_dir(self) -> Path:
        return Path(self.INSTANCE_DIR) if self.INSTANCE_DIR else PROJECT_ROOT / "instance"

    @property
    def content_dir(self) -> Path:
        return Path(self.CONTENT_DIR) if self.CONTENT_DIR else PROJECT_ROOT / "content"

    @property
    def upload_dir(self) -> Path:
        return Path(self.UPLOAD_DIR) if self.UPLOAD_DIR else self.instance_dir / "uploads"

    @property
    def subscribe_templates(self) -> dict[str, str]:
        """Subscribe-message kind -> WeChat template id, for the kinds that are configured."""
        templates = {"case_status": self.WECHAT_TEMPLATE_CASE_STATUS, "article": self.WECHAT_TEMPLATE_ARTICLE}
        return {kind: tid for kind, tid in templates.items() if tid}

    @property
    def database_url(self) -> str:
        return self.DATABASE_URL or f"sqlite:///{self.instance_dir / 'qingpu.sqlite3'}"

    @property
    def wechat_configured(self) -> bool:
        return bool(self.WECHAT_APP_ID and self.WECHAT_APP_SECRET)

    @property
    def embedded(self) -> bool:
        """The embedded default: SQLite, in-process jobs, no WeChat credentials, not production."""
        return not self.is_production and self.database_url.startswith("sqlite")


def documented_keys() -> dict[str, tuple[Any, str]]:
    """Each key with its default and its description, for the README and its check."""
    return {f.name: (f.default, f.metadata["doc"]) for f in fields(Config)}


def get_config() -> Config:
    """The Config of the current app (for views, commands and jobs; services are passed what they need)."""
    config: Config = current_app.config["QINGPU"]
    return config
