"""The deadline sweep beside residents filing reports (issue 15): MariaDB filled with 10,000 cases overdue for
signing and for being on site (each owed four notices) among closed ones, then reports filed through the real
service alone, and again while the sweep runs in another thread; prints the sweep's time and batches, and the
filing latencies alone and during the sweep.

    .venv/bin/python bench/sweep.py --database-url mysql+pymysql://root@127.0.0.1:3306/qingpu_bench_sweep

The database is created (dropped first if it exists) and dropped at the end unless --keep. --whole runs the
sweep as it was before issue 15, all its cases locked in one transaction, for the comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from backend import create_app, migrate
from backend.accounts.models import User
from backend.cases.models import Case, CaseStatus
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.supervision import SWEEP_BATCH, SweepReport, due_case_ids, sweep_deadlines
from backend.db import create_db_engine
from backend.org.models import Estate, Squad
from backend.queue import SESSION_KEY, JobQueue
from backend.seed import seed_content

HOUR = dt.timedelta(hours=1)
NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)  # the sweep's instant and the filings' day
DUE_SOON, ESCALATE_AFTER = 4 * HOUR, 24 * HOUR


def server_and_name(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"mysql", "mariadb"} or not parsed.database:
        raise SystemExit(
            "--database-url must name a MariaDB database, e.g. mysql+pymysql://root@host/qingpu_x"
        )
    return parsed.set(database="").render_as_string(hide_password=False), parsed.database


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    server, name = server_and_name(url)
    engine = create_db_engine(server)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        if not drop_only:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    engine.dispose()


def fill(engine: Engine, due: int, closed: int, chunk: int = 2000) -> int:
    """`due` cases of every squad, each past its signing deadline and its on-site clock by over a day, and
    `closed` resolved ones (no deadline), inserted with executemany in chunks; returns the reporter's id."""
    with Session(engine) as session:
        user = User(openid=f"bench-sweep-{uuid.uuid4().hex[:8]}", nickname="基准")
        session.add(user)
        session.commit()
        squads = list(session.scalars(select(Squad.id).order_by(Squad.id)))
        user_id = user.id
    created, late = NOW - 60 * HOUR, NOW - 30 * HOUR

    def row(n: int, open_: bool) -> dict[str, object]:
        return {
            "tracking_no": f"BS{n:08d}",
            "status": (CaseStatus.DISPATCHED if open_ else CaseStatus.RESOLVED).value,
            "description": "基准测试：到期未签收的工单",
            "squad_id": squads[n % len(squads)],
            "reporter_id": user_id,
            "created_at": created - (0 * HOUR if open_ else 24 * 30 * HOUR),
            "updated_at": created,
            "sign_due_at": late,
            "handle_due_at": NOW + 300 * HOUR,
            "onsite_due_at": late,
            "onsite_at": None if open_ else created,
            "due_at": late if open_ else None,
            "next_due_at": late if open_ else None,
        }

    plan = [(n, n >= closed) for n in range(closed + due)]  # the closed first: older ids, as in life
    with engine.begin() as conn:
        for start in range(0, len(plan), chunk):
            conn.execute(insert(Case), [row(n, open_) for n, open_ in plan[start : start + chunk]])
        conn.exec_driver_sql("ANALYZE TABLE case_file").all()
    return user_id


