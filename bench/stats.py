"""Scale benchmark of the bureau's statistics (issue 13): MariaDB filled with 100k, 300k and 1M cases over three
years, then the summary tables rebuilt and every statistics call, the dashboard page, a 100,000-row export and
the squad inbox timed at each size.

    .venv/bin/python bench/stats.py --database-url mysql+pymysql://root@127.0.0.1:3306/qingpu_bench \\
        --sizes 100000,300000,1000000 --out /tmp/bench-stats.json

The database is created (dropped first if it exists) and dropped at the end unless --keep; --skip-fill
measures an existing database as it is. The cases are made by simulating each one's life with a seeded
random.Random, so two runs fill the same rows, and inserted with driver-level executemany in chunks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import queue
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend import create_app, migrate
from backend.cases.models import CaseSource
from backend.cases.models import CaseStatus as S
from backend.cases.services.deadlines import ONSITE_STATES, STAGE_DEADLINE
from backend.clock import MovableClock
from backend.db import create_db_engine
from backend.seed import seed_content

# ---------------------------------------------------------------------------------------------- the calendar

CST = dt.timedelta(hours=8)  # Shanghai keeps no summer time: local = UTC + 8 h
FIRST_DAY, LAST_DAY = dt.date(2024, 1, 1), dt.date(2026, 11, 30)
# "Now" for the data, the rollups, the figures and the app's clock: the night after the last day.
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.timezone(CST)).astimezone(dt.UTC)
NOW_NAIVE = NOW.replace(tzinfo=None)  # the driver-level inserts take naive UTC, as UTCDateTime stores it
HOUR = dt.timedelta(hours=1)

# Reports follow the campaign: few in winter (and fewer over the Spring Festival), most in 全面整治 (Apr–Jun),
# many in 加强执法 (Jul–Oct); fewer at weekends; more each year as the campaign becomes known.
MONTH_WEIGHT = {1: 0.55, 2: 0.45, 3: 0.7, 4: 1.3, 5: 1.45, 6: 1.35, 7: 1.25, 8: 1.2, 9: 1.2, 10: 1.1}
MONTH_WEIGHT |= {11: 1.0, 12: 0.9}
WEEKDAY_WEIGHT = (1.15, 1.1, 1.05, 1.05, 1.0, 0.8, 0.7)
YEAR_WEIGHT = {2024: 0.8, 2025: 1.0, 2026: 1.2}
HOUR_WEIGHT = (1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 11, 13, 13, 12, 11, 12, 14, 13, 9, 5, 2)


def days_of_data() -> list[dt.date]:
    return [FIRST_DAY + dt.timedelta(days=i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]


def day_weight(day: dt.date) -> float:
    return MONTH_WEIGHT[day.month] * WEEKDAY_WEIGHT[day.weekday()] * YEAR_WEIGHT[day.year]


def working_days_later(instant: dt.datetime, days: int) -> dt.datetime:
    """`days` working days after a naive UTC instant, weekends skipped (holidays ignored: close enough for a
    benchmark's on-time rates, and a hundred times cheaper than the real calendar)."""
    weeks, rest = divmod(days, 5)
    local = instant + CST + dt.timedelta(days=7 * weeks)
    while rest:
        local += dt.timedelta(days=1)
        rest -= local.weekday() < 5
    while local.weekday() >= 5:
        local += dt.timedelta(days=1)
    return local - CST


# ------------------------------------------------------------------------------------------------- the world

# The bigger towns (by households) report more; the rest weigh 1.
TOWN_WEIGHT = {"xujing": 2.2, "huaxin": 1.6, "zhaoxiang": 1.5, "xiayang": 1.6, "yingpu": 1.4, "baihe": 1.2}
SYNTHETIC_ESTATES = 1500
KEY_ESTATE_SHARE = 0.08  # of the cases about an estate: the 7 key estates get about 12× an average one
NO_ESTATE_SHARE = 0.06  # hotline and transfer reports that name no estate (routed by the bureau)
ESTATE_WORDS = ("花园", "新村", "佳苑", "公寓", "家园", "名邸", "雅居", "新苑", "华庭", "小区")


@dataclass(frozen=True)
class CategoryInfo:
    code: str
    group: str
    onsite_hours: int
    onsite_hours_in_progress: int | None
    sign_days: int
    handle_days: int


@dataclass
class World:
    """What the cases refer to: towns with their squads, estates, categories, each with its weight."""

    squad_of_town: dict[int, int]
    town_ids: list[int]
    town_cum: list[float]
    estates: list[tuple[int, int, bool]]  # id, town id, is key
    estate_cum: list[float]
    categories: list[CategoryInfo]
    category_cum: list[float]

    @property
    def busiest_town_id(self) -> int:
        """The town with the most reports (the worst case for a town's figures and its squad's inbox)."""
        shares = [high - low for low, high in zip([0.0, *self.town_cum], self.town_cum, strict=False)]
        return self.town_ids[shares.index(max(shares))]


def cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def add_synthetic_estates(conn: Connection, rng: random.Random) -> None:
    """~1,500 estates spread over the towns by their weight, beside the seeded key estates."""
    towns = conn.execute(text("SELECT id, code, name FROM town ORDER BY position, id")).all()
    weights = [TOWN_WEIGHT.get(code, 1.0) for _, code, _ in towns]
    made = datetime_text(NOW_NAIVE - dt.timedelta(days=1200))
    rows = []
    for n in range(SYNTHETIC_ESTATES):
        town_id, _, town_name = rng.choices(towns, weights)[0]
        name = f"{town_name[:2]}{rng.choice(ESTATE_WORDS)}{n + 1}期"
        rows.append((name, town_id, f"{town_name}某路{rng.randint(1, 3000)}弄", 0, made, made))
    conn.exec_driver_sql(
        "INSERT INTO estate (name, town_id, address, is_key, created_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        rows,
    )


def load_world(conn: Connection) -> World:
    squads = {town_id: squad_id for town_id, squad_id in conn.execute(text("SELECT town_id, id FROM squad"))}
    towns = conn.execute(text("SELECT id, code FROM town ORDER BY position, id")).all()
    town_weight = {town_id: TOWN_WEIGHT.get(code, 1.0) for town_id, code in towns}
    estates = [
        (estate_id, town_id, bool(key))
        for estate_id, town_id, key in conn.execute(
            text("SELECT id, town_id, is_key FROM estate ORDER BY id")
        )
    ]
    keys = sum(1 for *_, key in estates if key)
    plain = [e for e in estates if not e[2]]
    # Zipf-like within the plain estates: a few estates draw many complaints, most draw few.
    plain_weights = [town_weight[town_id] / (rank + 1) ** 0.6 for rank, (_, town_id, _) in enumerate(plain)]
    key_weight = sum(plain_weights) * KEY_ESTATE_SHARE / (1 - KEY_ESTATE_SHARE) / max(keys, 1)
    weights = [key_weight if key else 0.0 for *_, key in estates]
    plain_weight = iter(plain_weights)
    weights = [w if key else next(plain_weight) for w, (*_, key) in zip(weights, estates, strict=True)]
    categories = [
        CategoryInfo(code, group or "", onsite or 24, in_progress, sign or 1, handle or 15)
        for code, group, onsite, in_progress, sign, handle in conn.execute(
            text(
                "SELECT code, group_code, onsite_hours, onsite_hours_in_progress, sign_working_days,"
                " handle_working_days FROM category ORDER BY position, code"
            )
        )
    ]
    return World(
        squad_of_town=squads,
        town_ids=[town_id for town_id, _ in towns],
        town_cum=cumulative([town_weight[town_id] for town_id, _ in towns]),
        estates=estates,
        estate_cum=cumulative(weights),
        categories=categories,
        category_cum=cumulative([1 / (rank + 1) ** 1.1 for rank in range(len(categories))]),
    )


# --------------------------------------------------------------------------------------------- a case's life

SOURCE_WEIGHT = {
    CaseSource.MINI_PROGRAM: 40,
    CaseSource.HOTLINE: 30,
    CaseSource.BOT: 8,
    CaseSource.INSPECTION: 8,
    CaseSource.PROPERTY: 7,
    CaseSource.TRANSFER: 4,
    CaseSource.DETECTION: 3,
}
RESIDENT_SOURCES = {CaseSource.MINI_PROGRAM, CaseSource.BOT}
RATED_SHARE = {CaseSource.MINI_PROGRAM: 0.65, CaseSource.BOT: 0.55, CaseSource.HOTLINE: 0.4}
SUBMITTER = {
    CaseSource.MINI_PROGRAM: ("resident", "居民"),
    CaseSource.BOT: ("resident", "居民"),
    CaseSource.HOTLINE: ("system", "12345热线"),
    CaseSource.PROPERTY: ("staff", "物业人员"),
    CaseSource.TRANSFER: ("staff", "区局"),
    CaseSource.INSPECTION: ("staff", "中队队员"),
    CaseSource.DETECTION: ("system", "智能发现"),
}
SYSTEM, BUREAU, SQUAD, RESIDENT = (
    ("system", "系统"),
    ("staff", "区局"),
    ("staff", "中队队员"),
    ("resident", "居民"),
)

# How a case's life goes: shares of the whole, or of the cases reaching that step.
WITHDRAWN_SHARE = 0.04  # of the residents' own reports
MERGED_SHARE = 0.035  # of the cases with an earlier one about the same estate
IN_PROGRESS_SHARE = 0.08
RETURNED_SHARE = 0.05
LATE_SIGN_SHARE = 0.06
LATE_ONSITE_SHARE = 0.09
FIELD_NOTE_SHARE = 0.7  # investigations started on site with a note (which stops the on-site clock)
UNFOUNDED_SHARE = 0.1
TRANSFER_SHARE = 0.04
STUCK_SHARE = 0.03  # unfounded or transferred cases nobody ever finished
EXTENSION_SHARE = 0.07
EXTENSION_APPROVED_SHARE = 0.8
ACTED_SHARE = 0.8
SECOND_ACTION_SHARE = 0.2
LATE_RESOLVE_SHARE = 0.1
REPEAT_FLAT_SHARE = 0.06  # of the cases about an estate reported again within 90 days
RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
RATING_CUM = (0.71, 0.9, 1.0)
ACTIONS = ("order_rectification", "file_case", "penalty", "demolition")
ACTION_CUM = (0.6, 0.75, 0.85, 1.0)
DEPARTMENTS = ("housing", "planning", "greening", "housing_admin", "police", "market")

DESCRIPTIONS = {
    "housing_safety": (
        "楼顶有人在搭建阳光房",
        "一楼住户在院子里搭彩钢板房",
        "楼上在砸承重墙",
        "阳台外挑搭建",
    ),
    "rental": ("这套房子隔成了很多小间出租", "群租，住了十几个人", "中介在小区里违规出租"),
    "environment": ("垃圾没有分类就倒在门口", "绿化带被挖掉种菜", "楼道里堆满垃圾"),
    "property_duty": ("物业看到有人搭建也不管", "物业没有设置分类垃圾桶", "物业用房被改作他用"),
}
REPLIES = (
    "经核查，已责令当事人限期整改，我队将跟踪复查。",
    "违法搭建已拆除，现场已恢复原状。",
    "经现场核查，反映情况不属实，感谢您的关注。",
    "已会同相关部门处理完毕。",
)
UNFOUNDED_REASONS = ("现场未发现反映的情况", "系合法装修，已办理登记")
RETURN_DATA = json.dumps({"reason": "不属本辖区", "reason_code": "not_our_area"}, ensure_ascii=False)
RESOLVE_DATA = json.dumps({"public_reply": REPLIES[0]}, ensure_ascii=False)
RATING_DATA = {score: json.dumps({"score": score}) for score in RATINGS}
ACTION_LABELS = {
    "order_rectification": "责令整改",
    "file_case": "立案",
    "penalty": "处罚",
    "demolition": "拆除",
}


def hours(value: float) -> dt.timedelta:
    return dt.timedelta(hours=value)


class CaseDraft:
    """One case being lived through, step by step, until its life ends or reaches `NOW`: the steps after
    `NOW` have not happened yet, which leaves the recent cases open in every stage."""

    __slots__ = (
        "category",
        "closed_at",
        "created",
        "events",
        "extensions",
        "finding_at",
        "handle_due",
        "id",
        "in_progress",
        "last",
        "onsite_at",
        "onsite_due",
        "parent",
        "parent_id",
        "planned_squad",
        "planned_town",
        "public_reply",
        "rating",
        "reopen_count",
        "resolved_at",
        "sign_due",
        "signed_at",
        "source",
        "squad_id",
        "status",
        "stopped",
        "town_id",
        "transferred_to",
    )

    def __init__(self, case_id: int, created: dt.datetime, source: str, category: CategoryInfo) -> None:
        self.id, self.created, self.source, self.category = case_id, created, source, category
        self.events: list[tuple[Any, ...]] = []
        self.extensions: list[tuple[Any, ...]] = []
        self.status: str | None = None
        self.last = created
        self.stopped = False
        self.in_progress = False
        self.town_id: int | None = None
        self.planned_town = self.planned_squad = 0
        self.squad_id: int | None = None
        self.parent: tuple[int, str] | None = None  # an earlier open case about the same estate
        self.parent_id: int | None = None
        self.signed_at: dt.datetime | None = None
        self.onsite_at: dt.datetime | None = None
        self.resolved_at: dt.datetime | None = None
        self.closed_at: dt.datetime | None = None
        self.finding_at = created
        self.sign_due = working_days_later(created, category.sign_days)
        self.onsite_due = created + hours(category.onsite_hours)
        self.handle_due = working_days_later(created, category.sign_days + category.handle_days)
        self.rating: str | None = None
        self.reopen_count = 0
        self.public_reply = ""
        self.transferred_to = ""

    def step(
        self,
        action: str,
        to_status: str,
        at: dt.datetime,
        actor: tuple[str, str],
        data: str = "{}",
        note: str = "",
    ) -> bool:
        """A transition at `at`, if that is before NOW (else the life stops here); whether it happened."""
        if self.stopped or at > NOW_NAIVE:
            self.stopped = True
            return False
        self.events.append((self.id, action, self.status, to_status, *actor, 1, note, data, at))
        self.status, self.last = to_status, at
        return True

    def remark(self, action: str, at: dt.datetime, actor: tuple[str, str], data: str, public: bool) -> bool:
        """A timeline entry that changes no status (an extension's request and decision)."""
        if self.stopped or at > NOW_NAIVE:
            self.stopped = True
            return False
        self.events.append((self.id, action, None, None, *actor, int(public), "", data, at))
        self.last = at
        return True

    def after(self, low: float, high: float, rng: random.Random) -> dt.datetime:
        """An instant between `low` and `high` hours after the last step."""
        return self.last + hours(rng.uniform(low, high))


def live(d: CaseDraft, rng: random.Random) -> None:
    """The whole life of a case: report, dispatch, then a withdrawal, a merge, or the squad's handling."""
    d.step("submit", S.SUBMITTED, d.created, SUBMITTER[CaseSource(d.source)])
    if d.source in RESIDENT_SOURCES and rng.random() < WITHDRAWN_SHARE:
        withdraw(d, rng)
        return
    if not dispatch(d, d.after(0.005, 0.05, rng) if d.town_id else d.after(0.5, 8, rng), SYSTEM):
        return
    if d.parent is not None and rng.random() < MERGED_SHARE:
        merge(d, rng)
        return
    if rng.random() < RETURNED_SHARE and not return_and_redispatch(d, rng):
        return
    if sign(d, rng) and investigate(d, rng):
        settle(d, rng)


def dispatch(d: CaseDraft, at: dt.datetime, actor: tuple[str, str]) -> bool:
    if not d.step("dispatch", S.DISPATCHED, at, actor if d.town_id else BUREAU):
        return False
    d.town_id, d.squad_id = d.planned_town, d.planned_squad
    return True


def withdraw(d: CaseDraft, rng: random.Random) -> None:
    if d.town_id and rng.random() < 0.7:
        dispatch(d, d.after(0.005, 0.05, rng), SYSTEM)
    d.step("withdraw", S.WITHDRAWN, d.after(0.1, 6, rng), RESIDENT)


def merge(d: CaseDraft, rng: random.Random) -> None:
    assert d.parent is not None
    parent_id, tracking_no = d.parent
    if d.step("merge", S.MERGED, d.after(0.5, 48, rng), SQUAD, json.dumps({"parent": tracking_no})):
        d.parent_id = parent_id


def return_and_redispatch(d: CaseDraft, rng: random.Random) -> bool:
    """退单 and 改派: the squad sends it back, the bureau dispatches it again with a fresh signing clock."""
    if not d.step("return", S.RETURNED, d.after(0.5, 12, rng), SQUAD, RETURN_DATA):
        return False
    if not dispatch(d, d.after(1, 24, rng), BUREAU):
        return False
    d.sign_due = working_days_later(d.last, d.category.sign_days)
    return True


def sign(d: CaseDraft, rng: random.Random) -> bool:
    if rng.random() < LATE_SIGN_SHARE:
        at = max(d.last, d.sign_due) + hours(rng.uniform(1, 48))
    else:
        at = d.last + hours(min(rng.lognormvariate(1.1, 1.0), 20))  # a median of 3 hours
    if not d.step("sign", S.SIGNED, at, SQUAD):
        return False
    d.signed_at = at
    d.handle_due = working_days_later(at, d.category.handle_days)
    return True


def visit_time(d: CaseDraft, rng: random.Random) -> dt.datetime:
    """When someone gets to the site: fast for construction in progress, sometimes after the limit."""
    if rng.random() < LATE_ONSITE_SHARE:
        at = d.onsite_due + hours(rng.uniform(0.5, 36))
    elif d.in_progress:
        at = d.created + hours(rng.lognormvariate(0.3, 0.5))  # a median of 80 minutes
    else:
        at = d.last + hours(rng.lognormvariate(1.4, 0.8))  # a median of 4 hours after signing
    return max(at, d.last + dt.timedelta(minutes=5))


def investigate(d: CaseDraft, rng: random.Random) -> bool:
    visit = visit_time(d, rng)
    if rng.random() < FIELD_NOTE_SHARE:
        if not d.step("investigate", S.INVESTIGATING, visit, SQUAD, note="到达现场，开始核查"):
            return False
        d.onsite_at = visit
        d.finding_at = visit + hours(rng.uniform(0.2, 24))
        return True
    if not d.step("investigate", S.INVESTIGATING, d.after(0.05, 1, rng), SQUAD):
        return False
    d.finding_at = max(visit, d.last + dt.timedelta(minutes=5))
    return True


def find(d: CaseDraft, action: str, to_status: str, data: str = "{}") -> bool:
    """A finding on site (属实 / 不属实): it stops the on-site clock if the investigation did not."""
    if not d.step(action, to_status, d.finding_at, SQUAD, data):
        return False
    d.onsite_at = d.onsite_at or d.finding_at
    return True


def settle(d: CaseDraft, rng: random.Random) -> None:
    chance = rng.random()
    if chance < UNFOUNDED_SHARE:
        unfounded(d, rng)
    elif chance < UNFOUNDED_SHARE + TRANSFER_SHARE:
        transfer(d, rng)
    elif find(d, "verify", S.VERIFIED):
        handle_and_resolve(d, rng)


def unfounded(d: CaseDraft, rng: random.Random) -> None:
    reason = json.dumps({"reason": rng.choice(UNFOUNDED_REASONS)}, ensure_ascii=False)
    if find(d, "mark_unfounded", S.UNFOUNDED, reason) and rng.random() >= STUCK_SHARE:
        resolve(d, d.after(0.5, 48, rng), rng, REPLIES[2])


def transfer(d: CaseDraft, rng: random.Random) -> None:
    department = rng.choice(DEPARTMENTS)
    if not d.step("transfer", S.TRANSFERRED, d.finding_at, SQUAD, json.dumps({"department": department})):
        return
    d.transferred_to = department
    if rng.random() >= STUCK_SHARE:
        at = d.last + hours(rng.lognormvariate(math.log(7 * 24), 0.6))  # a week, give or take
        resolve(d, at, rng, REPLIES[3], action="record_transfer_reply", actor=BUREAU)


def handle_and_resolve(d: CaseDraft, rng: random.Random) -> None:
    if rng.random() < EXTENSION_SHARE and not extend(d, rng):
        return
    actions = (rng.random() < ACTED_SHARE) + (rng.random() < SECOND_ACTION_SHARE)
    for _ in range(actions):
        if not handle(d, rng):
            return
    resolve(d, resolution_time(d, rng), rng, REPLIES[rng.random() < 0.3])


def handle(d: CaseDraft, rng: random.Random) -> bool:
    action = ACTIONS[next(i for i, edge in enumerate(ACTION_CUM) if rng.random() <= edge)]
    at = d.last + hours(min(rng.lognormvariate(3.0, 1.0), 240))  # a median of 20 hours
    data: dict[str, Any] = {"action": action, "action_label": ACTION_LABELS[action]}
    if action == "order_rectification":
        data["deadline"] = ((at + CST).date() + dt.timedelta(days=15)).isoformat()
    return d.step("handle", S.HANDLING, at, SQUAD, json.dumps(data, ensure_ascii=False))


def resolution_time(d: CaseDraft, rng: random.Random) -> dt.datetime:
    if rng.random() < LATE_RESOLVE_SHARE:
        return max(d.last, d.handle_due) + hours(rng.lognormvariate(math.log(48), 0.8))
    window = d.handle_due - d.last
    if window <= HOUR:
        return d.last + hours(rng.uniform(0.1, 1))
    return d.last + window * rng.betavariate(1.3, 3.0)


def extend(d: CaseDraft, rng: random.Random) -> bool:
    """延期: the squad asks for more working days, the bureau approves (mostly) or rejects."""
    days = rng.choice((3, 5, 10))
    asked = d.last + (d.handle_due - d.last) * rng.uniform(0.3, 0.8)
    if not d.remark("extension_requested", asked, SQUAD, json.dumps({"working_days": days}), public=False):
        return False
    approved = rng.random() < EXTENSION_APPROVED_SHARE
    decided = d.after(2, 48, rng)
    happened = d.remark(
        "extension_approved" if approved else "extension_rejected", decided, BUREAU, "{}", public=approved
    )
    status = ("approved" if approved else "rejected") if happened else "pending"
    d.extensions.append((d.id, asked, days, "需要补充调查取证", status, decided if happened else None))
    if happened and approved:
        d.handle_due = working_days_later(d.handle_due, days)
    return happened


def resolve(
    d: CaseDraft,
    at: dt.datetime,
    rng: random.Random,
    reply: str,
    *,
    action: str = "resolve",
    actor: tuple[str, str] = SQUAD,
) -> None:
    if not d.step(action, S.RESOLVED, at, actor, RESOLVE_DATA):
        return
    d.resolved_at, d.public_reply = at, reply
    rated = RATED_SHARE.get(CaseSource(d.source), 0.0)
    if rng.random() < rated:
        rate(d, rng)
    else:
        close(d, d.after(72, 240, rng))


def rate(d: CaseDraft, rng: random.Random) -> None:
    """The reporter's rating closes the case, or (不满意, the first time) sends it back to the squad."""
    chance = rng.random()
    score = next(score for score, edge in zip(RATINGS, RATING_CUM, strict=True) if chance <= edge)
    reopen = score == "unsatisfied" and d.reopen_count == 0
    at = d.last + hours(rng.lognormvariate(math.log(24), 0.9))
    actor = RESIDENT if d.source in RESIDENT_SOURCES else ("system", "12345回访")
    if not d.step("rate", S.HANDLING if reopen else S.CLOSED, at, actor, RATING_DATA[score]):
        return
    d.rating = score
    if not reopen:
        d.closed_at = at
        return
    d.reopen_count, d.resolved_at = 1, None
    d.handle_due = working_days_later(at, d.category.handle_days)
    if handle(d, rng):
        resolve(d, resolution_time(d, rng), rng, REPLIES[1])


def close(d: CaseDraft, at: dt.datetime) -> None:
    if d.step("close", S.CLOSED, at, SYSTEM):
        d.closed_at = at


# ------------------------------------------------------------------------------------------ rows of a batch

CASE_COLUMNS = (
    "id, tracking_no, source, status, category_code, description, in_progress, priority, estate_id, town_id,"
    " squad_id, address, building, unit, room, reporter_name, contact_phone, created_at, updated_at,"
    " sign_due_at, onsite_due_at, handle_due_at, due_at, next_due_at, onsite_at, signed_at, resolved_at,"
    " closed_at, public_reply, rating, reopen_count, parent_id, transferred_to,"
    # the NOT NULL columns the statistics do not read, at their model defaults
    " source_detail, category_confirmed, anonymous, rating_comment, supporter_count, supervised, urge_count"
)
CASE_DEFAULTS = ("", 1, 0, "", 0, 0, 0)
EVENT_COLUMNS = (
    "case_id, action, from_status, to_status, actor_kind, actor_label, public, note, data, created_at"
)
EXTENSION_COLUMNS = "case_id, requested_at, working_days, reason, status, decided_at"


def datetime_text(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Batch:
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    extensions: list[tuple[Any, ...]] = field(default_factory=list)


class CaseMaker:
    """Makes cases in the order they were reported, with ids, tracking numbers and flats that follow on
    from the cases made before (so the database can grow from one size to the next)."""

    def __init__(self, world: World, rng: random.Random, first_id: int) -> None:
        self.world, self.rng, self.next_id = world, rng, first_id
        self.days = days_of_data()
        self.day_cum = cumulative([day_weight(day) for day in self.days])
        self.day_text = [day.strftime("%Y%m%d") for day in self.days]
        self.issued: dict[int, int] = {}  # tracking numbers issued per day
        self.sources = list(SOURCE_WEIGHT)
        self.source_cum = cumulative(list(SOURCE_WEIGHT.values()))
        # per estate: the last case's flat, when it was reported, and its id and tracking number
        self.last_at_estate: dict[int, tuple[tuple[str, str, str], dt.datetime, int, str]] = {}

    def report_times(self, count: int) -> list[tuple[int, float]]:
        """`count` (day index, seconds into the day) pairs, in order."""
        rng = self.rng
        days = rng.choices(range(len(self.days)), cum_weights=self.day_cum, k=count)
        hours_ = rng.choices(range(24), weights=HOUR_WEIGHT, k=count)
        return sorted(
            (day, hour * 3600 + rng.random() * 3600) for day, hour in zip(days, hours_, strict=True)
        )

    def batches(self, count: int, chunk: int) -> Iterator[Batch]:
        times = self.report_times(count)
        for start in range(0, count, chunk):
            batch = Batch()
            for day, seconds in times[start : start + chunk]:
                self.make(batch, day, seconds)
            yield batch

    def make(self, batch: Batch, day: int, seconds: float) -> None:
        rng, world = self.rng, self.world
        created = dt.datetime.combine(self.days[day], dt.time()) + dt.timedelta(seconds=seconds) - CST
        self.issued[day] = number = self.issued.get(day, 0) + 1
        tracking_no = f"QP{self.day_text[day]}-{number:04d}"
        category = rng.choices(world.categories, cum_weights=world.category_cum)[0]
        d = CaseDraft(
            self.next_id, created, rng.choices(self.sources, cum_weights=self.source_cum)[0], category
        )
        self.next_id += 1
        d.in_progress = category.onsite_hours_in_progress is not None and rng.random() < IN_PROGRESS_SHARE
        if d.in_progress:
            d.onsite_due = created + hours(category.onsite_hours_in_progress or 2)
        estate_id, flat = self.place(d, tracking_no)
        live(d, rng)
        batch.cases.append(self.case_row(d, tracking_no, estate_id, flat))
        batch.events.extend(d.events)
        batch.extensions.extend(d.extensions)

    def place(self, d: CaseDraft, tracking_no: str) -> tuple[int | None, tuple[str, str, str]]:
        """The estate and flat of a case: some name no estate (the bureau routes them by town), some are
        about the same flat as the estate's last case (a repeat complaint within 90 days)."""
        rng, world = self.rng, self.world
        if rng.random() < NO_ESTATE_SHARE and d.source not in RESIDENT_SOURCES:
            d.planned_town = rng.choices(world.town_ids, cum_weights=world.town_cum)[0]
            d.planned_squad = world.squad_of_town[d.planned_town]
            return None, ("", "", "")
        estate_id, town_id, _ = rng.choices(world.estates, cum_weights=world.estate_cum)[0]
        d.planned_town = d.town_id = town_id
        d.planned_squad = world.squad_of_town[town_id]
        last = self.last_at_estate.get(estate_id)
        if last is not None and d.created - last[1] < dt.timedelta(days=90):
            d.parent = (last[2], last[3])
            if rng.random() < REPEAT_FLAT_SHARE:
                flat = last[0]
                self.last_at_estate[estate_id] = (flat, d.created, d.id, tracking_no)
                return estate_id, flat
        flat = (
            str(rng.randint(1, 40)),
            str(rng.randint(1, 4)),
            f"{rng.randint(1, 18)}{rng.randint(1, 4):02d}",
        )
        self.last_at_estate[estate_id] = (flat, d.created, d.id, tracking_no)
        return estate_id, flat

    def case_row(
        self, d: CaseDraft, tracking_no: str, estate_id: int | None, flat: tuple[str, str, str]
    ) -> tuple[Any, ...]:
        status = S(d.status or S.SUBMITTED)
        stage = STAGE_DEADLINE.get(status)
        due = {"sign_due_at": d.sign_due, "handle_due_at": d.handle_due}.get(stage or "")
        onsite_running = d.onsite_at is None and status in ONSITE_STATES
        next_due = min((x for x in (due, d.onsite_due if onsite_running else None) if x), default=None)
        building, unit, room = flat
        texts = DESCRIPTIONS.get(d.category.group, DESCRIPTIONS["housing_safety"])
        hotline = d.source == CaseSource.HOTLINE
        return (
            d.id,
            tracking_no,
            d.source,
            status.value,
            d.category.code,
            f"{texts[d.id % len(texts)]}，{building}号楼{unit}单元{room}室" if building else texts[0],
            int(d.in_progress),
            2 if d.in_progress else 0,
            estate_id,
            d.town_id,
            d.squad_id,
            f"{building}号{unit}单元{room}室" if building else "",
            building,
            unit,
            room,
            "张先生" if hotline else "",
            f"138{d.id % 10**8:08d}" if hotline or d.source in RESIDENT_SOURCES else None,
            d.created,
            d.last,
            d.sign_due,
            d.onsite_due,
            d.handle_due,
            due,
            next_due,
            d.onsite_at,
            d.signed_at,
            d.resolved_at,
            d.closed_at,
            d.public_reply,
            d.rating,
            d.reopen_count,
            d.parent_id,
            d.transferred_to,
            *CASE_DEFAULTS,
        )


# ---------------------------------------------------------------------------------------------- the database


def server_and_name(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    if not parsed.database or not parsed.get_backend_name().startswith(("mysql", "mariadb")):
        raise SystemExit(
            "--database-url must name a MariaDB database, e.g. mysql+pymysql://root@127.0.0.1/qingpu_bench"
        )
    return parsed.set(database="").render_as_string(hide_password=False), parsed.database


BUFFER_POOL_BYTES = 4 * 1024**3


def size_buffer_pool(url: str) -> None:
    """Give InnoDB a buffer pool that holds the summary tables and the hot indexes, as a production server
    for a million cases would have (Debian's default of 128 MB makes every call a disk read); the setting is
    dynamic and lasts until MariaDB restarts."""
    server, _ = server_and_name(url)
    engine = create_db_engine(server)
    with engine.begin() as conn:
        size = int(conn.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar_one())
        if size < BUFFER_POOL_BYTES:
            conn.exec_driver_sql(f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL_BYTES}")
        size = int(conn.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar_one())
    engine.dispose()
    print(f"innodb_buffer_pool_size: {size // 1024**2} MB")


def create_database(url: str) -> None:
    server, name = server_and_name(url)
    engine = create_db_engine(server)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    engine.dispose()


def drop_database(url: str) -> None:
    server, name = server_and_name(url)
    engine = create_db_engine(server)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
    engine.dispose()


def loading_engine(url: str) -> Engine:
    """An engine whose connections may send files for LOAD DATA LOCAL INFILE."""
    parsed = make_url(url).update_query_dict({"charset": "utf8mb4"})
    return create_engine(parsed, connect_args={"local_infile": True})


@contextmanager
def bulk_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for loading: no unique or foreign-key checks (the rows are made consistent)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION unique_checks=0, foreign_key_checks=0")
        try:
            yield conn
        finally:
            conn.exec_driver_sql("SET SESSION unique_checks=1, foreign_key_checks=1")


TABLES = (("case_file", CASE_COLUMNS), ("case_event", EVENT_COLUMNS), ("case_extension", EXTENSION_COLUMNS))


def write_tsv(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """Rows as LOAD DATA's default text format: tab-separated, \\N for NULL. The generated texts hold no tab,
    newline or backslash, so nothing needs escaping."""
    with path.open("w", encoding="utf-8") as out:
        out.writelines("\t".join(["\\N" if v is None else str(v) for v in row]) + "\n" for row in rows)


def write_chunk(batch: Batch, folder: Path, number: int) -> list[tuple[str, str, Path]]:
    files = []
    for (table, columns), rows in zip(TABLES, (batch.cases, batch.events, batch.extensions), strict=True):
        if rows:
            path = folder / f"{table}-{number}.tsv"
            write_tsv(path, rows)
            files.append((table, columns, path))
    return files


def load_chunk(conn: Connection, files: list[tuple[str, str, Path]]) -> None:
    """One chunk, one transaction. LOAD DATA parses several times faster than multi-row INSERTs, and spares
    the driver from escaping tens of millions of values in Python."""
    for table, columns, path in files:
        conn.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 ({columns})"
        )
        path.unlink()
    conn.commit()


@dataclass
class FillReport:
    cases: int
    events: int = 0
    extensions: int = 0
    seconds: float = 0.0
    make_seconds: float = 0.0

    def line(self) -> str:
        return (
            f"added {self.cases:,} cases, {self.events:,} events, {self.extensions:,} extensions in "
            f"{self.seconds:.1f} s ({self.make_seconds:.1f} s making rows, "
            f"{self.cases / max(self.seconds, 1e-9):,.0f} cases/s)"
        )


class ChunkWriter(threading.Thread):
    """Makes the chunks and writes them as files while the server loads the chunk before: the loading
    thread waits on the socket without the GIL, so Python and MariaDB work side by side on the two cores."""

    def __init__(self, maker: CaseMaker, count: int, chunk: int, folder: Path, report: FillReport) -> None:
        super().__init__(daemon=True)
        self.maker, self.count, self.chunk, self.folder, self.report = maker, count, chunk, folder, report
        self.ready: queue.Queue[list[tuple[str, str, Path]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            started = time.perf_counter()
            for number, batch in enumerate(self.maker.batches(self.count, self.chunk)):
                files = write_chunk(batch, self.folder, number)
                self.report.events += len(batch.events)
                self.report.extensions += len(batch.extensions)
                self.report.make_seconds += time.perf_counter() - started
                self.ready.put(files)
                started = time.perf_counter()
        except BaseException as exc:  # handed to the loading thread, which raises it
            self.error = exc
        finally:
            self.ready.put(None)


def fill(engine: Engine, maker: CaseMaker, count: int, chunk: int, folder: Path) -> FillReport:
    """Add `count` cases with their timelines and extensions, then refresh the tables' index statistics."""
    report = FillReport(count)
    started = time.perf_counter()
    writer = ChunkWriter(maker, count, chunk, folder, report)
    writer.start()
    with bulk_connection(engine) as conn:
        while (files := writer.ready.get()) is not None:
            load_chunk(conn, files)
        writer.join()
        if writer.error is not None:
            raise writer.error
        for table, _ in TABLES:
            conn.exec_driver_sql(f"ANALYZE TABLE {table}").all()
    report.seconds = time.perf_counter() - started
    return report


def prepare_database(url: str, content_dir: Path, sessionmaker: Callable[[], Session]) -> None:
    """Migrations, the seed content (towns, squads, taxonomy, key estates) and the synthetic estates."""
    migrate.upgrade(url)
    with sessionmaker() as session:
        seed_content(session, content_dir)
        add_synthetic_estates(session.connection(), random.Random(13))
        session.commit()


# ------------------------------------------------------------------------------------------------ measuring

STATS_CEILING_MS = 300.0
INBOX_CEILING_MS = 50.0
SLOW_CALL_SECONDS = 5.0  # a call slower than this is timed once per filter variant, not `rounds` times


@dataclass
class Timing:
    name: str
    ceiling_ms: float | None
    samples: list[float] = field(default_factory=list)
    by_variant: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""

    @property
    def p50(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def p95(self) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]

    def as_json(self) -> dict[str, Any]:
        return {
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "calls": len(self.samples),
            "ceiling_ms": self.ceiling_ms,
            "note": self.note,
            "p50_ms_by_filter": {name: statistics.median(v) for name, v in self.by_variant.items() if v},
        }


@dataclass(frozen=True)
class Variant:
    name: str
    filter: Any  # a backend.stats.filters.StatFilter


def filter_variants(world: World) -> list[Variant]:
    from backend.stats.filters import StatFilter, phase_range

    start, end = phase_range(2026, "enforcement")
    return [
        Variant("all three years", StatFilter()),
        Variant("year 2025", StatFilter(start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31))),
        Variant("phase 2026 加强执法", StatFilter(start=start, end=end, phases=("enforcement",))),
        Variant("one town", StatFilter(town_id=world.busiest_town_id)),
        Variant("one category", StatFilter(category=world.categories[0].code)),
        Variant("one source", StatFilter(source=CaseSource.HOTLINE.value)),
        Variant("month 2026-10", StatFilter(start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 31))),
    ]


def time_function(
    timing: Timing,
    call: Callable[[Any], Any],
    variants: Sequence[Any],
    rounds: int,
    names: Callable[[Any], str] = str,
) -> Timing:
    """Call `call(variant)` once to warm up, then `rounds` times cycling through the variants; once every
    variant has been timed, stop early if any call took over SLOW_CALL_SECONDS (its p95 is past any
    ceiling already, and thirty of them would take the run hours)."""
    try:
        call(variants[0])
        for i in range(rounds):
            variant = variants[i % len(variants)]
            started = time.perf_counter()
            call(variant)
            elapsed = (time.perf_counter() - started) * 1000
            timing.samples.append(elapsed)
            timing.by_variant.setdefault(names(variant), []).append(elapsed)
            if i + 1 >= len(variants) and max(timing.samples) > SLOW_CALL_SECONDS * 1000:
                timing.note = f"slow (a call over {SLOW_CALL_SECONDS:.0f} s): timed once per filter"
                break
    except Exception as exc:  # report the failure and go on with the other calls
        timing.note = f"failed: {type(exc).__name__}: {exc}"[:300]
        timing.samples.clear()
    return timing


StatCall = Callable[[Session, Any], Any]


def statistics_calls() -> list[tuple[str, StatCall]]:
    """Every figure of backend.stats.figures, each as `call(session, flt)`."""
    from backend.stats import figures

    def counts(by: str) -> StatCall:
        return lambda session, flt: figures.counts_by(session, flt, by)

    def at_now(function: Callable[[Session, Any, dt.datetime], Any]) -> StatCall:
        return lambda session, flt: function(session, flt, NOW)

    return [
        *((f"counts_by[{by}]", counts(by)) for by in figures.DIMENSIONS),
        ("handling_figures", at_now(figures.handling_figures)),
        ("trend", figures.trend),
        ("phase_comparison", at_now(figures.phase_comparison)),
        ("watch_list", at_now(figures.watch_list)),
        ("hot_spots", figures.hot_spots),
        ("squad_ranking", at_now(figures.squad_ranking)),
        ("dashboard", at_now(figures.dashboard)),
    ]


def time_statistics(
    sessionmaker: Callable[[], Session], variants: list[Variant], rounds: int
) -> list[Timing]:
    timings = []
    for name, function in statistics_calls():

        def one(variant: Variant, function: StatCall = function) -> None:
            with sessionmaker() as session:
                function(session, variant.filter)

        timings.append(time_function(Timing(name, STATS_CEILING_MS), one, variants, rounds, lambda v: v.name))
        print(f"  {line_of(timings[-1])}", flush=True)
    return timings


def rebuild_rollups(sessionmaker: Callable[[], Session]) -> float:
    """A full rebuild of the summary tables, committed; its seconds."""
    from backend.stats.rollup import rebuild_rollups as rebuild

    started = time.perf_counter()
    with sessionmaker() as session:
        rebuild(session, NOW)
        session.commit()
    return time.perf_counter() - started


# --------------------------------------------------------------------------------- pages, exports, the inbox

PASSWORD = "bench-stats-correct-horse"
LEADER_ROLE = "squad_leader"


def staff_clients(app: Flask, world: World) -> tuple[FlaskClient, FlaskClient, int]:
    """A supervisor's and the busiest squad's leader's logged-in test clients, and that squad's id."""
    from backend.org.models import Squad
    from backend.staff.models import StaffUser
    from backend.staff.services import create_staff

    squad_id = world.squad_of_town[world.busiest_town_id]
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        for username, role, squad in (
            ("bench_supervisor", "supervisor", None),
            ("bench_leader", LEADER_ROLE, session.get(Squad, squad_id)),
        ):
            if session.query(StaffUser.id).filter_by(username=username).first() is None:
                create_staff(
                    session,
                    username=username,
                    display_name="基准测试",
                    role=role,
                    password=PASSWORD,
                    squad=squad,
                )
        session.commit()
    return log_in(app, "bench_supervisor"), log_in(app, "bench_leader"), squad_id


def log_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1) if token else ""},
    )
    if response.status_code != 302:
        raise RuntimeError(f"cannot log in as {username}: {response.status_code}")
    return client


