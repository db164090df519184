"""The bureau's and squad leaders' statistics: the dashboard, the monthly report and the phase summary, and
the bureau's key-estate watch list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.forms import Form, client_ip, parse
from backend.console.stats_reading import fresh_reader
from backend.db import RowId, get_read_session, get_session
from backend.errors import ValidationFailed, field_errors
from backend.org.models import Estate, Town
from backend.org.services import find_estate, set_watched
from backend.property.companies import get_estate
from backend.stats.access import is_bureau, scoped_filter
from backend.stats.figures import Count, Dashboard, PhaseRow, Rate, dashboard
from backend.stats.filters import PHASES, StatFilter, local_day, parse_filter
from backend.stats.reports import (
    RATE_NAMES,
    Compared,
    Report,
    filter_choices,
    handling_lines,
    last_month,
    month_of,
    monthly_report,
    phase_summary,
    rate_values,
    which_phase,
)
from backend.workcalendar import SHANGHAI

ECHARTS = "vendor/echarts.min.js"  # fetched by `make` from the npm registry, never committed
STATS_ROLES = (*BUREAU, Role.SQUAD_LEADER)
PHASE_LABELS = {phase.code: phase.label for phase in PHASES}
Q = TypeVar("Q", bound=BaseModel)


def _echarts_url() -> str | None:
    """The charting library's address, or None when it has not been fetched (pytest run without `make`): the
    pages then show their tables and say how to get the charts."""
    folder = console_bp.static_folder
    if folder is None or not (Path(folder) / ECHARTS).is_file():
        return None
    return url_for("console.static", filename=ECHARTS)


@console_bp.app_template_filter("local_full")
def local_full(value: dt.datetime) -> str:
    """An instant as the date and time in Shanghai (the `local` filter leaves out the year)."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _query(model: type[Q]) -> Q:
    """The query string as `model`; a 400 page in Chinese when it is not one."""
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(
            errors[0].message, description="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors
        ) from None


# --- the dashboard ------------------------------------------------------------------------------------------


@console_bp.get("/stats")
@require(*STATS_ROLES)
def stats() -> ResponseReturnValue:
    asked = parse_filter(request.args)
    reader = fresh_reader()
    actor = current_actor()
    flt = scoped_filter(reader, actor, asked)
    board = dashboard(reader, flt, now(), companies=is_bureau(actor))
    return render_template(
        "console/stats_dashboard.html",
        board=board,
        flt=flt,
        query=flt.as_query(),
        bureau=is_bureau(actor),
        lines=handling_lines([board.handling]),
        choices=filter_choices(reader),
        charts=dashboard_charts(board),
        echarts=_echarts_url(),
        phase_labels=PHASE_LABELS,
        watched_ids={row.estate_id for row in board.watch},
    )


def _percent(rate: Rate) -> float | None:
    return None if rate.value is None else round(100 * rate.value, 1)


def _bars(counts: Sequence[Count], *, horizontal: bool = False, name: str = "工单数") -> dict[str, Any]:
    return {
        "kind": "bar",
        "horizontal": horizontal,
        "labels": [c.label for c in counts],
        "series": [{"name": name, "values": [c.cases for c in counts]}],
    }


def _phase_chart(rows: Sequence[PhaseRow]) -> dict[str, Any]:
    """Cases by phase as bars, their on-time and satisfaction rates as lines on a percent axis."""
    rates = {
        "按时签收率": [_percent(r.sign_on_time) for r in rows],
        "按时办结率": [_percent(r.resolve_on_time) for r in rows],
        "满意率": [_percent(r.satisfaction) for r in rows],
    }
    return {
        "kind": "bar",
        "labels": [r.label for r in rows],
        "series": [{"name": "工单数", "values": [r.cases for r in rows]}]
        + [
            {"name": name, "values": values, "type": "line", "percent": True}
            for name, values in rates.items()
        ],
    }


def dashboard_charts(board: Dashboard) -> dict[str, Any]:
    """What each chart of the dashboard draws, by the name of its container (`data-chart`); stats.js turns each
    into an ECharts option."""
    rates = rate_values(board.handling)
    charts: dict[str, Any] = {
        "trend": {
            "kind": "line",
            "labels": [p.label for p in board.trend.points],
            "series": [{"name": "工单数", "values": [p.cases for p in board.trend.points]}],
        },
        "towns": _bars(board.by_town),
        "categories": _bars(board.by_category, horizontal=True),
        "sources": _bars(board.by_source),
        "phases": _phase_chart(board.phases),
        "rates": {
            "kind": "bar",
            "percent": True,
            "labels": list(RATE_NAMES.values()),
            "series": [{"name": "比率", "values": list(rates.values())}],
        },
        "hot": {
            "kind": "bar",
            "horizontal": True,
            "labels": [h.label for h in board.hot],
            "series": [
                {"name": "本期", "values": [h.cases for h in board.hot]},
                {"name": "上期", "values": [h.previous for h in board.hot]},
            ],
        },
    }
    for row in board.watch:
        charts[f"watch-{row.estate_id}"] = {
            "kind": "spark",
            "labels": [m.label for m in row.months],
            "series": [{"name": "工单数", "values": [m.cases for m in row.months]}],
        }
    return charts


