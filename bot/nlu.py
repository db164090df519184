"""The Bot: loaded once per process, it understands a message (intent, category, place) and answers questions."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from bot.cache import CacheDir
from bot.classifier import SoftmaxRegression
from bot.content import INTENTS, OUT_OF_SCOPE, Content, Example, load_content, load_gazetteer
from bot.features import KeywordSpotter, Vectorizer
from bot.letters import Letter, file_letter
from bot.places import Gazetteer
from bot.reading import Part, Reader
from bot.retrieval import Answer, ArticleText, Item, Retriever, _Index
from bot.rules import (
    EMERGENCY_ANSWERS,
    asks_progress,
    construction_in_progress,
    detect_emergency,
    find_tracking_no,
    is_greeting,
)
from bot.text import SynonymFolder, Tokenizer

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"

# Long messages are also read sentence by sentence; shorter pieces (greetings, "您好") are skipped.
MIN_SENTENCE_CHARS = 4
# L2 penalty of the classifiers: weak, since the training texts are few and each is short.
L2 = 1e-4
# Training weights: taxonomy keywords and descriptions are short, certain, but not how residents write.
TAXONOMY_WEIGHT = 0.5
# Asking about progress takes a line or two; past this length a message describes a problem.
LONG_MESSAGE_CHARS = 60
# Messages whose understanding and answer a bot keeps (a quick reply, a related question, a common question is
# sent as the same text again and again); as many as the readings it keeps.
REMEMBERED_MESSAGES = 512

GREETING_ANSWER = "您好，我是青浦城管进社区小助手。您可以向我举报小区里的违法搭建、群租、占用楼道等问题，也可以问相关的法律规定。"
OUT_OF_SCOPE_ANSWER = (
    "这个问题不属于本次小区城管专项执法的范围。紧急情况请拨打110、119或120；"
    "押金、房租、装修合同、物业费、赔偿这类私人之间的纠纷，可以找居委会或街镇的人民调解委员会调解，"
    "调解不成可以向人民法院起诉；噪音、停车等其他事项请拨打12345市民服务热线。"
)
SUGGEST_ANSWER = "我不太确定您想问的是哪一个，您是不是想问："
HUMAN_ANSWER = "这个问题我暂时答不好，会请工作人员回复您；您也可以拨打12345市民服务热线咨询。"
PROGRESS_ANSWER = "查询进度请在小程序“我的举报”里查看，或把案件编号（如 QP20240501-0001）发给我。"


@dataclass
class Understanding:
    """What one message says. `category` is None for greetings and for progress queries that describe
    no matter; `confidence` is the category's probability. `emergency` ("fire", "gas", "fight", "injury",
    "danger") means: answer with 110/119/120 now (EMERGENCY_ANSWERS), the category is then out_of_scope.
    A place is an estate with its town (`street`, as in the estate CSV's street_or_town) and squad, or only
    a town, or, when the name is shared by estates of several towns, `candidates` [{estate, street}] and no
    guess.
    `building`, `unit` and `room` are numbers as text ("8", "3", "1502"; a lettered block is "B").
    `in_progress` says whether building work is going on now (rules.construction_in_progress): True, False
    (finished, old or stopped) or None (the message does not say)."""

    intent: str  # report | consult | progress | greeting | other
    category: str | None
    confidence: float
    emergency: str | None = None
    out_of_scope: bool = False
    estate: str | None = None
    street: str | None = None
    squad: str | None = None
    candidates: list[dict[str, str]] = field(default_factory=list)
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    tracking_no: str | None = None  # QPyyyymmdd-nnnn
    in_progress: bool | None = None
    evidence: str = ""  # the sentence that decided the category (see Classification)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Classification:
    """Which one of the taxonomy's codes (fourteen, out_of_scope among them) a message is filed under (never
    None: a message about nothing the bureau handles is out_of_scope), the probability of that code, and
    the part of the message that decided it, as the resident wrote it, so that a squad sees why."""

    category: str
    confidence: float
    evidence: str
    scores: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        return {"category": self.category, "confidence": self.confidence, "evidence": self.evidence}


@dataclass(frozen=True)
class _Models:
    """The features learnt from the training texts and the classifiers over them, trained at load time."""

    vectorizer: Vectorizer
    category: SoftmaxRegression
    intent: SoftmaxRegression | None


class Bot:
    """Build with `Bot.load(content_dir)` once per process; afterwards every method only reads, except
    `replace_articles` (and `add_articles`), which swaps in a new retrieval index."""

    def __init__(
        self,
        content: Content,
        gazetteer: Gazetteer,
        reader: Reader,
        models: _Models,
        retriever: Retriever,
    ) -> None:
        self.content = content
        self.gazetteer = gazetteer
        self.reader = reader
        self.tokenizer = reader.tokenizer
        self.models = models
        self.retriever = retriever
        self._vectors = lru_cache(maxsize=REMEMBERED_MESSAGES)(self._vectorise)
        self._decision = lru_cache(maxsize=REMEMBERED_MESSAGES)(self._decide)
        # both depend on the message alone (the models and the places are fixed once loaded) …
        self._understood = lru_cache(maxsize=REMEMBERED_MESSAGES)(self._understand)
        # … and the answers on the articles too: kept for one index, dropped when another is swapped in
        self._answers: tuple[_Index, Callable[[str], Answer]] | None = None

    @classmethod
    def load(
        cls,
        content_dir: Path = DEFAULT_CONTENT_DIR,
        gazetteer: Path | None = None,
        cache_dir: Path | None = None,
    ) -> Bot:
        """Read the content, build the tokenizer and place index, and train the models (a second or two).

        `cache_dir` is a folder of the caller's own where start-up work is kept between processes (jieba's
        prefix dictionary, the segmentation of the training texts, the trained models), which makes a
        start-up several times quicker; None keeps nothing on disk. The folder is created 0700 and used only
        when it is this user's with no access for anyone else (see bot.cache); else the bot is built
        without it. A bot loaded from the cache answers exactly as a freshly trained one."""
        cache = CacheDir.open(cache_dir)
        try:
            return cls._load(Path(content_dir), gazetteer, cache)
        finally:
            if cache is not None:
                cache.close()

    @classmethod
    def _load(cls, content_dir: Path, gazetteer: Path | None, cache: CacheDir | None) -> Bot:
        content = load_content(content_dir)
        estates = list(content.estates)
        if gazetteer is not None:
            estates += load_gazetteer(Path(gazetteer), content.towns)
        places = Gazetteer(estates, content.towns)
        synonyms = SynonymFolder(content.synonyms)
        spotter = KeywordSpotter(content.categories)
        tokenizer = Tokenizer(
            content.dictionary,
            words=[*places.words, *spotter.keywords, *synonyms.canonical_words],
            cache=cache,
        )

        reader = Reader(synonyms, tokenizer, spotter, places.mask)
        tokenizer.remember_segmentations()

        models_file = _models_file(content_dir, gazetteer, tokenizer.fingerprint)
        payload = cache.read(models_file) if cache is not None else None
        models = _models_from_bytes(payload) if payload is not None else None
        if models is None:
            models = _train(content, reader)
            if cache is not None:
                cache.write(models_file, _models_to_bytes(models))
        retriever = Retriever(content.faqs, reader.terms)
        tokenizer.stop_remembering()
        reader.read.cache_clear()  # training texts are not what residents will send
        return cls(content, places, reader, models, retriever)

    def forget(self) -> None:
        """Drop the messages remembered so far (the next read of any message starts afresh)."""
        self.reader.read.cache_clear()
        self._vectors.cache_clear()
        self._decision.cache_clear()
        self._understood.cache_clear()
        self._answers = None

    def terms(self, text: str) -> list[str]:
        """What retrieval indexes for a text (see Reading.terms)."""
        return self.reader.read(text).terms()

    # ------------------------------------------------------------------ understanding

    def category_scores(self, text: str) -> dict[str, float]:
        """Each category code's probability for a message (they sum to 1); see `_decide`."""
        return dict(zip(self.models.category.labels, self._decision(text)[0], strict=True))

    def _parts(self, text: str) -> list[Part]:
        """The parts of a message read on their own: those long enough to say something."""
        return [p for p in self.reader.read(text).parts if len(p.text) >= MIN_SENTENCE_CHARS]

    def _vectorise(self, text: str) -> sp.csr_matrix:
        """A message's feature rows, made once for both models: each part long enough to read on its own
        when there are several, then the message without its background, then the whole message (always
        the last row)."""
        reading = self.reader.read(text)
        parts = self._parts(text)
        rows = [p.features for p in parts] if len(parts) > 1 else []
        return self.models.vectorizer.transform([*rows, reading.foreground, reading.features])

    def _decide(self, text: str) -> tuple[tuple[float, ...], str]:
        """Each category's probability and the part of the letter that decided (as written).

        The model learnt from short messages, so a letter is read part by part and the parts' readings are
        weighed and filed by the bureau's conventions (bot.letters.file_letter)."""
        rows = self.models.category.predict_proba(self._vectors(text))
        reading = self.reader.read(text)
        parts = self._parts(text)
        if len(parts) > 1:
            pieces = [(p.text, p.written, p.role) for p in parts]
            by_part = rows[:-2]
        else:  # one part, or nothing long enough: the message is read whole
            pieces = [(reading.folded, parts[0].written if parts else reading.normalised, "subject")]
            by_part = rows[-2:-1]
        letter = Letter(reading.folded, pieces, by_part, rows[-2])
        probabilities, deciding = file_letter(self.models.category.labels, letter)
        return tuple(probabilities.tolist()), pieces[deciding][1]

    def classify(self, text: str) -> Classification:
        """The category a message is filed under (always one of the codes), with its probability and the
        part of the message that decided it, as the resident wrote it."""
        probabilities, evidence = self._decision(text)
        scores = dict(zip(self.models.category.labels, probabilities, strict=True))
        best = max(scores, key=scores.__getitem__)
        return Classification(best, round(scores[best], 4), evidence, scores)

    def understand(self, text: str) -> Understanding:
        """Intent, category with confidence, emergency, place and tracking number of one message. A message
        read before is not read again: its understanding is kept, and each caller gets a copy of its own."""
        understood = self._understood(text)
        return replace(understood, candidates=[dict(c) for c in understood.candidates])

    def _understand(self, text: str) -> Understanding:
        reading = self.reader.read(text)
        normalised = reading.normalised
        emergency = detect_emergency(normalised)
        tracking_no = find_tracking_no(normalised)
        classification = self.classify(text)
        category: str | None = classification.category
        confidence = classification.confidence
        if emergency:
            category, confidence = OUT_OF_SCOPE, 1.0
        intent = self._intent(text, normalised, emergency, tracking_no)
        if intent == "progress" and _is_letter(normalised, tracking_no):
            intent = "report"
        if intent == "greeting" or (intent == "progress" and confidence < 0.5):
            category, confidence = None, 0.0
        elif reading.empty and not emergency and not tracking_no:
            # only numbers, punctuation or emoji (perhaps just "8-2-1502"): nothing to classify
            intent, category, confidence = "other", None, 0.0
        place = self.gazetteer.find(text)
        return Understanding(
            intent=intent,
            category=category,
            confidence=round(confidence, 4),
            emergency=emergency,
            out_of_scope=category == OUT_OF_SCOPE,
            estate=place.estate,
            street=place.street,
            squad=place.squad,
            candidates=place.candidates,
            building=place.building,
            unit=place.unit,
            room=place.room,
            tracking_no=tracking_no,
            in_progress=construction_in_progress(normalised),
            evidence=classification.evidence if category else "",
        )

    @property
    def in_progress_categories(self) -> frozenset[str]:
        """The categories where building can be going on now: those with a shorter on-site limit for it."""
        return self.content.in_progress_categories

    def _intent(self, text: str, normalised: str, emergency: str | None, tracking_no: str | None) -> str:
        if is_greeting(normalised):
            return "greeting"
        if tracking_no or asks_progress(normalised):
            return "progress"
        if emergency:
            return "report"
        if self.models.intent is not None:
            probabilities = self.models.intent.predict_proba(self._vectors(text)[-1])[0]
            return self.models.intent.labels[int(np.argmax(probabilities))]
        return "consult" if _looks_like_question(normalised) else "report"

    # ------------------------------------------------------------------ answering

    def answer(self, text: str) -> Answer:
        """An FAQ or article answer with its citations, or the closest questions, or a hand-over. A question
        asked before is answered as then while the same articles are answered from (the answer is kept for
        the index in use, and each caller gets a copy of its own); once another set is swapped in, it is
        answered afresh."""
        index = self.retriever.index  # one set of articles for the whole answer, whatever is swapped in
        held = self._answers
        if held is None or held[0] is not index:  # a fresh memory; the old index is left to be collected
            answers = lru_cache(maxsize=REMEMBERED_MESSAGES)(partial(self._answer, index))
            held = self._answers = (index, answers)
        return _copy(held[1](text))

    def _answer(self, index: _Index, text: str) -> Answer:
        normalised = self.reader.read(text).normalised
        emergency = detect_emergency(normalised)
        if emergency:
            return Answer(EMERGENCY_ANSWERS[emergency], OUT_OF_SCOPE, [], 1.0, None)
        if is_greeting(normalised):
            return Answer(GREETING_ANSWER, None, [], 1.0, None)
        tracking_no = find_tracking_no(normalised)
        if (tracking_no or asks_progress(normalised)) and not _is_letter(normalised, tracking_no):
            return Answer(PROGRESS_ANSWER, None, [], 1.0, None)
        if self.reader.read(text).empty:
            return Answer(HUMAN_ANSWER, None, [], 0.0, "human")
        votes = self.category_scores(text)
        hits = index.rank(self.terms(text), votes)
        fallback, shown = self.retriever.decide(hits)
        best_category = max(votes, key=votes.__getitem__)
        if fallback is None:
            item = shown[0].item
            key = item.key.partition(":")[2]
            confidence = round(min(1.0, shown[0].score), 4)
            if item.is_article:
                return Answer(
                    answer=_article_answer(item),
                    category=item.category,
                    sources=[s.as_dict() for s in item.sources],
                    confidence=confidence,
                    fallback=None,
                    article_id=key,
                    article_slug=item.slug,
                    article_title=item.title,
                    related=self.retriever.related(hits, item),
                )
            return Answer(
                answer=item.answer,
                category=item.category,
                sources=[s.as_dict() for s in item.sources],
                confidence=confidence,
                fallback=None,
                suggestions=[],
                faq_id=key,
                related_articles=[
                    {"slug": a.slug or "", "title": a.title} for a in index.related(item.category)
                ],
                related=self.retriever.related(hits, item),
            )
        if best_category == OUT_OF_SCOPE and votes[OUT_OF_SCOPE] >= 0.5 and fallback == "human":
            return Answer(OUT_OF_SCOPE_ANSWER, OUT_OF_SCOPE, [], round(votes[OUT_OF_SCOPE], 4), None)
        if fallback == "suggest":
            suggestions = [h.item.title for h in shown]
            return Answer(
                answer=SUGGEST_ANSWER + "；".join(suggestions),
                category=shown[0].item.category,
                sources=[],
                confidence=round(min(1.0, shown[0].score), 4),
                fallback="suggest",
                suggestions=suggestions,
            )
        # Handing over still names the likely topic, for routing: the classifier's when it is sure,
        # else that of the closest FAQ when any words matched.
        category: str | None = best_category
        if votes[best_category] < 0.5 and hits and hits[0].text_score > 0:
            category = hits[0].item.category
        return Answer(HUMAN_ANSWER, category, [], round(votes[best_category], 4), "human")

    def replace_articles(self, articles: Iterable[ArticleText], version: Hashable | None = None) -> None:
        """Answer from exactly these published articles from now on, labelled `version` (whatever the caller
        compares: the database's index version). The new index is built aside and swapped in, so it is safe
        while answering; an article left out is never answered from again."""
        self.retriever.replace_articles(articles, version)

    @property
    def articles_version(self) -> Hashable | None:
        """The `version` of the articles answered from now (None: never given)."""
        return self.retriever.articles_version

    def add_articles(self, articles: Iterable[Mapping[str, str]]) -> None:
        """Make legal-education articles ({id, title, body, category}) answerable besides those there are;
        safe while answering."""
        self.retriever.add_articles(articles)


