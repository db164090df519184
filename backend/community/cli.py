"""The `flask community` commands: the day-before reminder of campaign events, which cron runs every hour."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.clock import now
from backend.community.events import REMIND_BATCH, remind_signups
from backend.db import get_session


@click.group("community", help="Community studios (社区工作室): campaign events.")
def community_group() -> None:
    pass


@community_group.command("remind")
@click.option("--batch", default=REMIND_BATCH, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def community_remind(batch: int) -> None:
    """Remind each resident signed up for an event starting in 18 to 24 hours, once, by an in-app message.
    Run it every hour (or more often); idempotent, and safe to run twice at once: each sign-up is claimed by
    one UPDATE before it is told, and each batch is a transaction of its own."""
    session = get_session()
    instant = now()  # one instant for the whole run: the window is the same for every batch
    after, reminded = 0, 0
    while True:
        batch_done = remind_signups(session, instant, after_id=after, limit=batch)
        session.commit()
        reminded += len(batch_done.reminded)
        if batch_done.done:
            break
        after = batch_done.last_id
    click.echo(f"community remind: {reminded} residents reminded of tomorrow's events")
