"""Bot fixtures: one Bot per test session on the project's content, with a small gazetteer of our own."""

from __future__ import annotations

import pytest

from bot import Bot
from tests.support.bot import CONTENT, FIXTURES
from tests.support.shared_data import shared_file


@pytest.fixture(scope="session")
def bot() -> Bot:
    return Bot.load(CONTENT, gazetteer=FIXTURES / "estates.csv")


@pytest.fixture(scope="session")
def district_bot() -> Bot:
    return Bot.load(CONTENT, gazetteer=shared_file("data/qingpu_estates.csv"))
