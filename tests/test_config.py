"""Config: safe defaults for a developer, secrets required in production, every key in the README."""

from __future__ import annotations

import re

import pytest

from backend.config import PROJECT_ROOT, Config, ConfigError, documented_keys


def test_defaults_are_the_embedded_mode() -> None:
    config = Config.from_env({})
    assert config.embedded
    assert config.database_url == f"sqlite:///{PROJECT_ROOT / 'instance' / 'qingpu.sqlite3'}"
    assert config.REDIS_URL == ""
    assert not config.wechat_configured


def test_values_come_from_the_environment_with_types() -> None:
    config = Config.from_env({"DATABASE_POOL_RECYCLE": "600", "REDIS_URL": " redis://127.0.0.1:6379/2 "})
    assert config.DATABASE_POOL_RECYCLE == 600
    assert config.REDIS_URL == "redis://127.0.0.1:6379/2"


def test_production_refuses_to_start_without_its_secrets() -> None:
    with pytest.raises(ConfigError) as err:
        Config.from_env({"APP_ENV": "production", "DATABASE_URL": "mysql+pymysql://u@h/db"})
    for key in ("SECRET_KEY", "REDIS_URL", "WECHAT_APP_ID", "WECHAT_APP_SECRET"):
        assert key in str(err.value)
    assert "DATABASE_URL" not in str(err.value)


def test_production_with_everything_is_not_embedded() -> None:
    config = Config.from_env(
        {
            "APP_ENV": "production",
            "SECRET_KEY": "x" * 32,
            "DATABASE_URL": "mysql+pymysql://u@h/db",
            "REDIS_URL": "redis://h:6379/0",
            "WECHAT_APP_ID": "wx123",
            "WECHAT_APP_SECRET": "s",
        }
    )
    assert not config.embedded and config.wechat_configured


def test_unknown_override_and_bad_env_are_refused() -> None:
    with pytest.raises(ConfigError):
        Config.from_env({}, NO_SUCH_KEY=1)
    with pytest.raises(ConfigError):
        Config.from_env({"APP_ENV": "staging"})


def test_readme_table_lists_every_key_with_its_default() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| ([^|]*) \|", readme, flags=re.MULTILINE))
    keys = documented_keys()
    assert set(rows) == set(keys)
    for key, (default, _doc) in keys.items():
        shown = rows[key].strip()
        if default == "":
            assert shown in {"(empty)", "—"}, key
        elif key != "SECRET_KEY":
            assert shown == f"`{default}`", key
