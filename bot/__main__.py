"""Command line: `python -m bot classify|answer|eval|bench`; classify and answer read and write JSON Lines."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from bot.cache import default_cache_dir
from bot.nlu import DEFAULT_CONTENT_DIR, Bot


def classify_record(bot: Bot, text: str) -> dict[str, object]:
    u = bot.understand(text)
    c = bot.classify(text)
    return {
        "intent": u.intent,
        "category": c.category,
        "confidence": c.confidence,
        "evidence": c.evidence,
        "estate": u.estate,
        "street": u.street,
        "squad": u.squad,
        "candidates": u.candidates,
        "in_progress": u.in_progress,
    }


def answer_record(bot: Bot, text: str) -> dict[str, object]:
    a = bot.answer(text)
    return {
        "answer": a.answer,
        "category": a.category,
        "sources": a.sources,
        "confidence": a.confidence,
        "fallback": a.fallback,
        "suggestions": a.suggestions,
        "related": a.related,
    }


def run_lines(lines: Iterable[str], handle: Callable[[str], dict[str, object]]) -> Iterator[str]:
    """One output line per non-blank input line, in input order; a bad line gets an `error`, not a crash."""
    for line in lines:
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise ValueError("expected an object with a string `text`")
        except ValueError as exc:
            yield json.dumps({"id": None, "error": str(exc)}, ensure_ascii=False)
            continue
        yield json.dumps({"id": row.get("id"), **handle(row["text"])}, ensure_ascii=False)


def _serve(bot: Bot, handle: Callable[[Bot, str], dict[str, object]], stdin: TextIO, stdout: TextIO) -> None:
    for out in run_lines(stdin, lambda text: handle(bot, text)):
        stdout.write(out + "\n")
        stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--content", type=Path, default=DEFAULT_CONTENT_DIR, help="content folder (default: content/)"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache_dir(),
        help="private folder (0700) for the start-up cache (default: %(default)s)",
    )
    parser.add_argument("--no-cache", action="store_true", help="keep nothing on disk: train at every start")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help='{"id","text"} lines → intent, category and place')
    classify.add_argument(
        "--gazetteer", type=Path, help="estate CSV: estate,street_or_town,address[,aliases]"
    )
    commands.add_parser("answer", help='{"id","text"} lines → answer, citations and fallback')
    evaluate = commands.add_parser(
        "eval",
        help="accuracy on labelled complaints and legal questions",
        description="Accuracy on labelled complaints and legal questions, files given by path, e.g. the "
        "held-out set kept with the tests: python -m bot eval --complaints tests/bot/heldout/complaints.jsonl "
        "--questions tests/bot/heldout/legal_questions.jsonl",
    )
    evaluate.add_argument(
        "--complaints",
        type=Path,
        required=True,
        help='JSON Lines of {"title", "body", "label", "label_confidence"}, '
        "e.g. tests/bot/heldout/complaints.jsonl",
    )
    evaluate.add_argument(
        "--questions",
        type=Path,
        required=True,
        help='JSON Lines of {"question", "accept": [category, …]}, e.g. tests/bot/heldout/legal_questions.jsonl',
    )
    evaluate.add_argument("--gazetteer", type=Path, help="also measure places on messages generated from it")
    evaluate.add_argument(
        "--articles",
        type=Path,
        help="answer from these legal-education articles too, as the service does with those it publishes "
        "(default: the content folder's articles/, which the embedded service seeds)",
    )
    evaluate.add_argument("--no-articles", action="store_true", help="answer from the FAQ alone")
    bench = commands.add_parser("bench", help="start-up time, memory and per-message latency")
    bench.add_argument("--gazetteer", type=Path)
    bench.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args(argv)
    logging.getLogger("jieba").setLevel(logging.WARNING)  # the CLI's stderr is for errors only
    logging.basicConfig(format="python -m bot: %(message)s", level=logging.WARNING)
    files = [getattr(args, "gazetteer", None)]
    if args.command == "eval":
        files += [args.complaints, args.questions]
    missing = next((path for path in files if path is not None and not path.is_file()), None)
    if missing is not None or not args.content.is_dir():
        what = f"no such file: {missing}" if missing is not None else f"no such folder: {args.content}"
        print(f"bot {args.command}: {what}", file=sys.stderr)
        return 2

    if args.command == "bench":
        from bot.bench import run_bench

        return run_bench(args.content, args.gazetteer, args.messages, sys.stdout)
    cache_dir = None if args.no_cache else args.cache_dir
    bot = Bot.load(args.content, getattr(args, "gazetteer", None), cache_dir=cache_dir)
    if args.command == "classify":
        _serve(bot, classify_record, sys.stdin, sys.stdout)
    elif args.command == "answer":
        _serve(bot, answer_record, sys.stdin, sys.stdout)
    else:
        from bot.evaluate import index_articles, run_eval

        if not args.no_articles:
            index_articles(bot, args.articles or args.content / "articles")
        run_eval(bot, args.complaints, args.questions, args.gazetteer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
