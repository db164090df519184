"""The chat bot: jieba NLU, retrieval and dialogue, loaded once per process; no web, database or network."""

from bot.content import ContentError
from bot.nlu import Bot, Classification, Understanding
from bot.retrieval import Answer

__all__ = ["Answer", "Bot", "Classification", "ContentError", "Understanding"]