def time_page(
    client: FlaskClient, name: str, path: str, queries: list[dict[str, str]], rounds: int, ceiling: float
) -> Timing:
    timing = Timing(name, ceiling)
    first = client.get(path, query_string=queries[0])
    if first.status_code == 404:
        timing.note = f"GET {path} answers 404: the page is not there yet"
        return timing

    def one(query: dict[str, str]) -> None:
        response = client.get(path, query_string=query)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}?{query} answered {response.status_code}")

    return time_function(
        timing, one, queries, rounds, lambda q: "&".join(f"{k}={v}" for k, v in q.items()) or "-"
    )


def time_inbox_service(
    sessionmaker: Callable[[], Session], leader_id: int, squad_id: int, rounds: int
) -> Timing:
    from backend.cases.services.reads import INBOX_TABS, InboxFilter, list_inbox
    from backend.cases.workflow import Actor, Role

    actor = Actor(Role.SQUAD_LEADER, id=leader_id, label="基准测试", squad_id=squad_id)

    def one(tab: str) -> None:
        with sessionmaker() as session:
            list_inbox(session, actor, InboxFilter(tab=tab), now=NOW)

    return time_function(Timing("inbox service list_inbox", INBOX_CEILING_MS), one, list(INBOX_TABS), rounds)


def leader_id(sessionmaker: Callable[[], Session]) -> int:
    with sessionmaker() as session:
        return session.execute(text("SELECT id FROM staff_user WHERE username = 'bench_leader'")).scalar_one()


