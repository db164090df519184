"""The `flask cases` commands: the deadline sweep that cron runs every few minutes."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from backend.cases.supervision import SWEEP_BATCH, sweep_deadlines
from backend.clock import now
from backend.config import get_config
from backend.db import get_session


@click.group("cases", help="Cases (工单): time limits and supervision.")
def cases_group() -> None:
    pass


@cases_group.command("sweep")
@click.option("--batch", default=SWEEP_BATCH, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def cases_sweep(batch: int) -> None:
    """Tell squads of cases due soon or overdue, and the bureau of cases long overdue. Idempotent, and safe
    to run twice at once: each batch of cases is a short transaction of its own, and a batch that fails is
    rolled back alone and left to the next run (exit status 1 when the sweep had to stop)."""
    config = get_config()
    due_soon = dt.timedelta(hours=config.DUE_SOON_HOURS)
    escalate_after = dt.timedelta(hours=config.ESCALATE_AFTER_HOURS)
    session = get_session()
    report = sweep_deadlines(
        session,
        now(),
        due_soon=due_soon,
        escalate_after=escalate_after,
        batch_size=batch,
        commit_each_batch=True,
    )
    click.echo(report.summary())
    if report.stopped:
        raise SystemExit(1)
