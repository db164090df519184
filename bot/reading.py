"""Reading a message once for every model: normalised, synonyms folded, cut into clauses, words and features."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from bot.features import KeywordSpotter, raw_features
from bot.text import STOPWORDS, SynonymFolder, Tokenizer, normalise

# Clause boundaries: jieba never joins words across them, so cutting here first changes no word.
_SENTENCE = re.compile(r"[。！？!?；;\n]+")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


@dataclass(frozen=True)
class Reading:
    normalised: str  # for rules: full-width folded, lower case
    folded: str  # for models: estate names masked, synonyms rewritten to their canonical word
    sentences: tuple[str, ...]
    sentence_words: tuple[tuple[str, ...], ...]
    sentence_features: tuple[Counter[str], ...]
    features: Counter[str]  # the whole message's

    @property
    def empty(self) -> bool:
        """Nothing to read: no words or characters, only punctuation, numbers or emoji."""
        return not any(f.startswith(("w:", "c:")) for f in self.features)

    @property
    def words(self) -> list[str]:
        return [w for words in self.sentence_words for w in words]

    def terms(self) -> list[str]:
        """What retrieval indexes: the words without stop words or bare numbers, and the character
        bigrams, which still match when two phrasings are segmented differently."""
        words = [w for w in self.words if w not in STOPWORDS and not w.isdigit()]
        bigrams = [
            "#" + run[i : i + 2] for sentence in self.sentences for run in _CJK_RUN.findall(sentence)
            for i in range(len(run) - 1)
        ]  # fmt: skip
        return words + bigrams


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

    def _read(self, text: str) -> Reading:
        normalised = normalise(text)
        folded = self.synonyms.fold(self.mask(normalised))
        sentences = tuple(s for s in (p.strip() for p in _SENTENCE.split(folded)) if s)
        words = tuple(tuple(self.tokenizer.words(s)) for s in sentences)
        features: tuple[Counter[str], ...]
        if len(sentences) == 1:
            features = (raw_features(sentences[0], words[0], self.spotter),)
            return Reading(normalised, folded, sentences, words, features, features[0])
        features = tuple(raw_features(s, w, self.spotter) for s, w in zip(sentences, words, strict=True))
        whole = raw_features(folded, [w for ws in words for w in ws], self.spotter)
        return Reading(normalised, folded, sentences, words, features, whole)