def explain(engine: Engine) -> list[str]:
    """EXPLAIN of the sweep's reads of case_file, as MariaDB plans them on these rows."""
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "case_file" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        with Session(engine) as session:
            due_case_ids(session, NOW, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    lines = []
    with engine.connect() as conn:
        for statement, parameters in captured:
            for plan in conn.exec_driver_sql("EXPLAIN " + statement, parameters).mappings():
                lines.append(
                    f"  {plan['table']}: type={plan['type']} key={plan['key']} rows={plan['rows']} "
                    f"extra={plan['Extra']}"
                )
    return lines


def file_reports(
    engine: Engine, user_id: int, estate_ids: list[int], stop: threading.Event, limit: int
) -> list[float]:
    """File reports through `submit_report`, one transaction each as the API does, until `stop` is set or
    `limit` are filed; the seconds each took, commit included."""
    queue = JobQueue()
    queue.inline_runner = lambda job: None  # the jobs are not what is measured
    took: list[float] = []
    n = 0
    while not stop.is_set() and len(took) < limit:
        started = time.perf_counter()
        with Session(engine, info={SESSION_KEY: queue}) as session:
            user = session.get(User, user_id)
            submit_report(
                session,
                user,
                ReportInput(
                    description=f"基准测试第{n}条：楼顶有人在搭建阳光房",
                    category="illegal_construction",
                    estate_id=estate_ids[n % len(estate_ids)],
                ),
                now=NOW,
            )
            session.commit()
        took.append(time.perf_counter() - started)
        n += 1
    return took


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": ordered[-1]}


def run(args: argparse.Namespace) -> None:
    recreate_database(args.database_url)
    folder = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": args.database_url, "INSTANCE_DIR": str(folder)})
    migrate.upgrade(args.database_url)
    engine = app.extensions["db"].engine
    with Session(engine) as session:
        seed_content(session, app.config["QINGPU"].content_dir)
        session.commit()
        estate_ids = list(session.scalars(select(Estate.id).order_by(Estate.id).limit(50)))
    started = time.perf_counter()
    user_id = fill(engine, args.cases, args.closed)
    print(
        f"filled {args.cases:,} due and {args.closed:,} closed cases in {time.perf_counter() - started:.1f} s"
    )
    print("EXPLAIN of the sweep's reads:")
    print("\n".join(explain(engine)))

    alone = file_reports(engine, user_id, estate_ids, threading.Event(), args.alone)
    stop = threading.Event()
    during: list[float] = []
    filer = threading.Thread(
        target=lambda: during.extend(file_reports(engine, user_id, estate_ids, stop, 10**9)), daemon=True
    )
    filer.start()
    time.sleep(0.5)  # the filer is under way before the sweep starts
    result: list[SweepReport] = []
    sweeper = threading.get_ident()
    sent = [0]  # the sweep's round trips to MariaDB (the filer's are its own thread's)

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if threading.get_ident() == sweeper:
            # PyMySQL sends an executemany of UPDATE a row at a time; of INSERT, as one statement
            sent[0] += len(parameters) if many and not statement.lstrip().upper().startswith("INSERT") else 1

    event.listen(engine, "before_cursor_execute", count)
    sweep_started = time.perf_counter()
    with Session(engine) as session:
        if args.whole:
            result.append(
                sweep_deadlines(
                    session, NOW, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER, batch_size=10**9
                )
            )
            session.commit()
        else:
            result.append(
                sweep_deadlines(
                    session,
                    NOW,
                    due_soon=DUE_SOON,
                    escalate_after=ESCALATE_AFTER,
                    batch_size=args.batch,
                    commit_each_batch=True,
                )
            )
    sweep_seconds = time.perf_counter() - sweep_started
    event.remove(engine, "before_cursor_execute", count)
    stop.set()
    filer.join()
    report = result[0]

    with Session(engine) as session:
        notices = session.scalar(text("SELECT COUNT(*) FROM staff_notice"))
    a, d = quantiles(alone), quantiles(during)
    mode = "one transaction (before issue 15)" if args.whole else f"batches of {args.batch}"
    print()
    print(
        f"sweep: {args.cases:,} due cases, {mode}: {sweep_seconds:.1f} s "
        f"({sweep_seconds * 1000 / max(args.cases, 1):.1f} ms and {sent[0] / max(args.cases, 1):.2f} round trips "
        f"a case), {report.batches} batches, {notices:,} notices; {report.summary()}"
    )
    print()
    print("| filing a report | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, values, q in (("alone, before the sweep", alone, a), ("during the sweep", during, d)):
        row = " | ".join(f"{q[k] * 1000:.1f}" for k in ("p50", "p95", "p99", "max"))
        print(f"| {label} | {len(values)} | {row} |")
    ratio = " | ".join(f"{d[k] / a[k]:.2f}×" for k in ("p50", "p95", "p99", "max"))
    print(f"| during ÷ alone | | {ratio} |")
    print()
    print(f"filing p99 during the sweep < 1 s: {'yes' if d['p99'] < 1 else 'NO'} ({d['p99'] * 1000:.0f} ms)")
    engine.dispose()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="mysql+pymysql://root@127.0.0.1:3306/qingpu_bench_sweep")
    parser.add_argument("--cases", type=int, default=10_000, help="cases due, each owed four notices")
    parser.add_argument("--closed", type=int, default=20_000, help="resolved cases beside them")
    parser.add_argument("--batch", type=int, default=SWEEP_BATCH, help="cases per transaction of the sweep")
    parser.add_argument(
        "--alone", type=int, default=300, help="reports filed before the sweep, for the baseline"
    )
    parser.add_argument("--whole", action="store_true", help="sweep in one transaction, as before issue 15")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    finally:
        if not args.keep:
            recreate_database(args.database_url, drop_only=True)


if __name__ == "__main__":
    main()