def memory_kb(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> None:
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current RSS


def export_window(sessionmaker: Callable[[], Session], rows: int) -> Any:
    """A filter whose cases number about `rows`: the last days of the data, back to where they add up."""
    from backend.stats.filters import StatFilter

    with sessionmaker() as session:
        instant = session.execute(
            text("SELECT created_at FROM case_file ORDER BY created_at DESC LIMIT 1 OFFSET :n"),
            {"n": rows - 1},
        ).scalar()
    return StatFilter(start=(instant + CST).date() if instant else FIRST_DAY, end=LAST_DAY)


def measure_export(sessionmaker: Callable[[], Session], kind: str, rows: int, folder: Path) -> dict[str, Any]:
    """One export of about `rows` cases: its time, the peak RSS and Python's traced peak (in a second run)."""
    from backend.stats import exports

    flt = export_window(sessionmaker, rows)
    path = folder / f"export-{rows}.{kind}"
    written: list[int] = []

    def run() -> None:
        with sessionmaker() as session:
            if kind == "csv":
                with path.open("w", encoding="utf-8", newline="") as out:  # the export writes its own BOM
                    written.append(exports.write_csv(session, flt, out, personal=False, now=NOW))
            else:
                written.append(exports.write_xlsx(session, flt, path, personal=False, now=NOW))

    try:
        gc.collect()
        reset_peak_rss()
        rss_before = memory_kb("VmRSS")
        started = time.perf_counter()
        run()
        seconds = time.perf_counter() - started
        rss_after, rss_peak = memory_kb("VmRSS"), memory_kb("VmHWM")
        tracemalloc.start()
        run()
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    except Exception as exc:
        tracemalloc.stop()
        return {"note": f"failed: {type(exc).__name__}: {exc}"[:300]}
    return {
        "rows": written[0],
        "seconds": seconds,
        "bytes": path.stat().st_size,
        "rss_before_mb": rss_before / 1024,
        "rss_after_mb": rss_after / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "traced_peak_mb": traced_peak / 2**20,
    }


# ------------------------------------------------------------------------------------------------- reporting


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:8.1f}"


