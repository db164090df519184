"""Reading a message once for every model: normalised, synonyms folded, cut into sentences and the letter's
parts (bot.letters: the subject and the background), words and features."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from bot.features import KeywordSpotter, boundary_pairs, content_features, form_features
from bot.letters import ROLE_WEIGHTS, Role, clauses, sentences
from bot.text import STOPWORDS, SynonymFolder, Tokenizer, normalise

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Part:
    """A run of clauses of one sentence that play the same part in the letter: the background clauses
    together, the others (what is done where, requests, plain narration) together, so that a clause like
    在楼顶平台上 stays with the 种满了蔬菜 that follows it. `role` is the strongest of its clauses'."""

    text: str  # as the models read it
    written: str  # as the resident wrote it (normalised), for showing as evidence
    role: Role
    words: tuple[str, ...]
    features: Counter[str]


@dataclass(frozen=True)
class Reading:
    normalised: str  # for rules: full-width folded, lower case
    folded: str  # for models: estate names masked, synonyms rewritten to their canonical word
    sentences: tuple[str, ...]
    sentence_words: tuple[tuple[str, ...], ...]
    parts: tuple[Part, ...]  # in order; a one-clause message is one part
    features: Counter[str]  # the whole message's
    foreground: Counter[str]  # the features of the message without its background parts

    @property
    def empty(self) -> bool:
        """Nothing to read: no words or characters, only punctuation, numbers or emoji."""
        return not any(f.startswith(("w:", "c:")) for f in self.features)

    @property
    def words(self) -> list[str]:
        return [w for words in self.sentence_words for w in words]

    def terms(self) -> list[str]:
        """What retrieval indexes (see `retrieval_terms`)."""
        return retrieval_terms(self.sentences, self.words)


def retrieval_terms(sentences: Sequence[str], words: Sequence[str]) -> list[str]:
    """What retrieval indexes: the words without stop words or bare numbers, and the character bigrams,
    which still match when two phrasings are segmented differently."""
    kept = [w for w in words if w not in STOPWORDS and not w.isdigit()]
    bigrams = [
        "#" + run[i : i + 2] for sentence in sentences for run in _CJK_RUN.findall(sentence)
        for i in range(len(run) - 1)
    ]  # fmt: skip
    return kept + bigrams


class Reader:
    """Reads messages with our tokenizer and synonyms; remembers the last few hundred, so that
    understanding and answering the same message cut it only once."""

    def __init__(
        self,
        synonyms: SynonymFolder,
        tokenizer: Tokenizer,
        spotter: KeywordSpotter,
        mask: Callable[[str], str] = str,
        cache: int = 512,
    ) -> None:
        self.synonyms = synonyms
        self.mask = mask
        self.tokenizer = tokenizer
        self.spotter = spotter
        self.read = lru_cache(maxsize=cache)(self._read)

    def terms(self, text: str) -> list[str]:
        """What retrieval indexes for a text, read without the parts and features that classifying needs:
        indexing the FAQ and the articles at start-up reads a thousand texts."""
        folded = self.synonyms.fold(self.mask(normalise(text)))
        found = sentences(folded)
        return retrieval_terms(found, [w for s in found for w in self.tokenizer.words(s)])

    def _read(self, text: str) -> Reading:
        normalised = normalise(text)
        folded = self.synonyms.fold(self.mask(normalised))
        pieces = clauses(folded, normalised)
        # runs of clauses of one sentence, background apart from the rest: (sentence, background?) → clauses
        runs: list[list[int]] = []
        for i, clause in enumerate(pieces):
            previous = pieces[runs[-1][-1]] if runs else None
            if (
                previous is not None
                and previous.sentence == clause.sentence
                and (previous.role == "background") == (clause.role == "background")
            ):
                runs[-1].append(i)
            else:
                runs.append([i])
        # one jieba call per sentence: it never joins words across a comma, so each clause's words are
        # those of the sentence that fall inside it
        folded_sentences = sentences(folded)
        sentence_words = [self.tokenizer.words(s) for s in folded_sentences]
        starts = [_offsets(s, words) for s, words in zip(folded_sentences, sentence_words, strict=True)]
        clause_words = [
            [
                w
                for w, at in zip(sentence_words[c.sentence], starts[c.sentence], strict=True)
                if c.start <= at < c.end
            ]
            for c in pieces
        ]
        said = [content_features(c.text, w, self.spotter) for c, w in zip(pieces, clause_words, strict=True)]
        parts = []
        for run in runs:
            part_text = "，".join(pieces[i].text for i in run)
            features = _summed([said[i] for i in run], part_text, [clause_words[i] for i in run])
            role = max((pieces[i].role for i in run), key=ROLE_WEIGHTS.__getitem__)
            run_words = tuple(w for i in run for w in clause_words[i])
            parts.append(
                Part(part_text, "，".join(pieces[i].written for i in run), role, run_words, features)
            )
        whole = parts[0].features if len(parts) == 1 else _summed(said, folded, clause_words)
        told = [i for i, c in enumerate(pieces) if c.role != "background"]
        if told and len(told) < len(pieces):
            foreground = _summed(
                [said[i] for i in told],
                "。".join(pieces[i].text for i in told),
                [clause_words[i] for i in told],
            )
        else:
            foreground = whole
        return Reading(
            normalised,
            folded,
            tuple(folded_sentences),
            tuple(tuple(ws) for ws in sentence_words),
            tuple(parts),
            whole,
            foreground,
        )


def _summed(said: list[list[str]], text: str, words: list[list[str]]) -> Counter[str]:
    """The features of a text made of clauses, from the clauses' own: all of them, the word pairs across
    their joins, and how the whole text is put."""
    return Counter([*chain.from_iterable(said), *boundary_pairs(words), *form_features(text)])


def _offsets(text: str, words: list[str]) -> list[int]:
    """Where each word starts in the text it was cut from (the words are in order; what lies between them
    is punctuation and spaces)."""
    out, position = [], 0
    for word in words:
        at = text.find(word, position)
        if at < 0:  # cannot happen with jieba's words; keep the word with the clause it follows
            at = position
        out.append(at)
        position = at + len(word)
    return out
