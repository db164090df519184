"""The chat bot: a pure library (jieba NLU, retrieval) loaded once per process; no web, no database, no network."""

from bot.content import ContentError
from bot.nlu import Bot, Understanding
from bot.retrieval import Answer

__all__ = ["Answer", "Bot", "ContentError", "Understanding"]