# --- the watch list -----------------------------------------------------------------------------------------


class WatchForm(Form):
    estate: RowId | None = None  # the buttons beside an estate
    name: str = Field("", max_length=128)  # or an estate by name (and town, for names found in two towns)
    town: RowId | None = None
    watched: bool = True
    back: str = Field("", max_length=2000)  # the dashboard's query string, to return to the same view


@console_bp.post("/stats/watch")
@require(*BUREAU)
def stats_watch() -> ResponseReturnValue:
    form = parse(WatchForm)
    back = parse_filter(dict(parse_qsl(form.back)))
    db = get_session()
    estate = get_estate(db, form.estate) if form.estate else _named_estate(db, form)
    changed = set_watched(db, estate, form.watched, current_actor(), now(), ip=client_ip())
    db.commit()
    if changed:
        flash(f"已将 {estate.name} {'列入' if form.watched else '移出'}重点关注", "ok")
    else:
        flash(f"{estate.name} {'已在' if form.watched else '不在'}重点关注名单中", "ok")
    query: dict[str, Any] = back.as_query()
    return redirect(url_for("console.stats", _anchor="watch", **query))


def _named_estate(db: Session, form: WatchForm) -> Estate:
    town = db.get(Town, form.town) if form.town else None
    estate = find_estate(db, form.name, town) if form.name else None
    if estate is None:
        raise ValidationFailed.on("name", "没有找到这个小区；同名小区请同时选择街镇")
    return estate


# --- the monthly report and the phase summary ---------------------------------------------------------------


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    month: Annotated[str, Field(max_length=16)] = ""
    town: RowId | None = None


class PhaseQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    phase: Annotated[str, Field(max_length=16)] = ""
    town: RowId | None = None


def _report_town(reader: Session, town: int | None) -> int | None:
    """The town the report is about: the one asked for (the bureau: any, or none for the district), a squad
    leader's own whatever they ask."""
    return scoped_filter(reader, current_actor(), StatFilter(town_id=town)).town_id


@console_bp.get("/stats/report")
@require(*STATS_ROLES)
def stats_report() -> ResponseReturnValue:
    query, moment = _query(ReportQuery), now()
    month = month_of(query.month) if query.month else last_month(local_day(moment))
    reader = fresh_reader()
    report = monthly_report(reader, month, _report_town(reader, query.town), moment)
    return _report_page(report, month=month.strftime("%Y-%m"))


@console_bp.get("/stats/phase")
@require(*STATS_ROLES)
def stats_phase() -> ResponseReturnValue:
    query, moment = _query(PhaseQuery), now()
    year, code = which_phase(query.year, query.phase, local_day(moment))
    reader = fresh_reader()
    report = phase_summary(reader, year, code, _report_town(reader, query.town), moment)
    return _report_page(report, year=year, phase=code)


def _report_page(report: Report, **asked: Any) -> str:
    reader = get_read_session()
    return render_template(
        "console/stats_report.html",
        report=report,
        board=report.board,
        asked=asked,
        bureau=is_bureau(current_actor()),
        choices=filter_choices(reader),
        charts=report_charts(report),
        echarts=_echarts_url(),
    )


def _compared_bars(
    rows: Sequence[Compared], labels: Sequence[str], *, horizontal: bool = False
) -> dict[str, Any]:
    return {
        "kind": "bar",
        "horizontal": horizontal,
        "labels": [r.label for r in rows],
        "series": [{"name": label, "values": [r.values[i] for r in rows]} for i, label in enumerate(labels)],
    }


def report_charts(report: Report) -> dict[str, Any]:
    """The dashboard's charts for the report's period, and the comparisons with the other periods."""
    charts = dashboard_charts(report.board)
    labels = [p.label for p in report.periods]
    charts["compare-rates"] = {
        "kind": "bar",
        "percent": True,
        "labels": list(RATE_NAMES.values()),
        "series": [
            {"name": p.label, "values": list(rate_values(p.handling).values())} for p in report.periods
        ],
    }
    charts["compare-categories"] = _compared_bars(report.by_category, labels, horizontal=True)
    charts["compare-sources"] = _compared_bars(report.by_source, labels)
    if report.by_town:
        charts["compare-towns"] = _compared_bars(report.by_town, labels)
    return charts
