"""Text normalisation, synonym folding and the bot's own jieba tokenizer."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import ahocorasick
import jieba

from bot.cache import CacheDir
from bot.content import Synonym

_SPACES = re.compile(r"\s+")
_CJK_OR_ALNUM = re.compile(r"[\u4e00-\u9fffa-z0-9]")

# Words too common to tell questions apart in BM25 (our own short list: function words and chat filler).
_STOPWORD_TEXT = """
    的 了 吗 呢 吧 啊 呀 么 嘛 哦 哈 着 过 和 与 及 或 而 也 都 就 还 又 再 很 太 真 挺 比较 非常 特别
    我 我们 你 您 你们 他 她 它 他们 她们 人家 自己 这 那 这个 那个 这些 那些 这里 那里 这样 那样 这种 那种
    是 在 有 没 没有 不 会 能 要 想 让 给 把 被 对 向 从 到 于 以 为 因为 所以 但是 但 如果 就是 还是 可是
    请问 请 问 问一下 一下 咨询 想问 想问一下 你好 您好 谢谢 麻烦 老师 律师 小区 我家 家里 现在 已经
    一个 一些 什么 怎么 怎么办 怎样 如何 多少 哪些 哪里 哪个 为什么 吗 可以 能否 是否 应该 需要
    上 下 里 中 内 外 前 后 个 些 点 去 来 说 做 好 多 少 几 才 跟 往 用 得 地 等 将 该 各 每 其 此 之 所 且 并
    今年 今天 明天 昨天 时候 问题 情况 事情 东西 一直 总是 经常 好像 感觉 觉得 知道 希望 谢谢您 急 呀
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC), lower case, one space for any run of white space (one line
    break where the run had one: a title and its body stay separate sentences)."""
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    return _SPACES.sub(lambda m: "\n" if "\n" in m.group() else " ", text)


def leftmost_longest(
    automaton: ahocorasick.Automaton, text: str, keep: Callable[[tuple[Any, ...]], bool] | None = None
) -> list[tuple[int, int, tuple[Any, ...]]]:
    """Non-overlapping matches of an automaton whose values are (length, *payload), leftmost first and,
    where they start together, longest first: (start, end, payload). `keep` drops a match beforehand."""
    spans = [
        (end - value[0] + 1, end + 1, value[1:])
        for end, value in automaton.iter(text)
        if keep is None or keep(value[1:])
    ]
    spans.sort(key=lambda s: (s[0], -s[1]))
    chosen, position = [], 0
    for span in spans:
        if span[0] >= position:
            chosen.append(span)
            position = span[1]
    return chosen


class SynonymFolder:
    """Rewrites every variant to its canonical word (leftmost-longest), so the model sees one spelling.
    A group's `unless` words keep its variants as written in a message that contains any of them."""

    def __init__(self, synonyms: Iterable[Synonym]) -> None:
        self._automaton: ahocorasick.Automaton | None = None
        pairs: dict[str, tuple[str, tuple[str, ...]]] = {}
        for synonym in synonyms:
            canonical = normalise(synonym.canonical)
            unless = tuple(normalise(w) for w in synonym.unless if w)
            for variant in synonym.variants:
                variant = normalise(variant)
                if variant and variant != canonical:
                    pairs.setdefault(variant, (canonical, unless))
        if pairs:
            automaton = ahocorasick.Automaton()
            for variant, (canonical, unless) in pairs.items():
                automaton.add_word(variant, (len(variant), canonical, unless))
            automaton.make_automaton()
            self._automaton = automaton
        self.canonical_words = sorted({canonical for canonical, _ in pairs.values()})

    def fold(self, text: str) -> str:
        if self._automaton is None or not text:
            return text
        spans = leftmost_longest(
            self._automaton, text, keep=lambda p: not (p[1] and any(word in text for word in p[1]))
        )
        out, position = [], 0
        for start, end, (canonical, _unless) in spans:
            out.append(text[position:start])
            out.append(canonical)
            position = end
        out.append(text[position:])
        return "".join(out)


# jieba's main dictionary without its rarest words (frequency below this) loads in well under half the
# time; our own dictionary and place names are added back on top, so domain words are not lost.
MIN_WORD_FREQ = 10
# jieba's HMM guesses words missing from the dictionary; our features also carry character n-grams.
HMM = True


