"""The bot on a held-back set of our own (tests/bot/heldout/): messages and questions written for
measuring, never trained on. The issue's targets are measured on ../shared/eval/dev with
`python -m bot eval`; this keeps the same targets on text the model has not seen, so that a change to
the examples or the model that only fits the dev set shows up here."""

from __future__ import annotations

from pathlib import Path

from bot.content import load_content
from bot.evaluate import complaint_text, evaluate_complaints, evaluate_questions, read_jsonl

from .conftest import CONTENT

HELDOUT = Path(__file__).parent / "heldout"
COMPLAINTS = read_jsonl(HELDOUT / "complaints.jsonl")
QUESTIONS = read_jsonl(HELDOUT / "legal_questions.jsonl")


def test_the_held_back_set_is_not_trained_on():
    content = load_content(CONTENT)
    trained = {e.text.strip() for e in content.examples}
    trained |= {q.strip() for f in content.faqs for q in f.questions}
    held = [complaint_text(r).strip() for r in COMPLAINTS] + [r["question"].strip() for r in QUESTIONS]
    assert not [text for text in held if text in trained]
    assert len({r["id"] for r in COMPLAINTS}) == len(COMPLAINTS) == 160


def test_the_held_back_set_uses_the_domain_codes():
    codes = {c.code for c in load_content(CONTENT).categories}
    assert {r["label"] for r in COMPLAINTS} == codes
    assert {code for r in QUESTIONS for code in r["accept"]} <= codes
    assert all(r["label"] == "out_of_scope" for r in COMPLAINTS if r.get("hard_negative"))


def test_complaints_meet_the_targets(bot):
    report = evaluate_complaints(bot, COMPLAINTS)
    assert report.in_scope_high_accuracy >= 0.85, report.confusions
    assert report.out_of_scope_recall >= 0.80, report.out_of_scope_recall
    assert report.hard_negative_recall >= 0.70, report.hard_negative_recall


def test_legal_questions_meet_the_target(bot):
    report = evaluate_questions(bot, QUESTIONS)
    assert report.on_topic >= 0.80, report.misses
