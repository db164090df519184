"""How many statements a resident's reads cost: a bearer token, the list of their reports and a report's detail
each read what they show in a fixed number of statements, however many reports, events and photos there are
(a lazy load per row would add one for each). And what those reads still refuse and hide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.accounts.services import authenticate, issue_token, revoke_token
from backend.cases.models import Case, CasePhoto, PhotoKind
from backend.cases.services.life import add_note, support_case, transition
from backend.cases.services.reads import list_resident_cases
from backend.errors import Unauthorized
from backend.org.models import Estate
from backend.uploads.services import store_upload
from tests.support.accounts import make_resident
from tests.support.cases import NOW, officer, report
from tests.support.mp_api import API, auth, png_bytes

# what runs around a request's own statements in the tests' transaction, not part of its cost
_BOOKKEEPING = ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN")


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The statements the app runs inside the block."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_BOOKKEEPING):
            seen.append(statement)

    engine = app.extensions["db"].engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def one_estate_per_town(session: Session, towns: int) -> list[int]:
    """Estates of different towns: their reports go to different squads."""
    chosen: dict[int, int] = {}
    for estate_id, town_id in session.execute(select(Estate.id, Estate.town_id).order_by(Estate.id)):
        chosen.setdefault(town_id, estate_id)
    assert len(chosen) >= towns
    return list(chosen.values())[:towns]


def file_reports(session: Session, user: User, count: int) -> list[Case]:
    """Reports about different estates, towns (squads) and categories, one with no estate or squad at all."""
    estates = one_estate_per_town(session, 3)
    categories = ["illegal_construction", "garbage_sorting", "group_rental", "green_space_damage"]
    cases = [
        report(
            session,
            user,
            estate_id=estates[i % len(estates)],
            category=categories[i % len(categories)],
            building=str(i + 1),
            contact_phone="13812345678",
            client_request_id=f"cost-{user.id}-{i:04d}",
            now=NOW + dt.timedelta(minutes=i),
        )
        for i in range(count - 1)
    ]
    cases.append(report(session, user, address="外青松公路某处", now=NOW + dt.timedelta(minutes=count)))
    return cases


# -- the bearer token --------------------------------------------------------------------------------------


def test_a_token_is_checked_in_one_statement(app, client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    with statements(app) as seen:
        assert client.get(API + "/reports", headers=auth(token)).status_code == 200
    # the token's user, then the resident's first page: empty, so it tells the total (none) itself
    assert len(seen) == 2, seen
    assert "auth_token" in seen[0] and "app_user" in seen[0]
    for refused in ("not-a-token", token + "x"):
        with statements(app) as seen:
            response = client.get(API + "/reports", headers=auth(refused))
        assert response.status_code == 401 and response.get_json()["code"] == "invalid_token"
        assert len(seen) == 1, seen


def test_a_token_is_refused_from_the_instant_it_expires_or_is_revoked(session: Session) -> None:
    user, _token = make_resident(session, "expiring")
    issued = issue_token(session, user, ttl=dt.timedelta(days=1), now=NOW)
    expires = NOW + dt.timedelta(days=1)
    assert authenticate(session, issued.token, now=expires - dt.timedelta(microseconds=1)) is user
    for late in (expires, expires + dt.timedelta(seconds=1)):
        with pytest.raises(Unauthorized):
            authenticate(session, issued.token, now=late)

    other = issue_token(session, user, ttl=dt.timedelta(days=1), now=NOW)
    assert revoke_token(session, other.token, now=NOW + dt.timedelta(hours=1))
    with pytest.raises(Unauthorized):
        authenticate(session, other.token, now=NOW + dt.timedelta(hours=2))
    with pytest.raises(Unauthorized):
        authenticate(session, "no-such-token", now=NOW)
    # another of the user's tokens is unaffected by one's revocation
    assert authenticate(session, issued.token, now=NOW + dt.timedelta(hours=2)) is user


# -- the list ----------------------------------------------------------------------------------------------


def test_the_list_reads_a_page_in_one_statement_and_counts_only_when_there_are_more(
    app, client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    cases = file_reports(session, user, 7)
    neighbour, _ = make_resident(session, "listneighbour")
    others = report(session, neighbour, estate_id=cases[0].estate_id, client_request_id="cost-neighbour-1")
    support_case(session, others, user)  # supported, not theirs: not in their list
    session.commit()
    numbers = [c.tracking_no for c in reversed(cases)]  # newest first

    with statements(app) as seen:
        body = client.get(API + "/reports", headers=auth(token)).get_json()
    assert [r["tracking_no"] for r in body["data"]] == numbers
    assert body["pagination"] == {"page": 1, "per_page": 20, "total": 7, "pages": 1}
    assert len(seen) == 2, seen  # the token; the page, with each report's category, estate and squad joined

    # the last page tells the total, a full one too (it finds no report after its own); a page with more
    # after it, or past the end, counts them
    for per_page, page, shown, cost in [
        (7, 1, numbers, 2),
        (3, 1, numbers[:3], 3),
        (3, 2, numbers[3:6], 3),
        (3, 3, numbers[6:], 2),
        (3, 4, [], 3),
    ]:
        with statements(app) as seen:
            body = client.get(
                API + "/reports", query_string={"per_page": per_page, "page": page}, headers=auth(token)
            ).get_json()
        assert [r["tracking_no"] for r in body["data"]] == shown
        pages = -(-7 // per_page)
        assert body["pagination"] == {"page": page, "per_page": per_page, "total": 7, "pages": pages}
        assert len(seen) == cost, (per_page, page, seen)


def test_the_list_shows_each_report_as_its_detail_does(
    app, client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    cases = file_reports(session, user, 5)
    signed = next(c for c in cases if c.squad is not None)
    transition(session, signed, "sign", officer(session, signed.squad.code))
    session.commit()

    listed = client.get(API + "/reports", headers=auth(token)).get_json()["data"]
    assert any(r["squad"] is None for r in listed) and any(r["squad"] for r in listed)
    assert len({r["category"]["code"] for r in listed if r["category"]}) > 1
    assert {r["status"] for r in listed} > {"signed"}
    for item in listed:
        detail = client.get(f"{API}/reports/{item['tracking_no']}", headers=auth(token)).get_json()
        assert detail["timeline"] and item["timeline"] == [] and item["photos"] == []
        assert {**detail, "timeline": [], "photos": []} == item
        assert item["mine"] is True and item["description"]


def test_the_service_pages_as_the_api_does(session: Session, resident) -> None:
    user, _token = resident
    assert list_resident_cases(session, user, page=1, per_page=5).total == 0
    file_reports(session, user, 4)
    for page, per_page, count, total in [
        (1, 5, 4, 4),
        (1, 4, 4, 4),
        (2, 4, 0, 4),
        (2, 3, 1, 4),
        (9, 2, 0, 4),
    ]:
        read = list_resident_cases(session, user, page=page, per_page=per_page)
        assert (len(read.items), read.total) == (count, total), (page, per_page)


# -- the detail --------------------------------------------------------------------------------------------


def test_a_detail_is_four_statements_and_still_hides_notes_and_staff_photos(
    app, client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    supporter, supporter_token = make_resident(session, "detailsupporter")
    _stranger, stranger_token = make_resident(session, "detailstranger")
    storage = app.extensions["storage"]
    own = store_upload(session, storage, user.id, png_bytes("red"))
    case = report(session, user, estate_id=one_estate_per_town(session, 1)[0], photo_ids=[own.id])
    support_case(session, case, supporter)
    worker = officer(session, case.squad.code)
    for name in ("sign", "investigate"):
        transition(session, case, name, worker)
    add_note(session, case, worker, "当事人态度恶劣，内部备注")
    for kind, color in [
        (PhotoKind.NOTE, "green"),
        (PhotoKind.PROPERTY, "blue"),
        (PhotoKind.RESOLUTION, "white"),
    ]:
        stored = store_upload(session, storage, None, png_bytes(color))
        case.photos.append(CasePhoto(upload_id=stored.id, kind=kind, position=len(case.photos)))
    transition(session, case, "verify", worker)
    transition(session, case, "resolve", worker, public_reply="违法搭建已拆除")
    session.commit()
    published = {p.upload_id for p in case.photos if p.kind == PhotoKind.RESOLUTION}
    url = f"{API}/reports/{case.tracking_no}"

    with statements(app) as seen:
        mine = client.get(url, headers=auth(token))
    assert mine.status_code == 200
    # the token; the case with category, estate, squad, who may read it and whether it has photos; its public
    # timeline; its photos
    assert len(seen) == 4, seen
    body = mine.get_json()
    assert {p["id"] for p in body["photos"]} == {own.id, *published}
    assert "内部备注" not in mine.get_data(as_text=True)
    assert [t["action"] for t in body["timeline"]][-1] == "resolve"
    assert "note" not in [t["action"] for t in body["timeline"]]
    assert body["mine"] is True and body["contact_phone"] == case.contact_phone

    with statements(app) as seen:
        theirs = client.get(url, headers=auth(supporter_token))
    assert theirs.status_code == 200 and len(seen) == 4, seen
    body = theirs.get_json()
    assert {p["id"] for p in body["photos"]} == published
    assert body["mine"] is False and body["contact_phone"] is None and body["description"] == ""

    with statements(app) as seen:
        refused = client.get(url, headers=auth(stranger_token))
    assert refused.status_code == 404 and refused.get_json()["code"] == "case_not_found"
    assert len(seen) == 2, seen
    with statements(app) as seen:
        assert client.get(f"{API}/reports/not-a-number", headers=auth(token)).status_code == 404
    assert len(seen) == 1, seen


def test_a_detail_without_photos_reads_none(app, client: FlaskClient, session: Session, resident) -> None:
    user, token = resident
    case = report(session, user, estate_id=one_estate_per_town(session, 1)[0])
    session.commit()

    with statements(app) as seen:
        body = client.get(f"{API}/reports/{case.tracking_no}", headers=auth(token)).get_json()
    # the token; the case, which tells it has no photos; its timeline
    assert len(seen) == 3, seen
    assert [s for s in seen if "case_photo" in s] == [seen[1]]
    assert body["photos"] == [] and [t["action"] for t in body["timeline"]] == ["submit", "dispatch"]
