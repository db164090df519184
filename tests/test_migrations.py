"""The migrations build exactly the schema the models describe, on SQLite and on MariaDB."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect

from backend import migrate
from backend.models import Base


def test_no_drift_between_models_and_migrations(connection: Connection) -> None:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, Base.metadata) == []


def test_migrations_go_down_and_up_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    migrate.downgrade(url, "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_0004_gives_cases_already_filed_their_on_site_clock(tmp_path) -> None:
    """A signed case's stage becomes handling; a case already investigated or found has met its on-site
    clock when that step was taken; next_due_at is the earlier of the running deadlines."""
    import datetime as dt

    from sqlalchemy import Boolean, DateTime, Integer, MetaData, text

    url = f"sqlite:///{tmp_path / 'data.sqlite3'}"
    migrate.upgrade(url, "0003")
    engine = create_engine(url)
    cases = MetaData()
    cases.reflect(engine, only=["case_file", "case_event"])
    t0 = dt.datetime(2026, 11, 26, 2, 0)
    hour = dt.timedelta(hours=1)

    def filled(table, **values):
        """A row with every required column given a plain value."""
        plain = {DateTime: t0, Boolean: False, Integer: 0}
        required = [
            c for c in table.columns if not (c.primary_key or c.nullable or c.server_default is not None)
        ]
        row = {c.name: next((v for t, v in plain.items() if isinstance(c.type, t)), "") for c in required}
        return {**row, **values}

    case_file, case_event = cases.tables["case_file"], cases.tables["case_event"]
    due = {"sign_due_at": t0 + 24 * hour, "onsite_due_at": t0 + 2 * hour, "handle_due_at": t0 + 400 * hour}
    with engine.begin() as conn:
        for number, status, stage in [
            (1, "dispatched", "sign_due_at"),
            (2, "signed", "onsite_due_at"),
            (3, "investigating", "handle_due_at"),
        ]:
            conn.execute(
                case_file.insert().values(
                    filled(
                        case_file,
                        id=number,
                        tracking_no=f"QP20261126-000{number}",
                        status=status,
                        due_at=due[stage],
                        **due,
                    )
                )
            )
        conn.execute(
            case_event.insert().values(
                filled(case_event, case_id=3, action="investigate", created_at=t0 + hour, data="{}")
            )
        )
    migrate.upgrade(url)
    with engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                text("SELECT id, due_at, next_due_at, onsite_at FROM case_file ORDER BY id")
            )
        }
    parse = dt.datetime.fromisoformat
    assert parse(rows[1].next_due_at) == t0 + 2 * hour and rows[1].onsite_at is None
    assert parse(rows[2].due_at) == t0 + 400 * hour  # signed: the stage is handling now
    assert parse(rows[2].next_due_at) == t0 + 2 * hour  # and being on site comes first
    assert parse(rows[3].onsite_at) == t0 + hour
    assert parse(rows[3].next_due_at) == t0 + 400 * hour
    engine.dispose()