def _prefix_dictionary(min_word_freq: int, cache: CacheDir | None) -> tuple[dict[str, int], int]:
    """jieba's prefix dictionary (word and prefix frequencies, their total) of its bundled dictionary trimmed
    to words of at least `min_word_freq`: from our cache folder when there, else built here and saved there.
    jieba's own cache (a marshal file in the temporary folder) is never read or written."""
    bundled = Path(jieba.__file__).with_name("dict.txt")
    key = hashlib.sha256(f"{jieba.__version__}\0{bundled.stat().st_size}\0{min_word_freq}".encode())
    name = f"jieba-prefix-{key.hexdigest()[:24]}.json"
    if cache is not None:
        payload = cache.read(name)
        if payload is not None:
            with contextlib.suppress(ValueError, TypeError):
                freq, total = json.loads(payload)
                if (
                    isinstance(freq, dict)
                    and type(total) is int
                    and all(type(v) is int for v in freq.values())
                ):
                    return freq, total
    lines = [
        line
        for line in bundled.read_bytes().splitlines(keepends=True)
        if min_word_freq <= 1 or int(line.split(b" ", 2)[1]) >= min_word_freq
    ]
    freq, total = jieba.Tokenizer.gen_pfdict(io.BytesIO(b"".join(lines)))
    if cache is not None:
        cache.write(name, json.dumps([freq, total], ensure_ascii=False, separators=(",", ":")).encode())
    return freq, total


class Tokenizer:
    """A dedicated jieba Tokenizer with our dictionary and place names; the global jieba is never touched.
    With a `cache` folder, jieba's prefix dictionary and the segmentation of the training texts are kept
    there between processes (see remember_segmentations)."""

    def __init__(
        self,
        dictionary: Path | None = None,
        words: Iterable[str] = (),
        min_word_freq: int = MIN_WORD_FREQ,
        cache: CacheDir | None = None,
    ) -> None:
        self._known: dict[str, list[str]] = {}
        self._learning = False
        self._cache = cache
        words = list(words)
        bundled = Path(jieba.__file__).with_name("dict.txt")
        fingerprint = hashlib.sha256()
        for part in (
            str(bundled.stat().st_size), str(min_word_freq), jieba.__version__, str(HMM), *sorted(set(words))
        ):  # fmt: skip
            fingerprint.update(part.encode() + b"\0")
        if dictionary is not None:
            fingerprint.update(dictionary.read_bytes())
        self.fingerprint = fingerprint.hexdigest()[:24]
        self._jieba = jieba.Tokenizer(str(bundled))
        # filled in here, so that jieba's initialize() (and its marshal cache in the temporary folder)
        # never runs; with a cache folder, jieba's points at ours all the same, should anything call it
        self._jieba.FREQ, self._jieba.total = _prefix_dictionary(min_word_freq, cache)
        self._jieba.initialized = True
        if cache is not None:
            self._jieba.tmp_dir = str(cache.path)
        if dictionary is not None:
            self._jieba.load_userdict(str(dictionary))
        for word in words:
            # a high frequency keeps names whole; an explicit one avoids jieba's slow suggest_freq
            if len(word) >= 2 and self._jieba.FREQ.get(word, 0) < 1000:
                self._jieba.add_word(word, freq=1000)

    def words(self, text: str) -> list[str]:
        """jieba words of already normalised text, without punctuation or spaces."""
        known = self._known.get(text)
        if known is not None:
            return list(known)
        words = [w for w in self._jieba.lcut(text, HMM=HMM) if _CJK_OR_ALNUM.search(w)]
        if self._learning:
            self._known[text] = words
        return words

    def remember_segmentations(self) -> None:
        """Reuse (and, on a miss, later save) the segmentation of the training texts: segmenting them is
        most of the start-up time, and the result depends only on the dictionary, which names the file."""
        self._learning = True
        self._known = {}
        payload = self._cache.read(self._segmentations) if self._cache is not None else None
        if payload is None:
            return
        with contextlib.suppress(ValueError):
            known = json.loads(payload)
            if isinstance(known, dict) and all(
                isinstance(words, list) and all(isinstance(w, str) for w in words) for words in known.values()
            ):
                self._known = known
                self._learning = False  # a hit: nothing new to save

    @property
    def _segmentations(self) -> str:
        return f"segmentations-{self.fingerprint}.json"

    def stop_remembering(self) -> None:
        """Training is over: save what was learnt and keep the table read-only."""
        if self._learning and self._cache is not None:
            self._cache.write(
                self._segmentations, json.dumps(self._known, ensure_ascii=False).encode("utf-8")
            )
        self._learning = False