def line_of(timing: Timing) -> str:
    ratio = (
        f"{timing.p95 / timing.ceiling_ms:5.2f}" if timing.p95 is not None and timing.ceiling_ms else "    —"
    )
    note = f"  {timing.note}" if timing.note else ""
    return f"{timing.name:34} p50 {ms(timing.p50)}  p95 {ms(timing.p95)}  ceiling {timing.ceiling_ms or 0:5.0f}  p95/ceiling {ratio}{note}"


@dataclass
class SizeResult:
    cases: int
    fill: dict[str, Any] | None
    rebuild_seconds: float | None
    timings: list[Timing]
    exports: dict[str, dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "fill": self.fill,
            "rebuild_rollups_seconds": self.rebuild_seconds,
            "calls": {t.name: t.as_json() for t in self.timings},
            "exports": self.exports,
        }


def print_size(result: SizeResult) -> None:
    print(f"\n=== {result.cases:,} cases ===")
    if result.fill:
        print(f"fill: {FillReport(**result.fill).line()}")
    if result.rebuild_seconds is not None:
        print(f"rebuild_rollups (full, then commit): {result.rebuild_seconds:.1f} s")
    for timing in result.timings:
        print(line_of(timing))
    for name, export in result.exports.items():
        if "note" in export:
            print(f"export {name}: {export['note']}")
            continue
        print(
            f"export {name}: {export['rows']:,} rows in {export['seconds']:.1f} s, {export['bytes'] / 2**20:.1f} MB;"
            f" RSS {export['rss_before_mb']:.0f} → {export['rss_after_mb']:.0f} MB (peak {export['rss_peak_mb']:.0f}),"
            f" traced Python peak {export['traced_peak_mb']:.1f} MB"
        )


