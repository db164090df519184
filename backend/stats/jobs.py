"""The RQ job that refreshes the statistics' summary tables (asked for by the dashboard when they are stale)."""

from __future__ import annotations

from flask import current_app

from backend.clock import now
from backend.stats.rollup import refresh_rollups


def refresh_summaries() -> str:
    """Sum again the days of the cases changed since the last refresh; a second job at once waits for the
    first's lock and then finds little to do."""
    with current_app.extensions["db"].sessionmaker() as session:
        result = refresh_rollups(session, now())
        session.commit()
    return result.summary()
