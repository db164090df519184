"""Published articles in the bot, in every process: answered from once published and committed, never again once
withdrawn, in this process, in a separate process that did not restart (as a gunicorn worker) and in a
long-running RQ worker; the chat reply links the article cited and offers those on an FAQ answer's topic.

These tests commit for real (other processes must see the rows) and remove what they committed afterwards."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from rq import Queue
from sqlalchemy import delete, select, update

from backend.accounts.models import User
from backend.articles.index import PublishedArticles
from backend.articles.models import Article, ArticleIndexState, ArticleStatus
from backend.articles.services.published import bump_index_version
from backend.chat import loader
from backend.chat.loader import current_nlu, follow_published_articles
from backend.config import PROJECT_ROOT
from bot import Bot
from bot.retrieval import ArticleText
from tests.support.accounts import make_resident
from tests.support.bot import CONTENT
from tests.support.chat import CHAT_API
from tests.support.cleanup import purge_users

TITLE = "楼顶放蜂箱养蜜蜂，行不行？"
SUMMARY = "楼顶平台是全体业主共有的部位，在上面放蜂箱养蜜蜂既占用共用部位，又可能蜇伤邻居；物业应当劝阻。"
BODY = (
    "有居民在楼顶平台放了十几个**蜂箱**养蜜蜂。\n\n## 为什么不行\n\n楼顶平台属于物业共用部位，个人不能占用。"
)
QUESTION = "楼顶放蜂箱养蜜蜂可以吗"
FAQ_QUESTION = "楼道里堆放杂物违法吗"  # an FAQ of the same category (common_area_occupation) answers it
SOON = 5.0  # seconds: "within a few seconds" of the commit


class Committed:
    """Articles and residents committed for real, and the index version as it was, all put back at the end."""

    def __init__(self, app: Flask) -> None:
        self.database = app.extensions["db"]
        self.article_ids: list[int] = []
        self.user_ids: list[int] = []
        self.openids: list[str] = []
        with self.database.engine.connect() as conn:
            self.version_before = conn.scalar(
                select(ArticleIndexState.version).where(ArticleIndexState.id == 1)
            )  # None: no row yet

    def publish(self, slug: str) -> int:
        """Publish the bees article as the studio would: the row and the version bump in one transaction."""
        now = dt.datetime.now(dt.UTC)
        with self.database.sessionmaker() as session:
            article = Article(
                slug=slug,
                title=TITLE,
                summary=SUMMARY,
                body=BODY,
                categories=["common_area_occupation"],
                status=ArticleStatus.PUBLISHED,
                published_at=now,
            )
            session.add(article)
            session.flush()
            self.article_ids.append(article.id)
            bump_index_version(session, now)
            session.commit()
            return article.id

    def withdraw(self, article_id: int) -> None:
        now = dt.datetime.now(dt.UTC)
        with self.database.sessionmaker() as session:
            session.execute(
                update(Article)
                .where(Article.id == article_id)
                .values(status=ArticleStatus.WITHDRAWN, withdrawn_at=now)
            )
            bump_index_version(session, now)
            session.commit()

    def resident(self, name: str) -> str:
        with self.database.sessionmaker() as session:
            user, token = make_resident(session, f"{name}{uuid.uuid4().hex[:6]}")
            session.commit()
            self.user_ids.append(user.id)
            return token

    def clean_up(self) -> None:
        engine = self.database.engine
        with engine.connect() as conn:
            self.user_ids += list(conn.scalars(select(User.id).where(User.openid.in_(self.openids))))
        purge_users(engine, self.user_ids)
        with engine.begin() as conn:
            conn.execute(delete(Article).where(Article.id.in_(self.article_ids)))
            # the version as it was: a bot built from it answers from the articles as they were
            if self.version_before is None:
                conn.execute(delete(ArticleIndexState).where(ArticleIndexState.id == 1))
            else:
                conn.execute(
                    update(ArticleIndexState)
                    .where(ArticleIndexState.id == 1)
                    .values(version=self.version_before)
                )


@pytest.fixture
def committed(app: Flask) -> Iterator[Committed]:
    done = Committed(app)
    try:
        yield done
    finally:
        done.clean_up()


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    return Bot.load(CONTENT, cache_dir=tmp_path_factory.mktemp("bot-cache"))


@pytest.fixture
def bot_app(app: Flask, real_bot: Bot) -> Iterator[Flask]:
    """The suite's app with the real bot as its bot, and no test transaction around it (rows are committed)."""
    app.extensions["nlu"] = real_bot
    yield app
    del app.extensions["nlu"]


def _slug() -> str:
    return f"test-bees-{uuid.uuid4().hex[:8]}"


