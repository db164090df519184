"""Exports of cases as CSV or Excel with the dashboard's filters: the bureau's, a squad leader's own squad's."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from urllib.parse import quote

from flask import Response, request, send_file, stream_with_context
from flask.typing import ResponseReturnValue

from backend.clock import now
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import client_ip
from backend.db import get_read_session, get_session
from backend.stats.exports import (
    EXPORTERS,
    ExportScope,
    csv_body,
    csv_header,
    export_rows,
    export_scope,
    record_export,
    write_xlsx,
)
from backend.stats.filters import parse_filter
from backend.workcalendar import SHANGHAI

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@console_bp.get("/stats/export.csv")
@require(*EXPORTERS)
def stats_export_csv() -> ResponseReturnValue:
    scope, moment = _scope(), now()
    # Audited before the first row leaves; the count is not known until the last one has.
    record_export(get_session(), current_actor(), scope, "csv", ip=client_ip(), now=moment)
    get_session().commit()
    # The header goes out at once, before the query runs (a client that reads no further takes no session);
    # the rows follow, read in the request's context, which stream_with_context pushes again around them.
    rows = stream_with_context(_csv_rows(scope, moment))
    response = Response(_then(csv_header(personal=scope.personal), rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = _attachment(moment, "csv")
    return response


@console_bp.get("/stats/export.xlsx")
@require(*EXPORTERS)
def stats_export_xlsx() -> ResponseReturnValue:
    scope, moment = _scope(), now()
    # An unnamed temporary file: it is gone from the disk as soon as it is closed, after the response is sent.
    workbook = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the response)
    try:
        rows = write_xlsx(get_read_session(), scope.filter, workbook, personal=scope.personal, now=moment)
    except BaseException:
        workbook.close()
        raise
    record_export(get_session(), current_actor(), scope, "xlsx", rows=rows, ip=client_ip(), now=moment)
    get_session().commit()
    workbook.seek(0)
    response = send_file(workbook, mimetype=XLSX)
    response.headers["Content-Disposition"] = _attachment(moment, "xlsx")
    return response


def _csv_rows(scope: ExportScope, moment: dt.datetime) -> Iterator[str]:
    """The CSV's rows, read through a session taken once they are asked for; the teardown of the context
    around them closes it when the stream ends, also when the client goes away halfway."""
    yield from csv_body(export_rows(get_read_session(), scope.filter, personal=scope.personal, now=moment))


def _then(first: str, rest: Iterator[str]) -> Iterator[str]:
    """`first`, then `rest`; a generator, not itertools.chain, so that closing the response (the client went
    away) closes `rest`, and with it the context and the session it reads through."""
    yield first
    yield from rest


def _scope() -> ExportScope:
    """The query string's filter (ValidationFailed, a 400 page, for a bad one) within what the actor may export."""
    flt = parse_filter(request.args)
    asked = request.args.get("personal") == "1"
    return export_scope(get_read_session(), current_actor(), flt, personal_asked=asked)


def _attachment(moment: dt.datetime, extension: str) -> str:
    """A download named in Chinese (RFC 5987 `filename*`), with an ASCII name for clients that lack it."""
    stamp = moment.astimezone(SHANGHAI).strftime("%Y%m%d-%H%M")
    name = quote(f"工单导出-{stamp}.{extension}", safe="")
    return f"attachment; filename=\"cases-{stamp}.{extension}\"; filename*=UTF-8''{name}"
