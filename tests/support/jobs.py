"""Job functions used by the queue tests; the RQ worker imports them by name."""

from __future__ import annotations

from flask import current_app
from redis import Redis

from backend.org.models import PropertyCompany


def record_company_name(company_id: int, key: str) -> None:
    """Copy a committed row's name into Redis, proving the worker sees what the request committed."""
    with current_app.extensions["db"].sessionmaker() as session:
        company = session.get(PropertyCompany, company_id)
        value = company.name if company is not None else "<missing>"
    Redis.from_url(current_app.config["QINGPU"].REDIS_URL).rpush(key, value)