def _say(client: Any, token: str, text: str) -> dict[str, Any]:
    response = client.post(CHAT_API, json={"text": text}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    reply: dict[str, Any] = response.get_json()
    return reply


# ------------------------------------------------------------------------------------ in this process


def test_this_process_answers_from_an_article_once_published_and_never_once_withdrawn(
    bot_app: Flask, committed: Committed
) -> None:
    client = bot_app.test_client()
    token = committed.resident("普法")
    before = _say(client, token, QUESTION)
    assert before["article"] is None and TITLE not in before["text"]

    slug = _slug()
    article_id = committed.publish(slug)
    reply = _say(client, token, QUESTION)
    assert reply["article"] == {"slug": slug, "title": TITLE}
    assert SUMMARY in reply["text"] and f"《{TITLE}》" in reply["text"]
    # an FAQ's answer on the same topic offers it
    faq = _say(client, token, FAQ_QUESTION)
    assert faq["article"] is None
    assert {"slug": slug, "title": TITLE} in faq["articles"]
    assert "相关普法文章：" in faq["text"] and f"《{TITLE}》" in faq["text"]

    committed.withdraw(article_id)
    for text in (QUESTION, TITLE, FAQ_QUESTION):
        again = _say(client, token, text)
        assert again["article"] is None and TITLE not in again["text"], text
        assert all(a["slug"] != slug for a in again["articles"]) and TITLE not in again["quick_replies"]


def test_the_wechat_reply_job_cites_the_article(
    bot_app: Flask, committed: Committed, wechat_standin: Any, tmp_path: Path
) -> None:
    from backend import create_app
    from backend.chat.jobs import reply_on_wechat

    wechat = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": bot_app.config["QINGPU"].database_url,
            "INSTANCE_DIR": str(tmp_path),
            "WECHAT_APP_ID": wechat_standin.app_id,
            "WECHAT_APP_SECRET": wechat_standin.app_secret,
            "WECHAT_API_BASE_URL": wechat_standin.base_url,
        }
    )
    wechat.extensions["nlu"] = bot_app.extensions["nlu"]
    openid = _openid("wxjob")
    committed.openids.append(openid)
    committed.publish(_slug())
    try:
        with wechat.app_context():
            assert reply_on_wechat(openid, QUESTION) == "sent"
    finally:
        wechat.extensions["db"].engine.dispose()
    assert f"摘自普法文章《{TITLE}》" in wechat_standin.custom_messages[-1]["text"]["content"]


# ------------------------------------------------------------------------------------ the version check


class _Reads:
    """Stand-ins for the two database reads of follow_published_articles, counting them."""

    def __init__(self, version: int, delay: float = 0.0) -> None:
        self.version = version
        self.delay = delay
        self.loads = 0

    @contextmanager
    def reader(self) -> Iterator[None]:
        yield None

    def current_index_version(self, _session: None) -> int:
        return self.version

    def published_for_index(self, _session: None) -> PublishedArticles:
        self.loads += 1
        time.sleep(self.delay)
        return PublishedArticles(self.version, [ArticleText(id="1", slug="s", title=TITLE, body=BODY)])


def test_the_articles_are_read_only_when_their_version_changed(monkeypatch, real_bot: Bot) -> None:
    reads = _Reads(version=41)
    monkeypatch.setattr(loader, "current_index_version", reads.current_index_version)
    monkeypatch.setattr(loader, "published_for_index", reads.published_for_index)
    try:
        assert follow_published_articles(reads, real_bot) is True  # type: ignore[arg-type]
        assert (real_bot.articles_version, reads.loads) == (41, 1)
        for _ in range(3):
            assert follow_published_articles(reads, real_bot) is False  # type: ignore[arg-type]
        assert reads.loads == 1
        reads.version = 40  # any difference, not only a higher number (a restored database, say)
        assert follow_published_articles(reads, real_bot) is True  # type: ignore[arg-type]
        assert (real_bot.articles_version, reads.loads) == (40, 2)
    finally:
        real_bot.replace_articles([], version=None)


def test_threads_that_see_the_same_change_rebuild_once(monkeypatch, real_bot: Bot) -> None:
    reads = _Reads(version=42, delay=0.3)
    monkeypatch.setattr(loader, "current_index_version", reads.current_index_version)
    monkeypatch.setattr(loader, "published_for_index", reads.published_for_index)
    results: list[bool] = []
    start = threading.Barrier(4)

    def follow() -> None:
        start.wait()
        results.append(follow_published_articles(reads, real_bot))  # type: ignore[arg-type]

    threads = [threading.Thread(target=follow) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False, False, False, True]
        # the threads that waited read once more under the lock, found it done and did not rebuild
        assert real_bot.articles_version == 42 and reads.loads == 4
    finally:
        real_bot.replace_articles([], version=None)


def test_a_stand_in_bot_is_left_alone(app: Flask) -> None:
    from tests.support.fake_nlu import FakeNlu

    fake = FakeNlu()
    app.extensions["nlu"] = fake
    try:
        with app.app_context():
            assert current_nlu() is fake
    finally:
        del app.extensions["nlu"]


# ------------------------------------------------------------------------------------ other processes

# A process that serves the chat endpoint as one gunicorn worker does, started once and never restarted: the
# app and its bot built before serving (as `gunicorn --preload` does), then one request per line of stdin.
_WORKER = """
import json, sys
from backend import create_app
from backend.chat.loader import prepare_for_fork
app = create_app(json.loads(sys.argv[1]))
prepare_for_fork(app)
client = app.test_client()
print("READY", flush=True)
for line in sys.stdin:
    asked = json.loads(line)
    response = client.post(
        "/api/mp/v1/bot/messages",
        json={"text": asked["text"]},
        headers={"Authorization": "Bearer " + asked["token"]},
    )
    print("REPLY " + json.dumps({"status": response.status_code, **response.get_json()}), flush=True)
"""


