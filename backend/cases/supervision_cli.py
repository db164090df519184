"""The `flask cases` commands: the deadline sweep that cron runs every few minutes."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from backend.cases.supervision import sweep_deadlines
from backend.clock import now
from backend.config import get_config
from backend.db import get_session


@click.group("cases", help="Cases (工单): time limits and supervision.")
def cases_group() -> None:
    pass


@cases_group.command("sweep")
@with_appcontext
def cases_sweep() -> None:
    """Tell squads of cases due soon or overdue, and the bureau of cases long overdue (idempotent)."""
    config = get_config()
    due_soon = dt.timedelta(hours=config.DUE_SOON_HOURS)
    escalate_after = dt.timedelta(hours=config.ESCALATE_AFTER_HOURS)
    session = get_session()
    report = sweep_deadlines(session, now(), due_soon=due_soon, escalate_after=escalate_after)
    session.commit()
    click.echo(report.summary())
