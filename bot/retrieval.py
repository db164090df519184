"""BM25 retrieval over FAQ questions and answers and legal-education articles, with answer/suggest/human decisions."""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bot.content import OUT_OF_SCOPE, Faq, Source

# The decision (Retriever.decide), on the combined score (normalised BM25 in [0, 1] plus the classifier's
# vote). The best item is answered directly when it is clearly the question asked:
#   - it leads the best rival on another topic by ANSWER_MARGIN, scoring at least ANSWER_SCORE (a near
#     paraphrase, or a question only one topic fits); or
#   - the runner-up agrees with it (see `Item.agrees`: same category; out-of-scope answers send the resident
#     to different places, so of those only civil disputes agree) and it leads the best rival on another
#     topic by AGREED_MARGIN, scoring at least AGREED_SCORE: whichever were picked, the resident would get
#     an answer on the right matter, and the others are offered as related questions.
# Neither when an agreeing item scores exactly the same (its words fit the question as well, and the
# classifier votes alike for both): a bare topic word such as 违建 fits many questions alike, it names a
# topic, not a question. Otherwise the closest items are offered when the best scores SUGGEST_SCORE, else a
# person takes over.
# Chosen leave-one-question-out on our own FAQ (each of its 921 questions asked with itself left out of its
# FAQ, the sibling questions being its paraphrases), over a grid of the four thresholds, for the most questions
# answered directly on topic less five times those answered off topic (an answer on the wrong matter costs
# more than a list to choose from), then checked on our held-back questions (tests/bot/heldout). That answers
# about 62% directly on topic (a third of all with the very FAQ) and 4% off topic, and 81% of the 74 held-back
# questions on topic and none off; the single rule before (score 0.5, margin 0.12 over any other FAQ)
# answered 32% on topic and 3.7% off of the FAQ as it was then, and 39% of the held-back questions.
ANSWER_SCORE = 0.4
ANSWER_MARGIN = 0.25
AGREED_SCORE = 0.15
AGREED_MARGIN = 0.1
SAME_TEXT_SCORE = 1e-6  # text scores this close are the same (rounding)
SUGGEST_SCORE = 0.3
RELATED_QUESTIONS = 3  # other FAQs' questions shown beneath a direct answer
RELATED_TEXT_SCORE = 0.1  # an FAQ that shares less of the question's words is no related question
# An out-of-scope answer that sends the resident to mediation or the court is about a civil dispute (deposits,
# rent, renovation contracts, property fees, compensation): all those point the same way.
CIVIL_REMEDIES = ("调解", "法院")
CATEGORY_WEIGHT = 0.35  # how much the complaint classifier's probability for an item's category adds
FULL_VOTE_TEXT_SCORE = 0.2  # below this text score the classifier's vote counts proportionally less
ANSWER_TEXT_WEIGHT = 0.3  # an FAQ answer's words count, but less than its questions' words
SUGGESTIONS = 3
UNKNOWN_WORD_WEIGHT = 0.5
RELATED_ARTICLES = 3  # published articles offered after an FAQ answer, on the answer's topic


@dataclass(frozen=True)
class Item:
    """One thing the bot can answer with: an FAQ or a legal-education article."""

    key: str  # faq:<id> or article:<id>
    category: str | None  # an article's first category
    questions: tuple[str, ...]  # for an article, its title (and its summary)
    answer: str  # for an article, its summary and body as plain text
    sources: tuple[Source, ...] = ()
    slug: str | None = None  # an article's
    summary: str = ""  # an article's
    categories: tuple[str, ...] = ()  # an article's, all of them
    civil: bool = False  # out of scope, a dispute between private parties (see CIVIL_REMEDIES)

    @property
    def title(self) -> str:
        return self.questions[0]

    @property
    def is_article(self) -> bool:
        return self.key.startswith("article:")

    @property
    def topics(self) -> tuple[str, ...]:
        """The categories the item is about (an FAQ has one)."""
        return self.categories or ((self.category,) if self.category else ())

    def agrees(self, other: Item) -> bool:
        """Whether answering with `other` instead would answer on the same matter: a category in common other
        than out_of_scope, whose answers each send the resident somewhere else (110, 120, 12333 …), except
        that civil disputes all send to mediation and the court."""
        if (set(self.topics) & set(other.topics)) - {OUT_OF_SCOPE}:
            return True
        return self.civil and other.civil


