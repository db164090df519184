"""The bot in the embedded default, as `make run` serves it: built at the first chat message, from the
estates of its own SQLite file, inside the request that needs it."""

from __future__ import annotations

from backend import create_app, migrate
from backend.seed import seed_content

API = "/api/mp/v1"


def test_the_first_chat_message_builds_the_bot_from_the_database_and_is_answered(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.sqlite3'}"
    migrate.upgrade(url)
    app = create_app({"APP_ENV": "development", "DATABASE_URL": url, "INSTANCE_DIR": str(tmp_path)})
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        seed_content(session, app.config["QINGPU"].content_dir)
        session.commit()
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
    app.extensions["db"].engine.dispose()