class _Process:
    """A child process whose stdout lines are read by a thread, so that waiting for one can time out."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            args,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(target=self._pump, args=(self.popen.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.popen.stderr, self.errors.append), daemon=True).start()

    @staticmethod
    def _pump(stream: Any, put: Any) -> None:
        for line in stream:
            put(line.rstrip("\n"))

    def line(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no {prefix!r} line in {timeout} s; stderr:\n" + "\n".join(self.errors[-40:])
                ) from None
            if line.startswith(prefix):
                return line[len(prefix) :]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()  # this test's own child, by its pid
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _env(app: Flask, tmp_path: Path, **settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": app.config["QINGPU"].database_url,
        "INSTANCE_DIR": str(tmp_path),
        "PYTHONPATH": str(PROJECT_ROOT),
        **settings,
    }


def test_a_worker_process_that_did_not_restart_answers_from_the_article_and_stops_when_withdrawn(
    app: Flask, committed: Committed, tmp_path: Path
) -> None:
    token = committed.resident("进程")
    settings = {
        "APP_ENV": "testing",
        "DATABASE_URL": app.config["QINGPU"].database_url,
        "REDIS_URL": "",
        "INSTANCE_DIR": str(tmp_path),
    }
    worker = _Process([sys.executable, "-c", _WORKER, json.dumps(settings)], _env(app, tmp_path))
    try:
        worker.line("READY", timeout=120)  # started, its bot built, before the article exists

        def ask(text: str) -> dict[str, Any]:
            assert worker.popen.stdin is not None
            worker.popen.stdin.write(json.dumps({"token": token, "text": text}) + "\n")
            worker.popen.stdin.flush()
            reply: dict[str, Any] = json.loads(worker.line("REPLY ", timeout=60))
            assert reply["status"] == 200, reply
            return reply

        assert ask(QUESTION)["article"] is None

        slug = _slug()
        article_id = committed.publish(slug)
        published_at = time.monotonic()
        reply = ask(QUESTION)
        assert time.monotonic() - published_at < SOON
        assert reply["article"] == {"slug": slug, "title": TITLE} and f"《{TITLE}》" in reply["text"]

        committed.withdraw(article_id)
        withdrawn_at = time.monotonic()
        after = ask(QUESTION)
        assert time.monotonic() - withdrawn_at < SOON
        assert after["article"] is None and TITLE not in after["text"]
        assert all(a["slug"] != slug for a in ask(FAQ_QUESTION)["articles"])
    finally:
        worker.stop()


def _openid(tag: str) -> str:
    return ("o" + tag + uuid.uuid4().hex)[:28].ljust(28, "0")


@pytest.mark.needs_redis
def test_a_running_rq_worker_answers_wechat_from_the_article_and_stops_when_withdrawn(
    app: Flask, committed: Committed, redis_url: str, wechat_standin: Any, tmp_path: Path
) -> None:
    """A real `flask worker` (each job in a forked work horse), started before publishing and never restarted."""
    name = f"test-articles-{uuid.uuid4().hex[:8]}"
    redis = Redis.from_url(redis_url)
    jobs = Queue(name, connection=redis)
    openid = _openid("rq")
    committed.openids.append(openid)
    env = _env(
        app,
        tmp_path,
        REDIS_URL=redis_url,
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
    )
    flask = str(Path(sys.executable).with_name("flask"))
    worker = _Process([flask, "--app", "backend", "worker", name], env)

    def ask(text: str, timeout: float) -> str:
        sent = len(wechat_standin.custom_messages)
        jobs.enqueue("backend.chat.jobs.reply_on_wechat", openid, text, result_ttl=0)
        deadline = time.monotonic() + timeout
        while len(wechat_standin.custom_messages) == sent:
            assert worker.popen.poll() is None, "\n".join(worker.errors[-40:])
            assert time.monotonic() < deadline, "no reply; worker stderr:\n" + "\n".join(worker.errors[-40:])
            time.sleep(0.05)
        content: str = wechat_standin.custom_messages[-1]["text"]["content"]
        return content

    try:
        assert TITLE not in ask(QUESTION, timeout=120)  # the worker is up, its bot built without the article

        article_id = committed.publish(_slug())
        assert f"摘自普法文章《{TITLE}》" in ask(QUESTION, timeout=SOON)

        committed.withdraw(article_id)
        assert TITLE not in ask(QUESTION, timeout=SOON)
        assert TITLE not in ask(FAQ_QUESTION, timeout=SOON)
    finally:
        worker.stop()
        jobs.delete(delete_jobs=True)
        for key in redis.scan_iter(f"rq:*:{name}"):  # the queue's registries
            redis.delete(key)
        with app.extensions["db"].engine.connect() as conn:
            for user_id in conn.scalars(select(User.id).where(User.openid == openid)):
                redis.delete(f"qingpu:chat:{user_id}:wechat")