@dataclass(frozen=True)
class ArticleText:
    """A published legal-education article as the bot indexes it; `body` is plain text (the caller has read
    the Markdown), `sources` its legal basis."""

    id: str
    title: str
    body: str
    slug: str = ""
    summary: str = ""
    categories: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()


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
    article_slug: str | None = None  # the article answered from, its slug and title
    article_title: str | None = None
    # published articles on the topic of an FAQ answer, offered after it: [{slug, title}]
    related_articles: list[dict[str, str]] = field(default_factory=list)
    # with a direct answer, up to three other questions closest to the one asked, shown as 相关问题 beneath
    related: list[str] = field(default_factory=list)


class Bm25:
    """Okapi BM25 over pre-tokenised documents; query scores are normalised by the query's own best
    possible score, so thresholds mean the same for short and long questions."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.size = len(documents)
        counts = [Counter(doc) for doc in documents]
        lengths = np.array([len(d) for d in documents], dtype=float)
        average = float(lengths.mean()) if self.size and lengths.sum() else 1.0
        df: Counter[str] = Counter()
        for count in counts:
            df.update(count.keys())
        self.idf = {t: math.log(1 + (self.size - n + 0.5) / (n + 0.5)) for t, n in df.items()}
        # every (document, term) pair's weight at once, then cut into each term's postings (doc order kept):
        # rebuilding an index with the articles must take milliseconds, not a Python loop per pair
        terms = list(self.idf)
        number = {t: i for i, t in enumerate(terms)}
        doc_ids = np.array([i for i, count in enumerate(counts) for _ in count], dtype=int)
        term_ids = np.array([number[t] for count in counts for t in count], dtype=int)
        tf = np.array([n for count in counts for n in count.values()], dtype=float)
        norm = k1 * (1 - b + b * lengths / average)
        idf = np.array([self.idf[t] for t in terms])
        weights = idf[term_ids] * tf * (k1 + 1) / (tf + norm[doc_ids])
        order = np.argsort(term_ids, kind="stable")
        ids, weights = doc_ids[order], weights[order]
        ends = np.cumsum(np.bincount(term_ids, minlength=len(terms))).tolist()
        starts = [0, *ends][: len(ends)]  # (an empty index has no terms)
        self.postings = {
            t: (ids[start:end], weights[start:end]) for t, start, end in zip(terms, starts, ends, strict=True)
        }
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


@dataclass(frozen=True)
class _Doc:
    """An item with its text already cut into terms, kept between rebuilds so that only new text is cut."""

    item: Item
    questions: tuple[list[str], ...]
    answer: list[str]


class _Index:
    """An immutable index over a set of items, with the version of the articles it was built from; rebuilt
    whole and swapped in when articles change. FAQ answers and article bodies are scored apart (an article
    is far longer than an answer: one length average for both would shift every FAQ's score)."""

    def __init__(
        self,
        faqs: Sequence[_Doc],
        faq_answers: Bm25,
        articles: Sequence[_Doc] = (),
        version: Hashable | None = None,
    ) -> None:
        self.version = version
        docs = [*faqs, *articles]
        self.items = [doc.item for doc in docs]
        self.articles = [doc.item for doc in articles]
        question_docs, question_owner = [], []
        for position, doc in enumerate(docs):
            for terms in doc.questions:
                question_docs.append(terms)
                question_owner.append(position)
        self.questions = Bm25(question_docs)
        self.question_owner = np.array(question_owner, dtype=int)
        self.answers: list[tuple[slice, Bm25]] = [(slice(0, len(faqs)), faq_answers)]
        if articles:
            self.answers.append((slice(len(faqs), len(docs)), Bm25([doc.answer for doc in articles])))
        # each item's categories as numbers into `topics` (-1: none, which picks the vote vector's final 0)
        self.topics = sorted({topic for item in self.items for topic in item.topics})
        number = {topic: i for i, topic in enumerate(self.topics)}
        self.first_topic = np.array([number[i.topics[0]] if i.topics else -1 for i in self.items], dtype=int)
        more = [(position, number[t]) for position, i in enumerate(self.items) for t in i.topics[1:]]
        self.more_topics = (
            np.array([p for p, _ in more], dtype=int),
            np.array([t for _, t in more], dtype=int),
        )
        self.is_article = np.array([item.is_article for item in self.items], dtype=bool)

    def rank(self, query: list[str], category_votes: Mapping[str, float]) -> list[Hit]:
        if not self.items:
            return []
        best_question = np.zeros(len(self.items))
        if self.questions.size:
            np.maximum.at(best_question, self.question_owner, self.questions.scores(query))
        answer_scores = np.zeros(len(self.items))
        for positions, bm25 in self.answers:
            answer_scores[positions] = bm25.scores(query)
        text_scores = np.minimum(1.0, best_question + ANSWER_TEXT_WEIGHT * answer_scores)
        vector = np.array([*(category_votes.get(t, 0.0) for t in self.topics), 0.0])
        votes = vector[self.first_topic]  # an item's best vote among its categories
        if len(self.more_topics[0]):
            np.maximum.at(votes, self.more_topics[0], vector[self.more_topics[1]])
        # the classifier re-ranks plausible matches; it cannot make a weak word match look strong
        combined = text_scores + CATEGORY_WEIGHT * votes * np.minimum(1.0, text_scores / FULL_VOTE_TEXT_SCORE)
        order = np.argsort(-combined, kind="stable")
        # the best few, and enough FAQs among them to judge an FAQ's margin over other FAQs (see decide)
        shown = best = order[: SUGGESTIONS + 2]
        if self.articles:
            best_faqs = order[~self.is_article[order]][: SUGGESTIONS + 2]
            shown = np.concatenate([best, best_faqs[~np.isin(best_faqs, best)]])
        return [Hit(self.items[i], float(combined[i]), float(text_scores[i])) for i in shown]

    def related(self, category: str | None, limit: int = RELATED_ARTICLES) -> list[Item]:
        """Articles on `category`, those whose first category it is first, each group in the given order."""
        if not category:
            return []
        primary = [a for a in self.articles if a.category == category]
        secondary = [a for a in self.articles if a.category != category and category in a.categories]
        return [*primary, *secondary][:limit]


class Retriever:
    """Answers questions from the FAQ and legal-education articles. The set of articles is replaced whole
    (`replace_articles`) by building a new index aside and swapping it in: a question being answered keeps
    the index it started with."""

    def __init__(self, faqs: Iterable[Faq], terms: Callable[[str], list[str]]) -> None:
        self._terms = terms
        self._faq_docs = [
            self._doc(
                Item(
                    key=f"faq:{f.id}",
                    category=f.category,
                    questions=f.questions,
                    answer=f.answer,
                    sources=f.sources,
                    civil=_is_civil(f.category, f.answer),
                )
            )
            for f in faqs
        ]
        self._faq_answers = Bm25([doc.answer for doc in self._faq_docs])  # the same whatever the articles
        self._article_docs: dict[str, _Doc] = {}
        self._lock = threading.Lock()
        self._index = _Index(self._faq_docs, self._faq_answers)

    def _doc(self, item: Item) -> _Doc:
        return _Doc(item, tuple(self._terms(q) for q in item.questions), self._terms(item.answer))

    @property
    def index(self) -> _Index:
        """The index in use now; hold on to it to answer one question from one set of articles."""
        return self._index

    @property
    def articles_version(self) -> Hashable | None:
        """The version given with the set of articles answered from now (None: none given)."""
        return self._index.version

    def replace_articles(self, articles: Iterable[ArticleText], version: Hashable | None = None) -> None:
        """Answer from exactly these articles from now on (an article left out is never answered from again),
        labelled `version`. Text already indexed is not cut again."""
        items = [_article_item(a) for a in articles]
        with self._lock:
            kept = self._article_docs
            docs = {}
            for item in items:
                known = kept.get(item.key)
                docs[item.key] = known if known is not None and known.item == item else self._doc(item)
            self._swap(docs, version)

    def add_articles(self, articles: Iterable[Mapping[str, str]]) -> None:
        """Add or replace legal-education articles ({id, title, body, category}) and keep the others; the
        index is rebuilt aside and swapped in, so answers in flight keep using the old one. The set then has
        no version (replace_articles gives one)."""
        with self._lock:
            docs = dict(self._article_docs)
            for article in articles:
                category = article.get("category") or ""
                item = _article_item(
                    ArticleText(
                        id=str(article["id"]),
                        title=str(article["title"]),
                        body=str(article.get("body", "")),
                        categories=(category,) if category else (),
                    )
                )
                docs[item.key] = self._doc(item)
            self._swap(docs, None)

    def _swap(self, docs: dict[str, _Doc], version: Hashable | None) -> None:
        index = _Index(self._faq_docs, self._faq_answers, list(docs.values()), version)
        self._article_docs = docs
        self._index = index  # one reference assignment: readers see the old index or the new, whole

    def search(self, text: str, category_votes: Mapping[str, float]) -> list[Hit]:
        return self.rank(self._terms(text), category_votes)

    def rank(self, terms: list[str], category_votes: Mapping[str, float]) -> list[Hit]:
        """The best few items for a query's terms, best first."""
        return self._index.rank(terms, category_votes)

    def decide(self, hits: list[Hit]) -> tuple[str | None, list[Hit]]:
        """(fallback, hits to show): answer with the top hit, offer the closest ones, or hand over (see the
        rule at the top of the module).

        An FAQ's rivals are the other FAQs only: an article on the same matter is offered after the FAQ's
        answer, it is no rival reading of the question. An article's rivals are everything, so a close FAQ
        on another matter makes both offered."""
        if not hits:
            return "human", []
        top = hits[0]
        rivals = [
            h
            for h in hits[1:]
            if h.item.key != top.item.key and (top.item.is_article or not h.item.is_article)
        ]
        other_topic = next((h for h in rivals if not top.item.agrees(h.item)), None)
        lead = top.score - (other_topic.score if other_topic else 0.0)
        vague = any(
            abs(h.text_score - top.text_score) <= SAME_TEXT_SCORE and top.item.agrees(h.item) for h in rivals
        )
        if not vague and top.score >= ANSWER_SCORE and lead >= ANSWER_MARGIN:
            return None, [top]
        agreed = bool(rivals) and top.item.agrees(rivals[0].item)
        if agreed and not vague and top.score >= AGREED_SCORE and lead >= AGREED_MARGIN:
            return None, [top]
        if top.score < SUGGEST_SCORE:
            return "human", []
        return "suggest", hits[:SUGGESTIONS]

    @staticmethod
    def related(hits: list[Hit], answered: Item, limit: int = RELATED_QUESTIONS) -> list[str]:
        """The questions to show beneath a direct answer: the titles of the other FAQs closest to the question
        asked, best first, each once, none the answered item's (articles are offered as articles)."""
        seen = set(answered.questions)
        related: list[str] = []
        for hit in hits:
            title = hit.item.title
            if hit.item.is_article or hit.item.key == answered.key or title in seen:
                continue
            if hit.text_score < RELATED_TEXT_SCORE:
                continue
            seen.add(title)
            related.append(title)
            if len(related) == limit:
                break
        return related


def _article_item(article: ArticleText) -> Item:
    summary = " ".join(article.summary.split())
    categories = tuple(c for c in article.categories if c)
    return Item(
        key=f"article:{article.id}",
        category=categories[0] if categories else None,
        questions=(article.title, summary) if summary else (article.title,),
        answer=f"{summary}\n{article.body}" if summary else article.body,
        sources=article.sources,
        slug=article.slug or None,
        summary=summary,
        categories=categories,
        civil=_is_civil(categories[0] if categories else None, article.body),
    )


def _is_civil(category: str | None, answer: str) -> bool:
    return category == OUT_OF_SCOPE and any(remedy in answer for remedy in CIVIL_REMEDIES)
