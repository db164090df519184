"""Counting the SQL statements a piece of work sends: the `sent` fixture records those on the test's connection
between `start()` and `stop()`, so a test can bound them (and fail on an N+1 or a repeated read)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, event


class Sent:
    """The statements sent on the test's connection while recording, each on one line."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.recording = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.recording:
            self.statements.append(" ".join(statement.split()))

    def start(self) -> None:
        self.statements.clear()
        self.recording = True

    def stop(self) -> list[str]:
        self.recording = False
        return list(self.statements)


@pytest.fixture
def sent(connection: Connection) -> Iterator[Sent]:
    record = Sent()
    event.listen(connection, "before_cursor_execute", record)
    yield record
    event.remove(connection, "before_cursor_execute", record)
