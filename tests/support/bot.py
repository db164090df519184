"""Paths the bot's tests read: the project's content and the tests' own small fixtures (a gazetteer …)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "content"
FIXTURES = REPO / "tests" / "bot" / "fixtures"
