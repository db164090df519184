"""The bot on a held-back set of our own (tests/bot/heldout/): messages, long residents' letters and
questions written for measuring, never trained on. The issue's targets are measured on ../shared/eval/dev with
`python -m bot eval`; this keeps the same targets on text the model has not seen, so that a change to
the examples or the model that only fits the dev set shows up here."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.content import load_content
from bot.evaluate import complaint_text, evaluate_complaints, evaluate_questions, read_jsonl

from .conftest import CONTENT

HELDOUT = Path(__file__).parent / "heldout"
COMPLAINTS = read_jsonl(HELDOUT / "complaints.jsonl")
LETTERS = read_jsonl(HELDOUT / "letters.jsonl")  # long letters in the style of real ones, with background
QUESTIONS = read_jsonl(HELDOUT / "legal_questions.jsonl")
# a shared run this long means a passage was copied or lightly edited (greeting formulas are shorter)
COPIED_RUN = 30


def _runs(text: str, length: int = COPIED_RUN) -> set[str]:
    return {text[i : i + length] for i in range(len(text) - length + 1)}


def test_the_held_back_set_is_not_trained_on():
    content = load_content(CONTENT)
    trained = {e.text.strip() for e in content.examples}
    trained |= {q.strip() for f in content.faqs for q in f.questions}
    held = [complaint_text(r).strip() for r in (*COMPLAINTS, *LETTERS)] + [
        r["question"].strip() for r in QUESTIONS
    ]
    assert not [text for text in held if text in trained]
    ids = [r["id"] for r in (*COMPLAINTS, *LETTERS, *QUESTIONS)]
    assert len(set(ids)) == len(ids)
    assert (len(COMPLAINTS), len(LETTERS), len(QUESTIONS)) == (160, 90, 82)


def test_no_held_back_passage_is_a_copy_of_a_training_text():
    content = load_content(CONTENT)
    trained = set().union(*(_runs(e.text) for e in content.examples))
    trained |= set().union(*(_runs(q) for f in content.faqs for q in f.questions))
    held = [(r["id"], complaint_text(r)) for r in (*COMPLAINTS, *LETTERS)]
    held += [(r["id"], r["question"]) for r in QUESTIONS]
    assert not [(key, run) for key, text in held for run in _runs(text) if run in trained]


def test_the_held_back_set_uses_the_domain_codes():
    codes = {c.code for c in load_content(CONTENT).categories}
    assert {r["label"] for r in COMPLAINTS} == codes
    assert {r["label"] for r in LETTERS} == codes
    assert {code for r in QUESTIONS for code in r["accept"]} <= codes
    assert all(r["label"] == "out_of_scope" for r in (*COMPLAINTS, *LETTERS) if r.get("hard_negative"))
    # a civil dispute accepts being pointed elsewhere, and says so
    assert all(r.get("accept_note") for r in QUESTIONS if "out_of_scope" in r["accept"])


def test_the_held_back_letters_are_long_letters_of_every_category():
    assert all(150 <= len(r["body"]) <= 500 for r in LETTERS)
    assert all(r["label_confidence"] == "high" for r in LETTERS)
    per_label = Counter(r["label"] for r in LETTERS)
    assert min(per_label.values()) >= 5, per_label
    assert per_label["out_of_scope"] >= 20
    assert sum(bool(r.get("hard_negative")) for r in LETTERS) >= 10


def test_complaints_meet_the_targets(bot):
    report = evaluate_complaints(bot, COMPLAINTS)
    assert report.in_scope_high_accuracy >= 0.85, report.confusions
    assert report.out_of_scope_recall >= 0.80, report.out_of_scope_recall
    assert report.hard_negative_recall >= 0.70, report.hard_negative_recall


def test_letters_meet_the_target(bot):
    report = evaluate_complaints(bot, LETTERS)
    assert report.in_scope_high_accuracy >= 0.80, report.misses


def test_legal_questions_meet_the_target(bot):
    report = evaluate_questions(bot, QUESTIONS)
    assert report.on_topic >= 0.80, report.misses
