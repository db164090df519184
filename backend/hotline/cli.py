"""Flask commands for the 12345 hotline: register a client, import work orders from a file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import click
from flask.cli import with_appcontext

from backend.clock import now
from backend.db import get_session
from backend.errors import AppError
from backend.hotline.services import ImportReport, UnreadableRow, create_client, import_orders

REQUIRED_COLUMNS = {"order_no", "content"}
COLUMNS = [
    "order_no",
    "content",
    "address",
    "town",
    "estate",
    "category",
    "caller_name",
    "caller_phone",
    "received_at",
    "in_progress",
]
DEFAULT_CLIENT = "文件导入"
# A filed case holds the day's tracking-number counter until commit: committing in batches keeps residents'
# reports from waiting behind a long import.
BATCH = 50

Numbered = tuple[int, Mapping[str, Any] | UnreadableRow]


@click.group("hotline", help="12345 hotline clients and work-order imports.")
def hotline_group() -> None:
    pass


@hotline_group.command("add-client")
@click.argument("name")
@with_appcontext
def add_client(name: str) -> None:
    """Register a hotline client NAME and print its API key (shown this once, stored only as a hash)."""
    session = get_session()
    try:
        client, key = create_client(session, name)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    session.commit()
    click.echo(f"hotline client {client.name!r} added; its API key (shown only now, send as X-Api-Key):")
    click.echo(key)


def _client_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    value = value.strip()
    if not value or len(value) > 64:
        raise click.BadParameter("1 to 64 characters")
    return value


@hotline_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--client",
    default=DEFAULT_CLIENT,
    show_default=True,
    callback=_client_name,
    help="Where the orders came from; recorded on each case as 12345（CLIENT）.",
)
@with_appcontext
def import_command(path: Path, client: str) -> None:
    """Import work orders from PATH: a .csv with a header row (order_no and content required), a .json list
    of objects, or .jsonl with one object a line. Orders already known are counted, not filed again."""
    suffix = path.suffix.lower()
    readers = {".csv": _csv_rows, ".json": _json_rows, ".jsonl": _json_lines}
    if suffix not in readers:
        raise click.ClickException(
            f"{path}: unsupported file type {suffix or '(none)'}; use .csv, .json or .jsonl"
        )
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            report = _import(readers[suffix](path, fh), client)
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    click.echo(f"{path.name}: {report.summary()}")
    unit = "item" if suffix == ".json" else "line"
    for number, reason in report.skipped:
        click.echo(f"  {unit} {number}: skipped, {reason}")


def _import(rows: Iterable[Numbered], client: str) -> ImportReport:
    session = get_session()
    report = ImportReport()
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        report.include(import_orders(session, batch, client_name=client, now=now()))
        session.commit()
    return report


def _csv_rows(path: Path, fh: TextIO) -> Iterator[Numbered]:
    """Records numbered by the line they start on (the header is line 1; a cell may span lines)."""
    reader = csv.reader(fh)
    header = [name.strip() for name in next(reader, [])]
    missing = REQUIRED_COLUMNS - set(header)
    if missing:
        raise click.ClickException(f"{path}: missing columns {', '.join(sorted(missing))}")
    unknown = [name for name in header if name and name not in COLUMNS]
    if unknown:
        raise click.ClickException(
            f"{path}: unknown columns {', '.join(unknown)}; the columns are {','.join(COLUMNS)}"
        )

    def rows() -> Iterator[Numbered]:
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) > len(header):
                    yield line, UnreadableRow("单元格多于表头的列数")
                else:
                    yield line, {name: cell for name, cell in zip(header, cells, strict=False) if name}
            line = reader.line_num + 1

    return rows()


def _json_rows(path: Path, fh: TextIO) -> Iterator[Numbered]:
    """Items of a JSON list, numbered from 1."""
    try:
        data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, list):
        raise click.ClickException(f"{path}: should hold a list of objects")
    return enumerate(data, start=1)


def _json_lines(path: Path, fh: TextIO) -> Iterator[Numbered]:
    """One JSON object a line, numbered as lines; blank lines are ignored."""
    for number, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, UnreadableRow(f"不是有效的 JSON（{exc.msg}，第 {exc.colno} 列）")