def _copy(answer: Answer) -> Answer:
    """An answer kept for later questions, with lists and dicts of its own for one caller."""
    return replace(
        answer,
        sources=[dict(source) for source in answer.sources],
        suggestions=list(answer.suggestions),
        related_articles=[dict(article) for article in answer.related_articles],
        related=list(answer.related),
    )


def _is_letter(normalised: str, tracking_no: str | None) -> bool:
    """A long message without a tracking number describes a problem even when it ends "nobody has dealt
    with it yet" (有没有人管): asking about progress takes a line or two."""
    return not tracking_no and len(normalised) > LONG_MESSAGE_CHARS


def _balanced(weights: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Sample weights that give every label about the same total weight (square-root damped)."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    mean = sum(counts.values()) / len(counts)
    return np.array([w * (mean / counts[label]) ** 0.5 for w, label in zip(weights, labels, strict=True)])


def _taxonomy_examples(content: Content) -> list[Example]:
    """Each category's name, description and keywords as short training texts."""
    examples = []
    for category in content.categories:
        intent = "other" if category.code == OUT_OF_SCOPE else "report"
        for text in (category.name, category.description, *category.keywords):
            if text:
                examples.append(Example(text=text, intent=intent, category=category.code))
    return examples


def _looks_like_question(text: str) -> bool:
    return any(
        marker in text
        for marker in ("?", "吗", "怎么", "如何", "能不能", "可不可以", "是否", "算不算", "多少", "哪些")
    )


def _article_answer(item: Item) -> str:
    """An article's answer: what it says in short, citing it by title."""
    return f"{item.summary or _excerpt(item.answer)}（摘自普法文章《{item.title}》）"


def _excerpt(body: str, limit: int = 120) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[:limit] + "…"


def _train(content: Content, reader: Reader) -> _Models:
    """The category and intent models, trained on our examples and the taxonomy's keywords."""

    def features(text: str) -> Counter[str]:
        return reader.read(text).features

    examples = [*content.examples, *_taxonomy_examples(content)]
    weights = np.array([TAXONOMY_WEIGHT if i >= len(content.examples) else 1.0 for i in range(len(examples))])
    raw = [features(e.text) for e in examples]
    vectorizer = Vectorizer(raw)
    matrix = vectorizer.transform(raw)
    labelled = [(i, e.category) for i, e in enumerate(examples) if e.category]
    labelled_rows = [i for i, _ in labelled]
    categories = [category for _, category in labelled]
    category_model = SoftmaxRegression(content.category_codes, l2=L2).fit(
        matrix[labelled_rows], categories, _balanced(weights[labelled_rows], categories)
    )
    intents = [e.intent for e in content.examples]
    intent_model = None
    if len(set(intents)) >= 2:
        rows = list(range(len(content.examples)))
        intent_model = SoftmaxRegression(list(INTENTS), l2=L2).fit(
            matrix[rows], intents, _balanced(weights[rows], intents)
        )
    return _Models(vectorizer, category_model, intent_model)


def _models_file(content_dir: Path, gazetteer: Path | None, tokenizer_fingerprint: str) -> str:
    """The cache file name of the models trained on exactly this content, code and dictionary."""
    digest = hashlib.sha256(tokenizer_fingerprint.encode())
    sources = sorted(Path(content_dir).rglob("*.toml")) + sorted(Path(content_dir).rglob("*.jsonl"))
    sources += sorted(Path(__file__).parent.glob("*.py"))
    if gazetteer is not None:
        sources.append(Path(gazetteer))
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(np.__version__.encode())
    return f"models-{digest.hexdigest()[:24]}.npz"


def _models_to_bytes(models: _Models) -> bytes:
    """The models as plain numpy arrays (np.savez; nothing that runs code when loaded), with their vocabulary
    and labels as JSON inside."""
    head: dict[str, object] = {"vocabulary": models.vectorizer.vocabulary}
    arrays = {"idf": models.vectorizer.idf, "block": models.vectorizer.block}
    for name, model in (("category", models.category), ("intent", models.intent)):
        if model is not None:
            head[name] = {"labels": model.labels, "l2": model.l2, "iterations": model.iterations}
            arrays[f"{name}_weights"], arrays[f"{name}_bias"] = model.weights, model.bias
    arrays["head"] = np.frombuffer(json.dumps(head, ensure_ascii=False).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _models_from_bytes(payload: bytes) -> _Models | None:
    """The models saved by _models_to_bytes, or None when the data is not that (it is then retrained)."""
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as saved:
            head = json.loads(saved["head"].tobytes())
            vectorizer = Vectorizer.from_arrays(head["vocabulary"], saved["idf"], saved["block"])
            classifiers: dict[str, SoftmaxRegression | None] = {"intent": None}
            for name in ("category", "intent"):
                if name in head:
                    weights = saved[f"{name}_weights"]
                    if weights.shape[0] != vectorizer.size:
                        raise ValueError("the model's weights do not fit the vocabulary")
                    classifiers[name] = SoftmaxRegression.from_weights(
                        [str(label) for label in head[name]["labels"]],
                        weights,
                        saved[f"{name}_bias"],
                        float(head[name]["l2"]),
                        int(head[name]["iterations"]),
                    )
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError):
        return None
    category = classifiers.get("category")
    if category is None:
        return None
    return _Models(vectorizer, category, classifiers["intent"])
