"""The `flask stats` commands: refresh the summary tables (cron, every few minutes) or rebuild them whole."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from backend.clock import now
from backend.db import get_session
from backend.stats.rollup import rebuild_rollups, refresh_rollups


@click.group("stats", help="Statistics (统计): the summary tables the dashboard, reports and exports read.")
def stats_group() -> None:
    pass


@stats_group.command("refresh")
@with_appcontext
def stats_refresh() -> None:
    """Sum again the days of the cases changed since the last refresh (all days the first time)."""
    session = get_session()
    result = refresh_rollups(session, now())
    session.commit()
    click.echo(result.summary())


@stats_group.command("rebuild")
@with_appcontext
def stats_rebuild() -> None:
    """Sum every day again from the cases (after an import or a restore)."""
    session = get_session()
    result = rebuild_rollups(session, now())
    session.commit()
    click.echo(result.summary())