def final_rows(results: list[SizeResult]) -> list[dict[str, Any]]:
    """Each call's p95 at every size, its growth from the first size to the last, and its ratio to the
    ceiling at the last size (what matters on a shared, noisy machine); the p50 there beside it."""
    rows = []
    for name in dict.fromkeys(t.name for r in results for t in r.timings):
        found = [next((t for t in r.timings if t.name == name), None) for r in results]
        p95s = [t.p95 if t else None for t in found]
        first, last = p95s[0], p95s[-1]
        ceiling = next(t.ceiling_ms for t in found if t)
        rows.append(
            {
                "call": name,
                "p95_ms": {str(r.cases): p95 for r, p95 in zip(results, p95s, strict=True)},
                "p50_ms_at_largest": found[-1].p50 if found[-1] else None,
                "growth": last / first if first and last else None,
                "ceiling_ms": ceiling,
                "ratio_at_largest": last / ceiling if last is not None and ceiling else None,
            }
        )
    return rows


def print_final(results: list[SizeResult], rows: list[dict[str, Any]]) -> None:
    sizes = [short(r.cases) for r in results]
    header = "".join(f"{'p95@' + size:>11}" for size in sizes)
    print(
        f"\n=== final, in ms ===\n{'call':34}{header}{'p50@' + sizes[-1]:>11}  growth  ceiling  p95/ceiling"
    )
    for row in rows:
        cells = "".join(f"{ms(p):>11}" for p in row["p95_ms"].values())
        growth = f"{row['growth']:5.1f}×" if row["growth"] else "     —"
        ratio = row["ratio_at_largest"]
        print(
            f"{row['call']:34}{cells}{ms(row['p50_ms_at_largest']):>11}  {growth}  {row['ceiling_ms']:7.0f}"
            f"  {ratio or 0:11.2f}" + ("  MISSES" if ratio and ratio > 1 else "")
        )


