"""Throughput of the two busiest mini-program calls through the WSGI app on a temporary SQLite database."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend import create_app, migrate
from backend.accounts.services import login_with_openid
from backend.seed import seed_content

ROUNDS = 500


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app(
        {"APP_ENV": "testing", "DATABASE_URL": url, "INSTANCE_DIR": str(folder), "REPORTS_PER_DAY": 10**6}
    )
    migrate.upgrade(url)
    import datetime as dt
    import logging

    logging.getLogger("backend.access").setLevel(logging.WARNING)
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        seed_content(session, app.config["QINGPU"].content_dir)
        token = login_with_openid(session, openid="bench", session_key=None, ttl=dt.timedelta(days=1)).token
        session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for name, call in (
        (
            "GET /estates?q=",
            lambda i: client.get("/api/mp/v1/estates", query_string={"q": "花园", "page": i % 3 + 1}),
        ),
        (
            "POST /reports",
            lambda i: client.post(
                "/api/mp/v1/reports",
                json={
                    "description": f"第{i}次：楼顶有人在搭建阳光房",
                    "estate_id": 4,
                    "client_request_id": f"bench-{i:08d}",
                },
                headers=headers,
            ),
        ),
    ):
        timings = []
        started = time.perf_counter()
        for i in range(ROUNDS):
            t = time.perf_counter()
            response = call(i)
            timings.append((time.perf_counter() - t) * 1000)
            assert response.status_code in {200, 201}, response.get_json()
        total = time.perf_counter() - started
        timings.sort()
        print(
            f"{name:18} {ROUNDS / total:7.0f} req/s  p50 {statistics.median(timings):6.2f} ms"
            f"  p99 {timings[int(len(timings) * 0.99) - 1]:6.2f} ms"
        )


if __name__ == "__main__":
    main()
