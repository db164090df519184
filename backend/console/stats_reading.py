"""What the statistics pages and the statistics API read through: the replica, after asking for a refresh."""

from __future__ import annotations

from sqlalchemy.orm import Session

from backend.db import get_read_session, get_session
from backend.stats.rollup import request_refresh


def fresh_reader() -> Session:
    """Ask for a refresh when the summary tables are stale and commit before reading: on the embedded defaults
    the job runs at that commit, so the figures are fresh; with Redis a worker runs it shortly."""
    db = get_session()
    request_refresh(db)
    db.commit()
    return get_read_session()
