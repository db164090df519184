"""Bot fixtures: one Bot per test session on the project's content, with a small gazetteer of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import Bot
from tests.support.shared_data import shared_file

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def bot() -> Bot:
    return Bot.load(CONTENT, gazetteer=FIXTURES / "estates.csv")


@pytest.fixture(scope="session")
def district_bot() -> Bot:
    return Bot.load(CONTENT, gazetteer=shared_file("data/qingpu_estates.csv"))
