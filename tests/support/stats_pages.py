"""For the statistics pages' and reports' tests: a small set of cases over three years whose figures are known,
and a reader of the figures a page prints (its tables by data-testid)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html.parser import HTMLParser

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from backend.cases.services.life import rate_case, transition
from backend.stats.models import RollupState, case_rollup, estate_rollup
from backend.stats.rollup import rebuild_rollups
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cases import estate, officer, report


def shanghai(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


# The instant the pages are read at: a Thursday early in December 2026, so that November is the last whole
# month and 总结提升 the phase under way.
NOW = shanghai(2026, 12, 3, 10, 0)
SQUAD_OF_TOWN = {"徐泾镇": "xujing", "夏阳街道": "xiayang", "赵巷镇": "zhaoxiang"}


@dataclass(frozen=True)
class Spec:
    when: dt.datetime
    estate: str
    town: str
    category: str
    source: CaseSource
    steps: tuple[str, ...] = ()  # "sign", "resolve" (verified first), then a rating "satisfied"/"unsatisfied"


MP, HOTLINE, PROPERTY = CaseSource.MINI_PROGRAM, CaseSource.HOTLINE, CaseSource.PROPERTY
# November 2026 (the monthly report's month) against October; 总结提升 2026 against 2025's and 加强执法 2026.
CASES: dict[str, Spec] = {
    "review25": Spec(shanghai(2025, 11, 15, 9), "康虹花园", "徐泾镇", "illegal_construction", MP, ("sign",)),
    "july": Spec(shanghai(2026, 7, 15, 9), "新青浦花苑", "夏阳街道", "garbage_sorting", PROPERTY, ("sign",)),
    "oct1": Spec(
        shanghai(2026, 10, 10, 9), "康虹花园", "徐泾镇", "illegal_construction", MP, ("sign", "resolve")
    ),
    "oct2": Spec(shanghai(2026, 10, 20, 9), "新青浦花苑", "夏阳街道", "group_rental", HOTLINE),
    "nov1": Spec(
        shanghai(2026, 11, 2, 9),
        "康虹花园",
        "徐泾镇",
        "illegal_construction",
        MP,
        ("sign", "resolve", "satisfied"),
    ),
    "nov2": Spec(shanghai(2026, 11, 5, 9), "康虹花园", "徐泾镇", "garbage_sorting", PROPERTY, ("sign",)),
    "nov3": Spec(shanghai(2026, 11, 12, 9), "新华联雅苑", "赵巷镇", "structural_damage", HOTLINE),
    "nov4": Spec(
        shanghai(2026, 11, 26, 9),
        "宜达新居",
        "夏阳街道",
        "illegal_construction",
        MP,
        ("sign", "resolve", "unsatisfied"),
    ),
    "dec1": Spec(shanghai(2026, 12, 1, 9), "康虹花园", "徐泾镇", "illegal_construction", MP),
}


def build_cases(session: Session) -> dict[str, Case]:
    """The set above, worked through its steps an hour apart, the summary tables rebuilt; not committed."""
    made: dict[str, Case] = {}
    for name, spec in CASES.items():
        user, _ = make_resident(session, f"stats{name}")
        case = report(
            session,
            user,
            now=spec.when,
            description=f"{name}：楼顶有人在搭建阳光房，已经搭了一半",
            estate_id=estate(session, spec.estate).id,
            category=spec.category,
            source=spec.source,
        )
        actor = officer(session, SQUAD_OF_TOWN[spec.town])
        at = spec.when
        for step in spec.steps:
            at += dt.timedelta(hours=1)
            if step == "sign":
                transition(session, case, "sign", actor, now=at)
            elif step == "resolve":
                for name_ in ("investigate", "verify"):
                    transition(session, case, name_, actor, now=at)
                transition(session, case, "resolve", actor, public_reply="已处理", now=at)
            else:
                rate_case(session, case, user, step, now=at)
        made[name] = case
    rebuild_rollups(session, NOW)
    return made


def rollups_summed(engine: Engine) -> bool:
    """Whether the summary tables had been summed before a test committed its own (see restore_rollups)."""
    with Session(engine) as session:
        return session.scalar(select(RollupState.id)) is not None


def restore_rollups(engine: Engine, summed_before: bool, as_of: dt.datetime) -> None:
    """After a test that committed cases and summed them, and removed the cases: the summary tables as the
    remaining cases make them, or as empty as a fresh database's if nobody had summed them before."""
    with Session(engine) as session:
        if summed_before:
            rebuild_rollups(session, as_of)
        else:
            for table in (case_rollup, estate_rollup):
                session.execute(delete(table))
            session.execute(delete(RollupState))
        session.commit()


class PageFigures(HTMLParser):
    """The tables of a page by their data-testid (rows of cell texts, the header row first) and the text of
    every other element that has one."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.texts: dict[str, str] = {}
        self._open: list[tuple[str, str, int]] = []  # (tag, testid, depth of that tag inside it)
        self._table: str | None = None
        self._in_cell = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open = [(t, i, d + (t == tag)) for t, i, d in self._open]
        testid = dict(attrs).get("data-testid")
        if testid:
            self._open.append((tag, testid, 0))
            self.texts[testid] = ""
            if tag == "table":
                self._table = testid
                self.tables[testid] = []
        if self._table is not None and tag == "tr":
            self.tables[self._table].append([])
        if self._table is not None and tag in {"td", "th"}:
            self.tables[self._table][-1].append("")
            self._in_cell = True

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"}:
            self._in_cell = False
        still: list[tuple[str, str, int]] = []
        for t, testid, depth in self._open:
            if t != tag:
                still.append((t, testid, depth))
            elif depth:
                still.append((t, testid, depth - 1))
            elif tag == "table":
                self._table = None
        self._open = still

    def handle_data(self, data: str) -> None:
        for _, testid, _ in self._open:
            self.texts[testid] += data
        if self._table is not None and self._in_cell:
            row = self.tables[self._table][-1]
            row[-1] = (row[-1] + " " + data.strip()).strip()

    def rows(self, testid: str) -> dict[str, list[str]]:
        """A table's body as its first cell → the other cells."""
        return {row[0]: row[1:] for row in self.tables[testid][1:] if row}

    def text(self, testid: str) -> str:
        return " ".join(self.texts[testid].split())