def save(path: Path | None, results: list[SizeResult]) -> None:
    """The results so far as JSON (written after every size, so a late failure keeps the earlier ones)."""
    if path is None:
        return
    payload = {
        "now": NOW.isoformat(),
        "cpus": os.cpu_count(),
        "sizes": [r.as_json() for r in results],
        "final": final_rows(results),
    }
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def short(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


# ------------------------------------------------------------------------------------------------------ main


def measure(
    app: Flask, world: World, cases: int, rounds: int, folder: Path, *, rebuild: bool = True
) -> SizeResult:
    sessionmaker = app.extensions["db"].sessionmaker
    rebuild_seconds = rebuild_rollups(sessionmaker) if rebuild else None
    if rebuild_seconds is not None:
        print(f"  rebuild_rollups: {rebuild_seconds:.1f} s", flush=True)
    variants = filter_variants(world)
    timings = time_statistics(sessionmaker, variants, rounds)
    supervisor, leader, squad_id = staff_clients(app, world)
    queries = [v.filter.as_query() for v in variants]
    timings.append(
        time_page(
            supervisor, "GET /console/stats (supervisor)", "/console/stats", queries, rounds, STATS_CEILING_MS
        )
    )
    tabs = [{"tab": tab} for tab in ("to_sign", "in_progress", "due_today", "overdue", "all", "mine")]
    timings.append(
        time_page(
            leader, "GET /console/inbox (squad leader)", "/console/inbox", tabs, rounds, INBOX_CEILING_MS
        )
    )
    timings.append(time_inbox_service(sessionmaker, leader_id(sessionmaker), squad_id, rounds))
    exports = {}
    for kind in ("csv", "xlsx"):
        for rows in (10_000, 100_000):
            if rows <= cases:
                exports[f"{kind} {short(rows)}"] = measure_export(sessionmaker, kind, rows, folder)
                print(f"  export {kind} {short(rows)} done", flush=True)
    return SizeResult(cases, None, rebuild_seconds, timings, exports)


def count_cases(app: Flask) -> int:
    with app.extensions["db"].sessionmaker() as session:
        return session.execute(text("SELECT COUNT(*) FROM case_file")).scalar_one()


def make_app(url: str, folder: Path) -> Flask:
    import logging

    app = create_app({"APP_ENV": "testing", "DATABASE_URL": url, "INSTANCE_DIR": str(folder)})
    app.extensions["clock"] = MovableClock(NOW)  # the views see the same "now" as the data
    logging.getLogger("backend.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="mysql+pymysql://root@127.0.0.1:3306/qingpu_bench")
    parser.add_argument(
        "--sizes", default="100000,300000,1000000", help="case counts, ascending, comma-separated"
    )
    parser.add_argument("--rounds", type=int, default=30, help="calls of each function per size")
    parser.add_argument("--chunk", type=int, default=5000, help="cases per INSERT transaction")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--skip-fill", action="store_true", help="measure the existing database as it is")
    parser.add_argument(
        "--skip-rebuild", action="store_true", help="with --skip-fill: read the summary tables as they are"
    )
    parser.add_argument("--seed", type=int, default=13, help="the random seed of the data")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    return args


def run(args: argparse.Namespace, folder: Path) -> list[SizeResult]:
    if not args.skip_fill:
        create_database(args.database_url)
    app = make_app(args.database_url, folder)
    sessionmaker = app.extensions["db"].sessionmaker
    engine = app.extensions["db"].engine
    if not args.skip_fill:
        prepare_database(args.database_url, app.config["QINGPU"].content_dir, sessionmaker)
    with engine.connect() as conn:
        world = load_world(conn)
        buffer_pool = conn.exec_driver_sql("SELECT @@innodb_buffer_pool_size").scalar_one()
    print(
        f"MariaDB innodb_buffer_pool_size {int(buffer_pool) // 2**20} MB; now = {NOW.isoformat()}", flush=True
    )
    results = []
    if args.skip_fill:
        cases = count_cases(app)
        print(f"\n--- measuring the existing {cases:,} cases", flush=True)
        results.append(measure(app, world, cases, args.rounds, folder, rebuild=not args.skip_rebuild))
        print_size(results[-1])
        save(args.out, results)
        return results
    maker = CaseMaker(world, random.Random(args.seed), first_id=1)
    loader = loading_engine(args.database_url)
    have = 0
    for size in args.sizes:
        print(f"\n--- filling to {size:,} cases", flush=True)
        report = fill(loader, maker, size - have, args.chunk, folder)
        have = size
        print(f"  {report.line()}", flush=True)
        result = measure(app, world, size, args.rounds, folder)
        result.fill = asdict(report)
        results.append(result)
        print_size(result)
        save(args.out, results)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="qingpu-bench-stats-"))
    size_buffer_pool(args.database_url)
    try:
        results = run(args, folder)
    finally:
        if not args.keep and not args.skip_fill:
            drop_database(args.database_url)
    print_final(results, final_rows(results))
    if args.out:
        print(f"\nresults written to {args.out}")


if __name__ == "__main__":
    main()
