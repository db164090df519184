"""The figures as plain JSON: what the statistics API returns and what the dashboard's charts are drawn from."""

from __future__ import annotations

from typing import Any

from backend.property.duty import Compliance
from backend.stats.figures import (
    Count,
    Dashboard,
    Duration,
    Handling,
    HotSpot,
    PhaseRow,
    Ranking,
    Rate,
    SquadRow,
    WatchRow,
)
from backend.stats.filters import StatFilter


def rate_json(rate: Rate) -> dict[str, Any]:
    return {"part": rate.part, "whole": rate.whole, "value": rate.value, "percent": rate.percent}


def counts_json(counts: list[Count]) -> list[dict[str, Any]]:
    return [{"key": c.key, "label": c.label, "cases": c.cases} for c in counts]


def filter_json(flt: StatFilter) -> dict[str, Any]:
    return {
        "start": flt.start.isoformat() if flt.start else None,
        "end": flt.end.isoformat() if flt.end else None,
        "phases": list(flt.phases),
        "town": flt.town_id,
        "squad": flt.squad_id,
        "group": flt.group,
        "category": flt.category,
        "source": flt.source,
    }


def _duration_json(duration: Duration) -> dict[str, Any]:
    def point(p: Any) -> dict[str, Any] | None:
        return None if p is None else {"hours_at_most": p.hours, "label": p.label}

    return {"cases": duration.cases, "median": point(duration.median), "p90": point(duration.p90)}


def handling_json(handling: Handling) -> dict[str, Any]:
    return {
        "cases": handling.cases,
        "counts": dict(handling.sums.items()),
        "durations": {name: _duration_json(d) for name, d in handling.durations.items()},
        "sign_on_time": rate_json(handling.sign_on_time),
        "onsite_on_time": rate_json(handling.onsite_on_time),
        "resolve_on_time": rate_json(handling.resolve_on_time),
        "satisfaction": rate_json(handling.satisfaction),
        "overdue_now": handling.overdue_now,
    }


def _phase_json(row: PhaseRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "label": row.label,
        "cases": row.cases,
        "sign_on_time": rate_json(row.sign_on_time),
        "resolve_on_time": rate_json(row.resolve_on_time),
        "satisfaction": rate_json(row.satisfaction),
    }


def _watch_json(row: WatchRow) -> dict[str, Any]:
    return {
        "estate_id": row.estate_id,
        "label": row.label,
        "cases": row.cases,
        "previous": row.previous,
        "change": row.change,
        "months": counts_json(row.months),
    }


def _hot_json(row: HotSpot) -> dict[str, Any]:
    return {
        "estate_id": row.estate_id,
        "label": row.label,
        "cases": row.cases,
        "previous": row.previous,
        "rise": row.rise,
    }


def _squad_json(row: SquadRow) -> dict[str, Any]:
    return {
        "squad_id": row.squad_id,
        "name": row.name,
        "cases": row.cases,
        "open_now": row.open_now,
        "overdue_now": row.overdue_now,
        "sign_on_time": rate_json(row.sign_on_time),
        "resolve_on_time": rate_json(row.resolve_on_time),
        "satisfaction": rate_json(row.satisfaction),
        "score": row.score,
    }


def _company_json(row: Compliance) -> dict[str, Any]:
    return {
        "company_id": row.company.id,
        "name": row.company.name,
        "failures": row.failures,
        "on_time_rate": row.on_time_rate,
        "patrols": row.patrols,
    }


def ranking_json(ranking: Ranking, row_json: Any) -> dict[str, Any]:
    return {"rule": ranking.rule, "rows": [row_json(row) for row in ranking.rows]}


def dashboard_json(board: Dashboard) -> dict[str, Any]:
    return {
        "filter": filter_json(board.filter),
        "refreshed_at": board.refreshed_at.isoformat() if board.refreshed_at else None,
        "handling": handling_json(board.handling),
        "trend": {"grain": board.trend.grain, "points": counts_json(board.trend.points)},
        "by_town": counts_json(board.by_town),
        "by_group": counts_json(board.by_group),
        "by_category": counts_json(board.by_category),
        "by_source": counts_json(board.by_source),
        "by_status": counts_json(board.by_status),
        "phases": [_phase_json(row) for row in board.phases],
        "watch": [_watch_json(row) for row in board.watch],
        "hot_spots": [_hot_json(row) for row in board.hot],
        "squads": ranking_json(board.squads, _squad_json),
        "companies": ranking_json(board.companies, _company_json) if board.companies else None,
    }
