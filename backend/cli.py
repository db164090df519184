"""Flask commands: migrations, seeding, imports and the RQ worker."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from alembic import command
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.config import get_config
from backend.db import get_session
from backend.messages.services import enqueue_notification, pending_notifications
from backend.migrate import alembic_config, downgrade, upgrade
from backend.org.services import import_estates
from backend.seed import seed_content

ESTATE_COLUMNS = {"estate", "street_or_town", "address"}


def init_app(app: Flask) -> None:
    from backend.cases.supervision_cli import cases_group

    for cmd in (
        db_group,
        seed_command,
        estates_group,
        worker_command,
        notifications_group,
        users_group,
        cases_group,
    ):
        app.cli.add_command(cmd)
    from backend.hotline.cli import hotline_group

    app.cli.add_command(hotline_group)
    from backend.property.cli import property_group

    app.cli.add_command(property_group)
    from backend.community.cli import community_group

    app.cli.add_command(community_group)
    from backend.stats.cli import stats_group

    app.cli.add_command(stats_group)


@click.group("db", help="Database migrations (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    upgrade(get_config().database_url, revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    downgrade(get_config().database_url, revision)


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate/--empty", default=True)
@with_appcontext
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration, by default generated from the models."""
    command.revision(alembic_config(get_config().database_url), message=message, autogenerate=autogenerate)


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Load towns, squads, categories and key estates from content/ (idempotent)."""
    session = get_session()
    result = seed_content(session, get_config().content_dir)
    session.commit()
    click.echo(result.summary())
    for line, reason in result.key_estates.skipped:
        click.echo(f"  key estate {line}: skipped, {reason}")


@click.group("estates", help="Estates (小区).")
def estates_group() -> None:
    pass


@estates_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def estates_import(path: Path) -> None:
    """Import estates from a CSV with columns estate,street_or_town,address[,aliases][,property_company]."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = ESTATE_COLUMNS - set(reader.fieldnames or [])
        if missing:
            raise click.ClickException(f"{path}: missing columns {', '.join(sorted(missing))}")
        session = get_session()
        report = import_estates(session, reader)
    session.commit()
    click.echo(f"{path.name}: {report.summary()}")
    for line, reason in report.skipped:
        click.echo(f"  line {line}: skipped, {reason}")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.argument("queues", nargs=-1)
@with_appcontext
def worker_command(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker inside the app (jobs get the app's database and settings), with RQ's scheduler,
    which puts delayed retries back on their queue (one worker at a time holds its lock)."""
    from backend.worker import AppWorker

    job_queue = current_app.extensions["job_queue"]
    if job_queue.redis is None:
        click.echo("REDIS_URL is not set: jobs run in-process, no worker is needed", err=True)
        sys.exit(1)
    worker = AppWorker(
        list(queues) or [job_queue.queue_name],
        connection=job_queue.redis,
        app=current_app._get_current_object(),  # type: ignore[attr-defined]  # the proxy's, not the app's
    )
    worker.work(burst=burst, with_scheduler=True)


@click.group("notifications", help="The WeChat subscribe-message outbox.")
def notifications_group() -> None:
    pass


@notifications_group.command("relay")
@click.option("--older-than", default=60, show_default=True, help="Seconds a row must have waited.")
@with_appcontext
def notifications_relay(older_than: int) -> None:
    """Send again what Redis or a worker dropped (run every minute from cron). Sending is idempotent."""
    import datetime as dt

    session = get_session()
    ids = pending_notifications(session, older_than=dt.timedelta(seconds=older_than))
    for notification_id in ids:
        enqueue_notification(session, notification_id)
    session.commit()
    click.echo(f"re-queued {len(ids)} notifications")
    from backend.articles.pushes import relay_pushes
    from backend.clock import now

    queued = relay_pushes(session, now=now(), sends_per_second=get_config().WECHAT_SENDS_PER_SECOND)
    session.commit()
    click.echo(f"re-queued {queued} article deliveries")


@click.group("users", help="Console accounts.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True, help="The person's name, shown on the timeline.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "squad_leader", "supervisor", "admin", "editor", "property_staff"]),
)
@click.option("--squad", help="Squad code or town name (officer, squad_leader).")
@click.option("--company", help="Property company name (property_staff).")
@click.password_option(help="At least 10 characters; asked for when not given.")
@with_appcontext
def users_create(
    username: str, display_name: str, role: str, squad: str | None, company: str | None, password: str
) -> None:
    """Create a console account."""
    from sqlalchemy import select

    from backend.errors import AppError
    from backend.org.models import PropertyCompany
    from backend.org.services import find_town
    from backend.staff.services import create_staff

    session = get_session()
    town = find_town(session, squad) if squad else None
    if squad and (town is None or town.squad is None):
        raise click.ClickException(f"unknown squad {squad!r}")
    found_company = (
        session.scalar(select(PropertyCompany).where(PropertyCompany.name == company)) if company else None
    )
    if company and found_company is None:
        raise click.ClickException(f"unknown property company {company!r}")
    try:
        staff = create_staff(
            session,
            username=username,
            display_name=display_name,
            role=role,
            password=password,
            squad=town.squad if town else None,
            company=found_company,
        )
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    session.commit()
    click.echo(f"created {staff.role} {staff.username} (id {staff.id})")
