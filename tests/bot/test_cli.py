"""The command line: JSON Lines in and out, input order kept; the library imports no web or database code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content import load_content
from tests.support.bot import CONTENT, FIXTURES, REPO

CODES = set(load_content(CONTENT).category_codes)

MESSAGES = [
    {"id": "a", "text": "宜达新居8号楼有人在楼顶搭阳光房"},
    {"id": 2, "text": "你好"},
    {"id": "c", "text": "阳光花园楼道堆满了杂物"},
    {"id": "d", "text": "楼下着火了"},
    {"id": "e", "text": "垃圾不分类罚多少钱"},
]


@pytest.fixture(scope="module", autouse=True)
def user_cache(tmp_path_factory: pytest.TempPathFactory):
    """The command line's per-user cache ($XDG_CACHE_HOME/qingpu-bot), in a folder of the tests' own."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder / "qingpu-bot"


def _command(*args: str, lines: list[str] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=dict(os.environ),
    )


def _run(*args: str, lines: list[str]) -> list[dict]:
    result = _command(*args, lines=lines)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_classify_round_trip_keeps_order():
    out = _run(
        "classify", "--gazetteer", str(FIXTURES / "estates.csv"),
        lines=[json.dumps(m, ensure_ascii=False) for m in MESSAGES] + ["not json"],
    )  # fmt: skip
    assert [o["id"] for o in out] == [m["id"] for m in MESSAGES] + [None]
    keys = {
        "id",
        "intent",
        "category",
        "confidence",
        "evidence",
        "estate",
        "street",
        "squad",
        "candidates",
        "in_progress",
    }
    assert all(set(o) == keys for o in out[:-1])
    assert out[-1]["error"]
    assert (out[0]["estate"], out[0]["street"], out[0]["squad"]) == ("宜达新居", "夏阳街道", "夏阳中队")
    assert out[0]["category"] == "illegal_construction"
    assert out[1]["intent"] == "greeting"
    assert all(o["category"] in CODES for o in out[:-1])  # one of the codes, a greeting too
    assert out[0]["evidence"]
    assert out[2]["estate"] is None and len(out[2]["candidates"]) == 2
    assert out[3]["category"] == "out_of_scope"
    assert out[0]["in_progress"] is None and out[2]["in_progress"] is None  # 在楼顶搭: a place, not a time


def test_answer_round_trip_keeps_order():
    out = _run("answer", lines=[json.dumps(m, ensure_ascii=False) for m in MESSAGES])
    assert [o["id"] for o in out] == [m["id"] for m in MESSAGES]
    keys = {"id", "answer", "category", "sources", "confidence", "fallback", "suggestions", "related"}
    assert all(set(o) == keys for o in out)
    assert "119" in out[3]["answer"]
    # a direct answer carries the closest other questions, none when it offers suggestions instead
    assert all(len(o["related"]) <= 3 for o in out)
    assert all(not o["related"] for o in out if o["fallback"] is not None)
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


def test_the_command_line_keeps_its_cache_in_a_private_per_user_folder(user_cache: Path) -> None:
    _run("classify", lines=[json.dumps(MESSAGES[0], ensure_ascii=False)])
    assert user_cache.is_dir() and (user_cache.stat().st_mode & 0o777) == 0o700
    assert {p.name.split("-")[0] for p in user_cache.iterdir()} == {"jieba", "models", "segmentations"}


def test_a_cache_folder_open_to_others_is_not_used_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir()
    folder.chmod(0o777)
    result = _command(
        "--cache-dir", str(folder), "classify", lines=[json.dumps(MESSAGES[0], ensure_ascii=False)]
    )
    assert result.returncode == 0 and json.loads(result.stdout)["category"] == "illegal_construction"
    assert "is not used" in result.stderr and "777" in result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            [
                "eval",
                "--complaints",
                "nowhere/complaints.jsonl",
                "--questions",
                "tests/bot/heldout/legal_questions.jsonl",
            ],
            "bot eval: no such file: nowhere/complaints.jsonl",
        ),
        (
            ["eval", "--complaints", "tests/bot/heldout/complaints.jsonl", "--questions", "nowhere.jsonl"],
            "bot eval: no such file: nowhere.jsonl",
        ),
        (["classify", "--gazetteer", "nowhere.csv"], "bot classify: no such file: nowhere.csv"),
        (["--content", "nowhere", "answer"], "bot answer: no such folder: nowhere"),
    ],
)
def test_a_missing_file_is_one_line_not_a_traceback(args: list[str], line: str) -> None:
    result = _command(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


def test_eval_help_says_what_to_pass() -> None:
    result = _command("eval", "--help")
    assert result.returncode == 0
    assert "tests/bot/heldout/complaints.jsonl" in result.stdout and "JSON Lines" in result.stdout
