"""The bureau's pages that change what the mini-program's estate search shows (a company's name, an estate's
company, the key-estate watch list): the next GET /api/mp/v1/estates shows the change, though the search is kept
in memory (backend/cache.py)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import Estate
from tests.support.console import csrf_token, login, post


def kanghong(client: FlaskClient) -> dict:
    response = client.get("/api/mp/v1/estates", query_string={"q": "康虹花园", "town": "徐泾镇"})
    assert response.status_code == 200
    return next(e for e in response.get_json()["data"] if e["name"] == "康虹花园")


def test_the_bureaus_changes_are_seen_by_the_next_search(app, session: Session, accounts) -> None:
    resident = app.test_client()
    bureau = login(app.test_client(), accounts["admin"].username)
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    company = accounts["other_property"].company
    before = kanghong(resident)  # the search is held now

    handed = post(bureau, f"/console/companies/{company.id}/estates", {"estate": str(estate_id)})
    assert handed.status_code == 302
    assert kanghong(resident)["property_company"] == {"name": company.name}

    renamed = post(bureau, f"/console/companies/{company.id}", {"name": "改了名的物业公司", "active": "1"})
    assert renamed.status_code == 302, renamed.get_data(as_text=True)[:500]
    assert kanghong(resident)["property_company"] == {"name": "改了名的物业公司"}

    assert post(bureau, f"/console/estates/{estate_id}/end").status_code == 302
    assert kanghong(resident)["property_company"] is None

    token = csrf_token(bureau, "/console/stats")
    watched = not before["is_key"]
    toggled = bureau.post(
        "/console/stats/watch",
        data={"csrf_token": token, "estate": str(estate_id), "watched": "1" if watched else "0"},
    )
    assert toggled.status_code == 302
    assert kanghong(resident)["is_key"] is watched
