"""The summary tables equal the figures worked out case by case, under every filter, and follow the cases as
they change: after a full rebuild, after an incremental refresh, after the real workflow moves a case."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select, update

from backend.cases.models import CaseSource
from backend.cases.services.life import transition
from backend.db import get_read_session, get_session
from backend.org.models import Squad, Town
from backend.stats import figures
from backend.stats.filters import StatFilter
from backend.stats.models import RollupState, case_rollup
from backend.stats.rollup import is_stale, rebuild_rollups, refresh_rollups, request_refresh
from tests.support.cases import NOW as REPORT_NOW
from tests.support.cases import estate, officer, report
from tests.support.stats import at, make_case, plain_counts, plain_rates

AS_OF = at("2026-12-01 12:00")
STATUSES = ["submitted", "dispatched", "signed", "handling", "resolved", "closed", "returned", "withdrawn"]
CATEGORIES = ["illegal_construction", "group_rental", "structural_damage", None]
H = dt.timedelta(hours=1)


@pytest.fixture
def many(session):
    """80 cases over two years in three towns, with random stages, deadlines met or missed, and ratings."""
    rng = random.Random(13)
    estates = [estate(session, name) for name in ("康虹花园", "新青浦花苑", "宜达新居")]
    cases = []
    for _ in range(80):
        created = at("2025-01-01 00:00") + dt.timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
        status = rng.choice(STATUSES)
        signed = status not in {"submitted", "dispatched", "returned", "withdrawn"}
        resolved = status in {"resolved", "closed"}
        cases.append(
            make_case(
                session,
                created,
                town_code=rng.choice(["xiayang", "yingpu", "zhujiajiao"]),
                estate=rng.choice([*estates, None]),
                building=rng.choice(["1", "2"]),
                room=rng.choice(["", "101", "102"]),
                status=status,
                category_code=rng.choice(CATEGORIES),
                source=rng.choice(list(CaseSource)).value,
                sign_due_at=created + 24 * H,
                signed_at=created + rng.choice([2, 20, 40]) * H if signed else None,
                handle_due_at=created + 120 * H,
                resolved_at=created + rng.choice([50, 100, 300]) * H if resolved else None,
                rating=rng.choice([None, "satisfied", "basically_satisfied", "unsatisfied"])
                if resolved
                else None,
            )
        )
    rebuild_rollups(session, AS_OF)
    return cases


def filters(session) -> list[StatFilter]:
    yingpu = session.scalar(select(Town).where(Town.code == "yingpu"))
    squad = session.scalar(select(Squad).where(Squad.town_id == yingpu.id))
    return [
        StatFilter(),
        StatFilter(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        StatFilter(dt.date(2025, 3, 17), dt.date(2026, 2, 3)),
        StatFilter(phases=("overhaul",)),
        StatFilter(dt.date(2025, 6, 15), dt.date(2025, 11, 20), phases=("enforcement", "review")),
        StatFilter(town_id=yingpu.id),
        StatFilter(squad_id=squad.id, start=dt.date(2025, 5, 1)),
        StatFilter(group="housing_safety"),
        StatFilter(category="group_rental", end=dt.date(2026, 1, 31)),
        StatFilter(source="hotline_12345"),
    ]


def test_summary_tables_equal_the_figures_from_the_cases(session, many):
    for flt in filters(session):
        for by, attribute in (("source", "source"), ("category", "category_code"), ("status", "status")):
            expected = {k: n for k, n in plain_counts(session, many, flt, attribute).items()}
            assert {c.key: c.cases for c in figures.counts_by(session, flt, by)} == expected, (flt, by)
        towns = plain_counts(session, many, flt, "town_id")
        assert {c.key: c.cases for c in figures.counts_by(session, flt, "town")} == dict(towns), flt
        handling = figures.handling_figures(session, flt, AS_OF)
        rates = plain_rates(session, many, flt, AS_OF)
        for name in (
            "signed",
            "sign_due",
            "sign_on_time",
            "resolve_due",
            "resolve_on_time",
            "rated",
            "satisfied",
        ):
            assert handling.count(name) == rates.get(name, 0), (flt, name)
        months = figures.counts_by(session, flt, "month")
        assert sum(c.cases for c in months) == sum(towns.values())


def test_week_month_and_year_rows_equal_their_days(session, many):
    def total(grain: str) -> int:
        return session.scalar(select(func.sum(case_rollup.c.cases)).where(case_rollup.c.grain == grain))

    assert total("d") == total("w") == total("m") == total("y") == len(many)


def rollup_rows(session) -> list[tuple]:
    return sorted(tuple(row) for row in session.execute(select(case_rollup)))


def test_a_refresh_of_every_day_sums_as_the_rebuild_did(session, many):
    rebuilt = rollup_rows(session)
    assert sum(1 for row in rebuilt if row[0] == "d") and any(c.estate_id for c in many)
    for case in many:
        case.updated_at = AS_OF  # every case changed: each span looks back 90 days for itself
    session.flush()
    result = refresh_rollups(session, AS_OF)
    assert not result.full and result.cases == len(many)
    assert rollup_rows(session) == rebuilt
    repeats = figures.handling_figures(session, StatFilter(), AS_OF)
    assert repeats.count("repeat_estate") > 0 and repeats.count("repeat_flat") > 0


def test_a_change_is_summed_again_by_the_next_refresh(session, many):
    flt = StatFilter()
    before = {c.key: c.cases for c in figures.counts_by(session, flt, "status")}
    case = next(c for c in many if c.status == "submitted")
    case.status = "withdrawn"  # moves updated_at, as every change does
    session.flush()
    assert {c.key: c.cases for c in figures.counts_by(session, flt, "status")} == before  # not yet summed
    result = refresh_rollups(session, AS_OF)
    assert not result.full and result.days >= 1
    after = {c.key: c.cases for c in figures.counts_by(session, flt, "status")}
    assert after["submitted"] == before["submitted"] - 1
    assert after["withdrawn"] == before.get("withdrawn", 0) + 1


def test_the_first_refresh_sums_everything_and_a_quiet_one_nothing(session, many):
    assert refresh_rollups(session, AS_OF).days == 0  # nothing changed since the rebuild
    assert not is_stale(session)


def test_the_workflow_moves_the_figures(session, resident):
    user, _ = resident
    case = report(session, user, estate_id=estate(session, "康虹花园").id, category="illegal_construction")
    refresh_rollups(session, REPORT_NOW)
    day = StatFilter(REPORT_NOW.date(), REPORT_NOW.date())  # NOW is a Shanghai time
    assert figures.handling_figures(session, day, REPORT_NOW).cases == 1
    assert case.status == "dispatched"  # 康虹花园 is in 徐泾: dispatched to its squad at once
    transition(
        session, case, "sign", officer(session, session.get(Squad, case.squad_id).code), now=REPORT_NOW + H
    )
    refresh_rollups(session, REPORT_NOW + 2 * H)
    handling = figures.handling_figures(session, day, REPORT_NOW + 2 * H)
    assert handling.count("signed") == 1 and handling.sign_on_time.percent == "100.0%"
    assert handling.durations["sign"].median.hours == 1


def test_a_stale_table_asks_for_a_refresh_that_runs_at_the_commit(app, session, connection):
    with app.app_context():
        db = get_session()
        make_case(db, at("2026-11-30 09:00"))
        db.execute(update(RollupState).values(refreshed_at=None))  # whatever another test left
        assert is_stale(db)
        assert request_refresh(db)
        db.commit()  # in-process jobs run here, on the embedded defaults
        if app.extensions["job_queue"].mode == "inline":
            assert not is_stale(db)
            assert figures.handling_figures(db, StatFilter(), AS_OF).cases == 1


def test_reads_go_to_the_replica_when_one_is_set(make_app, tmp_path):
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    app = make_app(DATABASE_REPLICA_URL=replica_url)
    with app.app_context():
        replica = app.extensions["db_replica"].engine
        assert get_read_session().get_bind() is replica
        assert get_session().get_bind() is not replica
        assert str(replica.url) == replica_url
    plain = make_app()
    with plain.app_context():
        assert get_read_session() is get_session()


def test_a_range_is_read_as_its_whole_years_months_and_loose_days():
    d = dt.date
    pieces = StatFilter(d(2024, 12, 30), d(2026, 2, 2)).pieces()
    assert pieces == {
        "y": [d(2025, 1, 1)],
        "m": [d(2026, 1, 1)],
        "d": [d(2024, 12, 30), d(2024, 12, 31), d(2026, 2, 1), d(2026, 2, 2)],
    }
    phased = StatFilter(d(2025, 6, 29), d(2025, 11, 30), phases=("enforcement",)).pieces()
    assert phased["y"] == [] and phased["m"] == [d(2025, 7, 1), d(2025, 8, 1), d(2025, 9, 1), d(2025, 10, 1)]
    assert phased["d"] == []
    weeks = StatFilter(d(2025, 6, 25), d(2025, 7, 8), phases=("overhaul",)).pieces(("w",))
    assert weeks == {
        "w": [],
        "d": [d(2025, 6, 25), d(2025, 6, 26), d(2025, 6, 27), d(2025, 6, 28), d(2025, 6, 29), d(2025, 6, 30)],
    }
