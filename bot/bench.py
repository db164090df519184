"""Benchmark: start-up time and memory in a fresh process, and classify+answer latency per message."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import psutil

from bot.nlu import Bot

_STARTUP = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from bot import Bot
bot = Bot.load(Path(sys.argv[1]), Path(sys.argv[2]) if sys.argv[2] else None, Path(sys.argv[3]))
seconds = time.perf_counter() - start
import psutil
print(json.dumps({"seconds": seconds, "rss": psutil.Process().memory_info().rss}))
"""

_OPENINGS = ("", "你好，", "举报：", "您好，我要反映一下，", "请问", "麻烦处理一下，", "")
_COMPLAINTS = (
    "{estate}{b}号楼有人{kw}，已经好几天了",
    "我们{estate}{kw}的问题很严重，希望城管来管一管",
    "{kw}这种情况怎么处理？",
    "{kw}违法吗，会罚多少钱",
    "{estate}{b}栋{r}室{kw}，物业说管不了",
    "楼下邻居{kw}，影响我们正常生活，{estate}",
)
_OTHERS = (
    "我的投诉QP2024050{d}-000{d}处理得怎么样了",
    "谢谢",
    "在吗",
    "小区门口的路灯坏了好几天",
    "楼上每天晚上很吵，装修噪音受不了",
    "{estate}有人在打架",
    "快递总是放在门口丢了",
)


def generate_messages(bot: Bot, count: int, seed: int = 1) -> list[str]:
    """Messages shaped like residents' (complaints with keywords and estates, questions from the FAQ,
    greetings, progress queries), long and short, deterministic for a seed."""
    rng = random.Random(seed)
    keywords = [(c.code, k) for c in bot.content.categories for k in c.keywords]
    estates = [e.name for e in bot.gazetteer.estates] or ["小区"]
    questions = [q for f in bot.content.faqs for q in f.questions] or ["违建怎么处理"]
    messages = []
    for _ in range(count):
        roll = rng.random()
        values = {
            "estate": rng.choice(estates),
            "kw": rng.choice(keywords)[1],
            "b": rng.randint(1, 30),
            "r": rng.choice((101, 502, 1502)),
            "d": rng.randint(1, 9),
        }
        if roll < 0.6:
            text = rng.choice(_OPENINGS) + rng.choice(_COMPLAINTS).format(**values)
            if rng.random() < 0.2:  # the long, detailed complaints residents sometimes write
                text += "".join(
                    rng.choice(_COMPLAINTS).format(**values) + "。" for _ in range(rng.randint(3, 8))
                )
        elif roll < 0.85:
            text = rng.choice(_OPENINGS) + rng.choice(questions)
        else:
            text = rng.choice(_OTHERS).format(**values)
        messages.append(text)
    return messages


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _startup(content_dir: Path, gazetteer: Path | None, cache_dir: Path) -> dict[str, float]:
    """Seconds and resident memory of importing the bot and loading it, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP, str(content_dir), str(gazetteer or ""), str(cache_dir)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def run_bench(content_dir: Path, gazetteer: Path | None, count: int, out: TextIO) -> int:
    # a cache folder of the bench's own: the first start-up finds it empty (cold), the next ones fill (warm)
    with tempfile.TemporaryDirectory(prefix="qingpu-bot-bench-") as folder:
        cache_dir = Path(folder) / "cache"
        cold = _startup(content_dir, gazetteer, cache_dir)
        startups = [_startup(content_dir, gazetteer, cache_dir) for _ in range(3)]
        bot = Bot.load(content_dir, gazetteer, cache_dir)
    messages = generate_messages(bot, count)
    for text in messages[:50]:  # warm up
        bot.understand(text)
        bot.answer(text)
    latencies = []
    for text in messages:
        start = time.perf_counter()
        bot.understand(text)
        bot.answer(text)
        latencies.append((time.perf_counter() - start) * 1000)
    rss = psutil.Process().memory_info().rss
    seconds = sorted(s["seconds"] for s in startups)
    out.write(f"start-up (import + Bot.load, fresh process), empty cache: {cold['seconds']:.2f} s\n")
    out.write(
        f"start-up (import + Bot.load, fresh process), warm cache: {' / '.join(f'{s:.2f}' for s in seconds)} s "
        "(3 runs)\n"
    )
    out.write(f"resident memory after load: {max(s['rss'] for s in startups) / 2**20:.0f} MB\n")
    out.write(f"resident memory after {count} messages: {rss / 2**20:.0f} MB\n")
    out.write(
        f"classify+answer per message over {count} messages: p50 {_percentile(latencies, 0.5):.2f} ms, "
        f"p99 {_percentile(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms\n"
    )
    return 0
