"""The statistics as JSON for the bureau's own tools: the same figures as the dashboard, with its filters."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.stats_reading import fresh_reader
from backend.errors import ValidationFailed
from backend.stats import figures
from backend.stats.access import scoped_filter
from backend.stats.filters import local_day, parse_filter
from backend.stats.serialise import counts_json, dashboard_json, filter_json, handling_json


@console_bp.get("/api/stats")
@require(*BUREAU, Role.SQUAD_LEADER)
def stats_api() -> ResponseReturnValue:
    """Everything the dashboard draws, for the query string's filter, as JSON."""
    db = fresh_reader()
    flt = scoped_filter(db, current_actor(), parse_filter(request.args))
    board = figures.dashboard(db, flt, now(), companies=current_actor().role in {Role.SUPERVISOR, Role.ADMIN})
    return jsonify(dashboard_json(board))


@console_bp.get("/api/stats/counts")
@require(*BUREAU, Role.SQUAD_LEADER)
def stats_counts_api() -> ResponseReturnValue:
    """Cases by one key (`by`: source, group, category, town, squad, status, phase, month, week, estate)."""
    by = request.args.get("by", "")
    if by not in figures.DIMENSIONS:
        raise ValidationFailed.on("by", "请选择统计维度：" + "、".join(figures.DIMENSIONS.values()))
    db = fresh_reader()
    flt = figures.bounded(
        db, scoped_filter(db, current_actor(), parse_filter(request.args)), local_day(now())
    )
    return jsonify(
        {"filter": filter_json(flt), "by": by, "counts": counts_json(figures.counts_by(db, flt, by))}
    )


@console_bp.get("/api/stats/handling")
@require(*BUREAU, Role.SQUAD_LEADER)
def stats_handling_api() -> ResponseReturnValue:
    """Handling times, on-time rates, satisfaction and repeats for the query string's filter."""
    db = fresh_reader()
    flt = figures.bounded(
        db, scoped_filter(db, current_actor(), parse_filter(request.args)), local_day(now())
    )
    return jsonify(
        {"filter": filter_json(flt), "handling": handling_json(figures.handling_figures(db, flt, now()))}
    )
