"""The bot in the embedded default, as `make run` serves it: built at first use, from the estates of its own
SQLite file, by the request or the in-process job that needs it."""

from __future__ import annotations

from backend import create_app, migrate
from backend.seed import seed_content

API = "/api/mp/v1"


def embedded_app(tmp_path, **settings: object):
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    migrate.upgrade(url)
    app = create_app(
        {"APP_ENV": "development", "DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path), **settings}
    )
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        seed_content(session, app.config["QINGPU"].content_dir)
        session.commit()
    return app


def test_the_first_chat_message_builds_the_bot_from_the_database_and_is_answered(tmp_path) -> None:
    app = embedded_app(tmp_path)
    client = app.test_client()
    token = client.post(API + "/auth/dev-login", json={"nickname": "小王"}).get_json()["token"]

    # the login's transaction holds SQLite's write lock: the bot's gazetteer must not wait for it
    reply = client.post(
        API + "/bot/messages",
        json={"text": "康虹花园8号楼楼顶有人在搭阳光房"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.get_json()
    assert "照片" in reply.get_json()["text"]  # estate and building understood: on to the photos
    [gazetteer] = tmp_path.glob("bot-gazetteer-*.csv")
    assert "康虹花园" in gazetteer.read_text(encoding="utf-8") and not list(tmp_path.glob("tmp*.csv"))
    # the bot's start-up cache is in the instance folder, private to the service, and holds only data
    cache = tmp_path / "cache" / "bot"
    assert cache.stat().st_mode & 0o777 == 0o700
    assert len(list(cache.glob("models-*.npz"))) == 1 and not list(cache.glob("*.pickle"))
    app.extensions["db"].engine.dispose()


def test_the_first_wechat_reply_job_builds_the_bot_without_waiting_on_its_own_transaction(
    tmp_path, wechat_standin
) -> None:
    from backend.chat.jobs import reply_on_wechat

    app = embedded_app(
        tmp_path,
        APP_ENV="testing",
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
    )
    with app.app_context():
        assert reply_on_wechat("oEmbeddedUser000000000000001", "在自家露台搭阳光房违法吗？") == "sent"
    assert "规划" in wechat_standin.custom_messages[0]["text"]["content"]
    app.extensions["db"].engine.dispose()
