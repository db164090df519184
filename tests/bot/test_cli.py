"""The command line: JSON Lines in and out, input order kept; the library imports no web or database code."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.bot.conftest import FIXTURES, REPO

MESSAGES = [
    {"id": "a", "text": "宜达新居8号楼有人在楼顶搭阳光房"},
    {"id": 2, "text": "你好"},
    {"id": "c", "text": "阳光花园楼道堆满了杂物"},
    {"id": "d", "text": "楼下着火了"},
    {"id": "e", "text": "垃圾不分类罚多少钱"},
]


def _run(*args: str, lines: list[str]) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_classify_round_trip_keeps_order():
    out = _run(
        "classify", "--gazetteer", str(FIXTURES / "estates.csv"),
        lines=[json.dumps(m, ensure_ascii=False) for m in MESSAGES] + ["not json"],
    )  # fmt: skip
    assert [o["id"] for o in out] == [m["id"] for m in MESSAGES] + [None]
    keys = {"id", "intent", "category", "confidence", "estate", "street", "squad", "candidates"}
    assert all(set(o) == keys for o in out[:-1])
    assert out[-1]["error"]
    assert (out[0]["estate"], out[0]["street"], out[0]["squad"]) == ("宜达新居", "夏阳街道", "夏阳中队")
    assert out[0]["category"] == "illegal_construction"
    assert out[1]["intent"] == "greeting"
    assert out[2]["estate"] is None and len(out[2]["candidates"]) == 2
    assert out[3]["category"] == "out_of_scope"


def test_answer_round_trip_keeps_order():
    out = _run("answer", lines=[json.dumps(m, ensure_ascii=False) for m in MESSAGES])
    assert [o["id"] for o in out] == [m["id"] for m in MESSAGES]
    keys = {"id", "answer", "category", "sources", "confidence", "fallback"}
    assert all(set(o) == keys for o in out)
    assert "119" in out[3]["answer"]
    assert all(o["fallback"] in (None, "suggest", "human") for o in out)


def test_the_library_imports_no_web_database_or_heavy_code():
    code = (
        "import sys; from pathlib import Path; from bot import Bot; Bot.load(Path('content'));"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in"
        " {'flask', 'sqlalchemy', 'backend', 'miniprogram_api', 'requests', 'urllib3', 'sklearn'});"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "[]"
