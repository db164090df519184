"""The `flask property` commands: the 24-hour sweep of patrol findings that cron runs every few minutes."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.clock import now
from backend.db import get_session
from backend.property.patrols import SWEEP_BATCH, file_overdue_findings


@click.group("property", help="Property companies (物业): patrols and their findings.")
def property_group() -> None:
    pass


@property_group.command("sweep")
@click.option("--batch", default=SWEEP_BATCH, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def property_sweep(batch: int) -> None:
    """File as cases the findings dissuaded or stopped and not put right within 24 hours (上海市住宅物业管理
    规定 第五十九条). Idempotent, and safe to run twice at once: each batch is a transaction of its own."""
    session = get_session()
    instant = now()  # one instant for the whole sweep: each case's time, and the 24 hours' end
    after, filed = 0, 0
    while True:
        batch_done = file_overdue_findings(session, instant, after_id=after, limit=batch)
        session.commit()
        filed += len(batch_done.filed)
        if batch_done.done:
            break
        after = batch_done.last_id
    click.echo(f"property sweep: {filed} findings not put right within 24 hours filed as cases")
