"""The rule-based stand-in NLU of tests/support, answering with related questions as the bot does."""

from __future__ import annotations

from tests.support.fake_nlu import FakeAnswer, FakeNlu


class RelatingNlu(FakeNlu):
    def __init__(self, related: list[str], suggestions: list[str] | None = None) -> None:
        self.related = related
        self.suggestions = suggestions or []

    def answer(self, text: str) -> FakeAnswer:
        answer = super().answer(text)
        if answer.fallback is None:
            answer.suggestions = self.suggestions
            answer.related = self.related
        return answer
