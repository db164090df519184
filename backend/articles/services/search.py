"""Searching the published articles: the query in jieba's words, ranked, with the matches highlighted."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import or_
from sqlalchemy.orm import Session

from backend.articles.models import Article
from backend.articles.rendering import (
    excerpt,
    highlight,
    plain_text,
)
from backend.articles.services.published import newest_first, published_query
from backend.pagination import MAX_PAGE, Page
from bot.text import STOPWORDS, Tokenizer, normalise

Words = Callable[[str], list[str]]  # a text's words (jieba's, via the bot's own tokenizer)


MAX_QUERY_WORDS = 8


# how much a word found in each part of an article counts
WEIGHTS = {"title": 6.0, "tags": 4.0, "summary": 3.0}


BODY_WEIGHT, BODY_REPEATS = 0.5, 5  # each occurrence in the text counts a little, up to five


@functools.cache
def search_words(content_dir: Path) -> Words:
    """jieba with our dictionary, as a tokenizer of the bot's own (never the global jieba), built once per
    process. It is a tokenizer apart from the bot's: search must not wait for the bot's models to train."""
    dictionary = Path(content_dir) / "bot" / "dictionary.txt"
    tokenizer = Tokenizer(dictionary if dictionary.exists() else None)
    return tokenizer.words


def query_words(query: str, words: Words) -> list[str]:
    """The words a query is searched by: jieba's, without stopwords, each once; single characters only when
    the query has nothing longer (拆 alone is a query; in 违建会被拆吗 it is noise)."""
    text = normalise(query)
    found = [w for w in dict.fromkeys(words(text)) if w not in STOPWORDS]
    longer = [w for w in found if len(w) > 1]
    chosen = longer or found
    if not chosen and text.strip():
        chosen = [text.strip()]
    return chosen[:MAX_QUERY_WORDS]


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    title_html: str  # the title with the matched words in <em>, everything else escaped
    excerpt_html: str  # the summary, or the piece of the text with the first match, the same way


def _score(article: Article, body: str, words: list[str]) -> float:
    title, summary, text = article.title.lower(), article.summary.lower(), body.lower()
    tags = [t.lower() for t in article.tags or []]
    score, matched = 0.0, 0
    for word in words:
        points = 0.0
        if word in title:
            points += WEIGHTS["title"]
        if any(word in tag for tag in tags):
            points += WEIGHTS["tags"]
        if word in summary:
            points += WEIGHTS["summary"]
        if repeats := text.count(word):
            points += 1.0 + BODY_WEIGHT * min(repeats, BODY_REPEATS)
        if points:
            matched += 1
            score += points
    return score * matched / len(words) if words else 0.0  # every word found ranks above some of them


def search_published(
    session: Session, query: str, words: Words, *, page: int = 1, per_page: int = 20
) -> tuple[list[str], Page[SearchHit]]:
    """Published articles that contain the query's words, best first (title, tags, summary, then text; more
    of the words above fewer; newer first on a tie), with the words highlighted. Returns the words too."""
    searched = query_words(query, words)
    if not searched:
        return [], Page([], max(page, 1), per_page, 0)
    contains = [
        column.contains(word, autoescape=True)
        for word in searched
        for column in (Article.title, Article.summary, Article.body)
    ]
    hits = []
    for article in session.scalars(newest_first(published_query().where(or_(*contains)))):
        body = plain_text(article.body)
        score = _score(article, body, searched)
        if score <= 0:
            continue
        in_summary = any(w in article.summary.lower() for w in searched)
        source = article.summary if in_summary else excerpt(body, searched)
        hits.append(
            SearchHit(
                article=article,
                score=round(score, 3),
                title_html=highlight(article.title, searched),
                excerpt_html=highlight(source, searched),
            )
        )
    hits.sort(key=lambda h: -h.score)  # stable: newest first among equals
    page = max(page, 1)
    start = (page - 1) * per_page
    items = hits[start : start + per_page] if page <= MAX_PAGE else []
    return searched, Page(items, page, per_page, len(hits))
