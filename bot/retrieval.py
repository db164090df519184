"""BM25 retrieval over FAQ questions and answers and legal-education articles, with answer/suggest/human decisions."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.content import Faq, Source

# Decision thresholds on the combined score (normalised BM25 in [0, 1] plus the classifier's vote).
# Chosen on our own FAQ, each question asked with itself left out of the index (its sibling questions
# are its paraphrases): about a third are answered outright, seven in ten of those with the very FAQ
# and most others with a sibling on the same topic; nearly all the rest get suggestions.
ANSWER_SCORE = 0.5
ANSWER_MARGIN = 0.12
SUGGEST_SCORE = 0.3
CATEGORY_WEIGHT = 0.35  # how much the complaint classifier's probability for an item's category adds
FULL_VOTE_TEXT_SCORE = 0.2  # below this text score the classifier's vote counts proportionally less
ANSWER_TEXT_WEIGHT = 0.3  # an FAQ answer's words count, but less than its questions' words
SUGGESTIONS = 3
UNKNOWN_WORD_WEIGHT = 0.5


@dataclass(frozen=True)
class Item:
    """One thing the bot can answer with: an FAQ or a legal-education article."""

    key: str  # faq:<id> or article:<id>
    category: str | None
    questions: tuple[str, ...]  # for an article, its title
    answer: str
    sources: tuple[Source, ...] = ()

    @property
    def title(self) -> str:
        return self.questions[0]


@dataclass
class Hit:
    item: Item
    score: float
    text_score: float


@dataclass
class Answer:
    """The reply to a question. `fallback` None: `answer` is an FAQ's (with its `sources`, each law in
    laws.toml) or an article's; "suggest": the closest questions are in `suggestions`; "human": hand the
    question to a person. `category` is the topic even then (for routing), None for greetings."""

    answer: str
    category: str | None
    sources: list[dict[str, str | None]]
    confidence: float
    fallback: str | None  # None: answered; "suggest": closest questions offered; "human": handed over
    suggestions: list[str] = field(default_factory=list)
    faq_id: str | None = None
    article_id: str | None = None


class Bm25:
    """Okapi BM25 over pre-tokenised documents; query scores are normalised by the query's own best
    possible score, so thresholds mean the same for short and long questions."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(documents)
        lengths = np.array([len(d) for d in documents], dtype=float)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        df: Counter[str] = Counter()
        for doc in documents:
            df.update(set(doc))
        self.idf = {t: math.log(1 + (self.size - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = {}
        for i, doc in enumerate(documents):
            norm = k1 * (1 - b + b * lengths[i] / average)
            for term, tf in Counter(doc).items():
                ids, weights = postings.setdefault(term, ([], []))
                ids.append(i)
                weights.append(self.idf[term] * tf * (k1 + 1) / (tf + norm))
        self.postings = {t: (np.array(ids), np.array(w)) for t, (ids, w) in postings.items()}
        self.unknown_idf = math.log(1 + (self.size + 0.5) / 0.5) if self.size else 1.0

    def scores(self, query: Iterable[str]) -> np.ndarray:
        """Each document's score divided by the query's own (its terms' IDF summed: what a document of
        average length that is exactly the query scores), capped at 1. A word the index has never seen
        counts in that sum at half the weight of the rarest word, so unrelated detail lowers the score."""
        scores = np.zeros(self.size)
        ideal = 0.0
        for term in set(query):
            if term in self.postings:
                ids, weights = self.postings[term]
                scores[ids] += weights
                ideal += self.idf[term]
            else:
                ideal += UNKNOWN_WORD_WEIGHT * self.unknown_idf
        return np.minimum(1.0, scores / ideal) if ideal else scores


class _Index:
    """An immutable index over a set of items; rebuilt whole and swapped in when articles change."""

    def __init__(self, items: Sequence[Item], terms: Callable[[str], list[str]]) -> None:
        self.items = list(items)
        question_docs, question_owner = [], []
        for position, item in enumerate(self.items):
            for question in item.questions:
                question_docs.append(terms(question))
                question_owner.append(position)
        self.questions = Bm25(question_docs)
        self.question_owner = np.array(question_owner, dtype=int)
        self.answers = Bm25([terms(item.answer) for item in self.items])

    def rank(self, query: list[str], category_votes: Mapping[str, float]) -> list[Hit]:
        if not self.items:
            return []
        best_question = np.zeros(len(self.items))
        if self.questions.size:
            np.maximum.at(best_question, self.question_owner, self.questions.scores(query))
        text_scores = np.minimum(1.0, best_question + ANSWER_TEXT_WEIGHT * self.answers.scores(query))
        votes = np.array(
            [category_votes.get(item.category, 0.0) if item.category else 0.0 for item in self.items]
        )
        # the classifier re-ranks plausible matches; it cannot make a weak word match look strong
        combined = text_scores + CATEGORY_WEIGHT * votes * np.minimum(1.0, text_scores / FULL_VOTE_TEXT_SCORE)
        order = np.argsort(-combined, kind="stable")
        return [
            Hit(self.items[i], float(combined[i]), float(text_scores[i])) for i in order[: SUGGESTIONS + 2]
        ]


class Retriever:
    """Answers questions from the FAQ and, when added, legal-education articles."""

    def __init__(self, faqs: Iterable[Faq], terms: Callable[[str], list[str]]) -> None:
        self._terms = terms
        self._faq_items = [
            Item(
                key=f"faq:{f.id}",
                category=f.category,
                questions=f.questions,
                answer=f.answer,
                sources=f.sources,
            )
            for f in faqs
        ]
        self._article_items: list[Item] = []
        self._lock = threading.Lock()
        self._index = _Index(self._faq_items, terms)

    def add_articles(self, articles: Iterable[Mapping[str, str]]) -> None:
        """Add or replace legal-education articles ({id, title, body, category}); the index is rebuilt
        aside and swapped in, so answers in flight keep using the old one."""
        with self._lock:
            by_id = {item.key: item for item in self._article_items}
            for article in articles:
                key = f"article:{article['id']}"
                by_id[key] = Item(
                    key=key,
                    category=article.get("category") or None,
                    questions=(str(article["title"]),),
                    answer=str(article.get("body", "")),
                )
            self._article_items = list(by_id.values())
            self._index = _Index([*self._faq_items, *self._article_items], self._terms)

    def search(self, text: str, category_votes: Mapping[str, float]) -> list[Hit]:
        return self.rank(self._terms(text), category_votes)

    def rank(self, terms: list[str], category_votes: Mapping[str, float]) -> list[Hit]:
        """The best few items for a query's terms, best first."""
        return self._index.rank(terms, category_votes)

    def decide(self, hits: list[Hit]) -> tuple[str | None, list[Hit]]:
        """(fallback, hits to show): answer with the top hit, offer the closest ones, or hand over."""
        if not hits or hits[0].score < SUGGEST_SCORE:
            return "human", []
        top = hits[0]
        runner_up = next((h for h in hits[1:] if h.item.key != top.item.key), None)
        margin = top.score - (runner_up.score if runner_up else 0.0)
        if top.score >= ANSWER_SCORE and margin >= ANSWER_MARGIN:
            return None, [top]
        return "suggest", hits[:SUGGESTIONS]
