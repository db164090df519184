"""The model and the content checks: deterministic training, the global jieba untouched, bad content refused."""

from __future__ import annotations

import shutil

import jieba
import numpy as np
import pytest
import scipy.sparse as sp

from bot.classifier import SoftmaxRegression
from bot.content import ContentError, load_content
from tests.support.bot import CONTENT


def test_training_is_deterministic():
    rng = np.random.default_rng(0)
    features = sp.csr_matrix(rng.random((40, 30)) * (rng.random((40, 30)) > 0.7))
    labels = ["a", "b", "c", "d"] * 10
    first = SoftmaxRegression(["a", "b", "c", "d"]).fit(features, labels)
    second = SoftmaxRegression(["a", "b", "c", "d"]).fit(features, labels)
    assert np.array_equal(first.weights, second.weights)
    probabilities = first.predict_proba(features)
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_the_global_jieba_is_untouched(bot):
    assert bot.tokenizer._jieba is not jieba.dt
    assert "宜达新居" not in jieba.dt.FREQ
    assert "宜达新居" in bot.tokenizer.words("宜达新居8号楼")


def test_citing_an_unknown_law_is_refused(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "bot").mkdir(exist_ok=True)
    (content / "bot" / "faq.toml").write_text(
        '[[faq]]\nid = "x"\ncategory = "illegal_construction"\nquestions = ["违建怎么办"]\nanswer = "拆。"\n'
        '[[faq.sources]]\nlaw = "不存在的条例"\n',
        encoding="utf-8",
    )
    with pytest.raises(ContentError, match="不存在的条例"):
        load_content(content)


def test_a_bad_training_line_is_refused(tmp_path):
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "bot").mkdir(exist_ok=True)
    (content / "bot" / "examples_extra.jsonl").write_text(
        '{"text": "违建", "intent": "complain"}\n', encoding="utf-8"
    )
    with pytest.raises(ContentError, match=r"examples_extra\.jsonl:1"):
        load_content(content)
