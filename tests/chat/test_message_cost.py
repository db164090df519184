"""What one message to the bot reads and writes: the authentication and the articles' index version on the
request's own connection (no second connection, no transaction of its own), and the conversation's state only
when there is one to keep. An upper bound on the statements, so that a query per article, per case or per
anything else fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Session

from backend.org.models import Estate
from backend.taxonomy.models import Category
from bot import Bot
from tests.support.bot import CONTENT
from tests.support.cases import report
from tests.support.chat import say
from tests.support.fake_nlu import FakeNlu

QUESTION = "小区里有人违章搭建阳光房，应该找谁管？"
# What a question answered outside any report may send: the authentication and the index version.
QUESTION_STATEMENTS = 2
# What a progress question may send whatever the number of reports: the authentication and the resident's reports
# with their categories, estates and squads (a page and its count, and one query for each of those at most).
PROGRESS_STATEMENTS = 6


@pytest.fixture(scope="module")
def real_bot(tmp_path_factory: pytest.TempPathFactory) -> Bot:
    return Bot.load(CONTENT, cache_dir=tmp_path_factory.mktemp("bot-cache"))


class Sent:
    """The statements sent on the request's connection (savepoints aside: they are the tests' own recipe) and
    the connections taken from the pool, while recording."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.checkouts = 0
        self.recording = False

    def statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.recording and not statement.lstrip().upper().startswith(
            ("SAVEPOINT", "RELEASE", "ROLLBACK TO")
        ):
            self.statements.append(" ".join(statement.split()))

    def checkout(self, *_args: Any) -> None:
        if self.recording:
            self.checkouts += 1


@pytest.fixture
def sent(app: Flask, connection: Connection) -> Iterator[Sent]:
    record = Sent()
    pool = app.extensions["db"].engine.pool
    event.listen(connection, "before_cursor_execute", record.statement)
    event.listen(pool, "checkout", record.checkout)
    yield record
    event.remove(connection, "before_cursor_execute", record.statement)
    event.remove(pool, "checkout", record.checkout)


@pytest.fixture
def bot_client(app: Flask, client: FlaskClient, real_bot: Bot) -> Iterator[FlaskClient]:
    app.extensions["nlu"] = real_bot
    yield client
    del app.extensions["nlu"]


def test_a_question_reads_the_version_on_the_requests_own_connection(
    bot_client: FlaskClient, resident: tuple[Any, str], sent: Sent
) -> None:
    _, token = resident
    first = say(bot_client, token, QUESTION)  # the bot's index follows the articles published now
    sent.recording = True
    reply = say(bot_client, token, QUESTION)
    sent.recording = False
    assert reply["text"] == first["text"] and reply["text"]  # answered, as before
    assert len(sent.statements) <= QUESTION_STATEMENTS, sent.statements
    assert any("article_index_state" in s for s in sent.statements), sent.statements  # read for this message
    assert sent.checkouts == 0  # no reader of its own: the request's connection answers


def test_each_message_reads_the_version_again(
    bot_client: FlaskClient, resident: tuple[Any, str], sent: Sent
) -> None:
    _, token = resident
    say(bot_client, token, QUESTION)
    sent.recording = True
    for _ in range(3):
        say(bot_client, token, QUESTION)
    assert sum("article_index_state" in s for s in sent.statements) == 3, sent.statements
    assert len(sent.statements) <= 3 * QUESTION_STATEMENTS, sent.statements


def test_progress_reads_the_residents_reports_in_as_many_statements_whatever_their_number(
    fake_client: FlaskClient, session: Session, resident: tuple[Any, str], sent: Sent
) -> None:
    """Each report of another estate (so of other towns and squads) and of another category: a query per
    report, or per estate, category or squad, would send more statements for more reports."""
    user, token = resident
    places = list(session.scalars(select(Estate).order_by(Estate.id)))
    categories = list(
        session.scalars(
            select(Category.code).where(Category.code != "out_of_scope").order_by(Category.position)
        )
    )
    numbers: list[str] = []
    counts = []
    for total in (2, 6):
        while len(numbers) < total:
            n = len(numbers)
            case = report(session, user, estate_id=places[n].id, category=categories[n])
            numbers.append(case.tracking_no)
        session.commit()
        sent.statements.clear()
        sent.recording = True
        reply = say(fake_client, token, "查进度")
        sent.recording = False
        assert all(number in reply["text"] for number in numbers), reply["text"]
        assert all(place.name in reply["text"] for place in places[:total]), reply["text"]
        counts.append(len(sent.statements))
    assert counts[0] == counts[1] <= PROGRESS_STATEMENTS, sent.statements


# ------------------------------------------------------------------------------------ the conversation's state


class CountingStore:
    """Records the loads and saves of the app's conversation store, which still does them."""

    def __init__(self, app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        store = app.extensions["chat_store"]
        load, save = store.load, store.save

        def counted_load(key: str) -> dict[str, Any]:
            self.calls.append(("load", None))
            state: dict[str, Any] = load(key)
            return state

        def counted_save(key: str, state: dict[str, Any]) -> None:
            self.calls.append(("save", dict(state)))
            save(key, state)

        monkeypatch.setattr(store, "load", counted_load)
        monkeypatch.setattr(store, "save", counted_save)

    def taken(self) -> list[tuple[str, dict[str, Any] | None]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def store(app: Flask, monkeypatch: pytest.MonkeyPatch) -> CountingStore:
    return CountingStore(app, monkeypatch)


@pytest.fixture
def fake_client(app: Flask, client: FlaskClient) -> Iterator[FlaskClient]:
    app.extensions["nlu"] = FakeNlu()
    yield client
    del app.extensions["nlu"]


def test_a_question_in_a_new_conversation_neither_reads_nor_writes_a_state(
    fake_client: FlaskClient, resident: tuple[Any, str], store: CountingStore
) -> None:
    _, token = resident
    reply = say(fake_client, token, "阳光房违法吗")
    assert reply["session_id"] and reply["text"]
    assert store.taken() == []


def test_a_state_is_read_when_the_conversation_goes_on_and_written_while_there_is_one(
    fake_client: FlaskClient, resident: tuple[Any, str], store: CountingStore
) -> None:
    _, token = resident
    started = say(fake_client, token, "我要反映问题")  # a new conversation, a draft to keep
    conversation = started["session_id"]
    assert [name for name, _ in store.taken()] == ["save"]

    described = say(fake_client, token, "楼顶有人在搭建阳光房", conversation)
    assert described["text"] != started["text"]  # the draft was found: the next step is asked
    calls = store.taken()
    assert [name for name, _ in calls] == ["load", "save"] and calls[1][1]

    cancelled = say(fake_client, token, "取消", conversation)
    assert "取消" in cancelled["text"]
    assert store.taken() == [("load", None), ("save", {})]  # emptied, so that nothing resumes it

    say(fake_client, token, "阳光房违法吗", conversation)
    assert store.taken() == [("load", None)]  # nothing kept, nothing to write

    say(fake_client, token, "楼顶有人在搭建阳光房", conversation)  # a report again: a draft to keep
    assert [name for name, _ in store.taken()] == ["load", "save"]
