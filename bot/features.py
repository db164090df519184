"""Sparse TF-IDF features of a message: jieba words, character n-grams and taxonomy keyword hits."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise

import ahocorasick
import numpy as np
import scipy.sparse as sp

from bot.content import Category
from bot.text import STOPWORDS, leftmost_longest, normalise

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
# How a message is put, whatever it is about: a question, or a report of what someone is doing.
_FORMS = {
    "question": re.compile(
        r"[?吗呢]\s*$|吗[?,，。]|请问|想问|咨询|怎么办|怎么处理|如何|能不能|可不可以|可以吗|是否|算不算|违法吗|合法吗|多少钱|哪些|谁来管|找谁|需要.{0,12}吗"
    ),
    "question_end": re.compile(r"[?吗]\s*$"),
    "report": re.compile(
        r"举报|投诉|反映|有人|有户|有家|隔壁|楼下|楼上|对门|邻居|正在|天天|每天|一直|已经|快来|请.{0,6}(?:处理|管|查)"
    ),
}


class KeywordSpotter:
    """Which categories' taxonomy keywords a text contains (leftmost-longest, so 装修垃圾 is not also 装修)."""

    def __init__(self, categories: Iterable[Category]) -> None:
        automaton = ahocorasick.Automaton()
        owners: dict[str, set[str]] = {}
        for category in categories:
            for keyword in category.keywords:
                owners.setdefault(normalise(keyword), set()).add(category.code)
        for keyword, codes in owners.items():
            automaton.add_word(keyword, (len(keyword), keyword, tuple(sorted(codes))))
        automaton.make_automaton()
        self._automaton = automaton
        self.keywords = sorted(owners)

    def hits(self, text: str) -> list[tuple[str, tuple[str, ...]]]:
        """(keyword, category codes) for each keyword occurrence, longest first where they overlap."""
        return [(keyword, codes) for _, _, (keyword, codes) in leftmost_longest(self._automaton, text)]


def raw_features(text: str, words: Sequence[str], spotter: KeywordSpotter) -> Counter[str]:
    """Feature counts of a normalised, synonym-folded text and its jieba words."""
    return Counter([*content_features(text, words, spotter), *form_features(text)])


def content_features(text: str, words: Sequence[str], spotter: KeywordSpotter) -> list[str]:
    """What a text says: its words, word pairs, character bigrams and trigrams and taxonomy keywords. None
    of them crosses punctuation, so a text's are the sum of its clauses' (but for the word pairs that
    straddle two clauses, see `boundary_pairs`)."""
    kept = [w for w in words if w not in STOPWORDS and not w.isdigit()]
    features = ["w:" + w for w in kept]
    features += [f"b:{a}_{b}" for a, b in pairwise(kept)]
    for run in _CJK_RUN.findall(text):
        features += ["c:" + run[i : i + 2] for i in range(len(run) - 1)]
        features += ["c:" + run[i : i + 3] for i in range(len(run) - 2)]
    for keyword, codes in spotter.hits(text):
        features.append("kw:" + keyword)
        features += ["k:" + code for code in codes]
    return features


def form_features(text: str) -> list[str]:
    """How a text is put (a question, a report), which only the whole text tells."""
    return ["f:" + name for name, pattern in _FORMS.items() if pattern.search(text)]


def boundary_pairs(pieces: Sequence[Sequence[str]]) -> list[str]:
    """The word pairs from the last word of each piece to the first of the next, as a text made of the
    pieces in order has them and the pieces' own features do not."""
    kept = [[w for w in words if w not in STOPWORDS and not w.isdigit()] for words in pieces]
    kept = [words for words in kept if words]
    return [f"b:{a[-1]}_{b[0]}" for a, b in pairwise(kept)]


# Feature blocks, each L2-normalised on its own and then weighted, so that a long message's hundreds of
# character n-grams cannot drown its few taxonomy keywords (the evidence that carries across writers).
BLOCKS = {"w": 0, "b": 0, "f": 0, "c": 1, "kw": 2, "k": 2}
BLOCK_WEIGHTS = np.array([1.0, 1.0, 1.0])


class Vectorizer:
    """Vocabulary and IDF learnt from the training texts; sublinear TF; each block L2-normalised."""

    def __init__(self, documents: Sequence[Counter[str]], min_df: int = 2) -> None:
        df: Counter[str] = Counter()
        for doc in documents:
            df.update(doc.keys())
        # taxonomy keywords are kept even when rare: they are the evidence that carries across writers
        vocabulary = sorted(f for f, n in df.items() if n >= min_df or f.startswith(("k:", "kw:", "f:")))
        self.index = {f: i for i, f in enumerate(vocabulary)}
        total = len(documents)
        self.idf = np.array([math.log((1 + total) / (1 + df[f])) + 1.0 for f in vocabulary])
        self.block = np.array([BLOCKS[f.split(":", 1)[0]] for f in vocabulary], dtype=np.int64)

    @classmethod
    def from_arrays(cls, vocabulary: Sequence[str], idf: np.ndarray, block: np.ndarray) -> Vectorizer:
        """A vectorizer as learnt before (its vocabulary in column order, `idf` and `block`), not retrained."""
        if idf.shape != (len(vocabulary),) or block.shape != (len(vocabulary),):
            raise ValueError("a vectorizer's arrays must have one entry per feature")
        if not all(isinstance(f, str) for f in vocabulary):
            raise ValueError("a vectorizer's features are names")
        vectorizer = cls.__new__(cls)
        vectorizer.index = {f: i for i, f in enumerate(vocabulary)}
        if len(vectorizer.index) != len(vocabulary):
            raise ValueError("a vectorizer's vocabulary has repeated features")
        vectorizer.idf = idf.astype(np.float64, copy=False)
        vectorizer.block = block.astype(np.int64, copy=False)
        if len(block) and not (int(block.min()) >= 0 and int(block.max()) < len(BLOCK_WEIGHTS)):
            raise ValueError("a vectorizer's block numbers are out of range")
        return vectorizer

    @property
    def vocabulary(self) -> list[str]:
        """The features in column order."""
        return list(self.index)

    @property
    def size(self) -> int:
        return len(self.index)

    def transform(self, documents: Sequence[Counter[str]]) -> sp.csr_matrix:
        rows, columns, counts = [], [], []
        index = self.index
        for row, doc in enumerate(documents):
            for feature, count in doc.items():
                column = index.get(feature)
                if column is not None:
                    rows.append(row)
                    columns.append(column)
                    counts.append(count)
        row_ids = np.asarray(rows, dtype=np.int64)
        column_ids = np.asarray(columns, dtype=np.int64)
        weights = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[column_ids]
        # each (row, block) normalised to unit length and weighted, then each row to unit length
        blocks = len(BLOCK_WEIGHTS)
        cell = row_ids * blocks + self.block[column_ids]
        norms = np.sqrt(np.bincount(cell, weights=weights * weights, minlength=len(documents) * blocks))
        weights = weights / norms[cell] * BLOCK_WEIGHTS[self.block[column_ids]]
        row_norms = np.sqrt(np.bincount(row_ids, weights=weights * weights, minlength=len(documents)))
        weights /= row_norms[row_ids]
        return sp.csr_matrix(
            (weights, (row_ids, column_ids.astype(np.int32))), shape=(len(documents), self.size)
        )
