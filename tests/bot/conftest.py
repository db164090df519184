"""Bot fixtures: one Bot per test session on the project's content, with a small gazetteer of our own."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import Bot

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
FIXTURES = Path(__file__).parent / "fixtures"
# The public estate list lives beside the project (never copied into it); tests that need it skip without it.
SHARED_ESTATES = REPO.parent / "shared" / "data" / "qingpu_estates.csv"


@pytest.fixture(scope="session")
def bot() -> Bot:
    return Bot.load(CONTENT, gazetteer=FIXTURES / "estates.csv")


@pytest.fixture(scope="session")
def district_bot() -> Bot:
    if not SHARED_ESTATES.exists():
        pytest.skip(f"{SHARED_ESTATES} is not here")
    return Bot.load(CONTENT, gazetteer=SHARED_ESTATES)
