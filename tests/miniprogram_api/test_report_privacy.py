"""What a resident sees of a case's photos and of the steps other people took: each kind of photo against each
viewer, and a withdrawal as its reporter's supporters meet it."""

from __future__ import annotations

import io

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CasePhoto, PhotoKind
from backend.cases.services.life import add_note, transition
from backend.cases.services.reads import get_case
from backend.cases.workflow import Actor, Role
from backend.messages.models import Message
from backend.uploads.services import store_upload
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, png_bytes, valid_report


def upload(client: FlaskClient, token: str, color: str) -> str:
    sent = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes(color)), "x.png")}, headers=auth(token)
    )
    assert sent.status_code == 201, sent.get_json()
    return sent.get_json()["id"]


def staff_photo(app: Flask, session: Session, case: Case, kind: str, color: str) -> str:
    """A photo staff attached to the case (an upload with no resident owner)."""
    stored = store_upload(session, app.extensions["storage"], None, png_bytes(color))
    case.photos.append(CasePhoto(upload_id=stored.id, kind=kind, position=len(case.photos)))
    session.flush()
    return stored.id


def seen_photos(client: FlaskClient, token: str, number: str) -> dict[str, str]:
    detail = client.get(f"{API}/reports/{number}", headers=auth(token))
    assert detail.status_code == 200, detail.get_json()
    return {p["id"]: p["url"] for p in detail.get_json()["photos"]}


def test_each_kind_of_photo_against_each_viewer(app, client: FlaskClient, session: Session, resident) -> None:
    _reporter, token = resident
    _neighbour, neighbour_token = make_resident(session, "neighbour")
    _stranger, stranger_token = make_resident(session, "stranger")

    own = upload(client, token, "red")
    filed = client.post(API + "/reports", json=valid_report(session, photos=[own]), headers=auth(token))
    number = filed.get_json()["tracking_no"]
    # the neighbour files the same problem with a photo of their own, which the squad merges into the first
    theirs = upload(client, neighbour_token, "blue")
    second = client.post(
        API + "/reports",
        json=valid_report(session, photos=[theirs], client_request_id="req-neighbour1"),
        headers=auth(neighbour_token),
    ).get_json()["tracking_no"]
    assert client.post(f"{API}/reports/{number}/support", headers=auth(neighbour_token)).status_code == 200

    case = get_case(session, number)
    officer = Actor(Role.OFFICER, 1, "徐泾中队 队员", squad_id=case.squad_id)
    transition(session, get_case(session, second), "merge", officer, parent=case)
    for name in ("sign", "investigate"):
        transition(session, case, name, officer)
    note = add_note(session, case, officer, "现场照片：楼顶钢结构，当事人在场")
    field = staff_photo(app, session, case, PhotoKind.NOTE, "green")
    merged = staff_photo(app, session, case, "merged", "yellow")  # a kind the resident rules do not know
    transferred = staff_photo(app, session, case, "transfer", "purple")
    transition(session, case, "verify", officer)
    transition(session, case, "resolve", officer, public_reply="违法搭建已拆除")
    published = staff_photo(app, session, case, PhotoKind.RESOLUTION, "white")
    session.commit()
    assert note.public is False

    assert set(seen_photos(client, token, number)) == {own, published}
    assert set(seen_photos(client, neighbour_token, number)) == {published}  # not the reporter's
    assert client.get(f"{API}/reports/{number}", headers=auth(stranger_token)).status_code == 404
    assert set(seen_photos(client, neighbour_token, second)) == {theirs}  # their own merged report

    # no signed link exists for staff photos, and a token alone opens only one's own uploads
    every_url = " ".join(
        [*seen_photos(client, token, number).values(), *seen_photos(client, neighbour_token, number).values()]
    )
    for hidden in (field, merged, transferred, theirs):
        assert hidden not in every_url
    for hidden in (field, merged, transferred, theirs):
        assert client.get(f"{API}/uploads/{hidden}", headers=auth(token)).status_code == 404
    for url in seen_photos(client, neighbour_token, number).values():
        assert client.get(url).status_code == 200
    assert client.get(f"{API}/uploads/{published}", headers=auth(neighbour_token)).status_code == 200
    assert client.get(f"{API}/uploads/{published}", headers=auth(stranger_token)).status_code == 404
    assert client.get(f"{API}/uploads/{own}", headers=auth(neighbour_token)).status_code == 404


def test_supporters_are_told_of_a_withdrawal_in_the_third_person(
    client: FlaskClient, session: Session, resident
) -> None:
    _reporter, token = resident
    neighbour, neighbour_token = make_resident(session, "neighbour")
    number = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()[
        "tracking_no"
    ]
    assert client.post(f"{API}/reports/{number}/support", headers=auth(neighbour_token)).status_code == 200
    withdrawn = client.post(
        f"{API}/reports/{number}/withdraw", json={"reason": "邻居已经拆了"}, headers=auth(token)
    )
    assert withdrawn.status_code == 200

    mine = client.get(f"{API}/reports/{number}", headers=auth(token)).get_json()
    assert mine["timeline"][-1]["text"] == "您已撤回"
    theirs = client.get(f"{API}/reports/{number}", headers=auth(neighbour_token)).get_json()
    assert theirs["status"] == "withdrawn"
    assert theirs["timeline"][-1]["text"] == "反映人已撤回，本工单不再办理"
    assert "您已" not in str(theirs)

    told = list(session.scalars(select(Message).where(Message.user_id == neighbour.id)))
    assert [m.title for m in told] == [f"工单 {number} 已撤回"]
    assert "如问题仍然存在，您可以重新反映" in told[0].body
    assert "邻居已经拆了" not in told[0].body  # never the reporter's reason
    reporter_messages = client.get(f"{API}/messages", headers=auth(token)).get_json()["data"]
    assert all("已撤回" not in m["title"] for m in reporter_messages)  # they did it themselves

    _late, late_token = make_resident(session, "latecomer")
    refused = client.post(f"{API}/reports/{number}/support", headers=auth(late_token))
    assert refused.status_code == 400
    assert "撤回" in refused.get_json()["message"] and "已办结" not in refused.get_json()["message"]


def test_a_supporter_reads_the_rating_as_the_reporters(
    client: FlaskClient, session: Session, resident
) -> None:
    _reporter, token = resident
    _neighbour, neighbour_token = make_resident(session, "neighbour")
    number = client.post(API + "/reports", json=valid_report(session), headers=auth(token)).get_json()[
        "tracking_no"
    ]
    assert client.post(f"{API}/reports/{number}/support", headers=auth(neighbour_token)).status_code == 200
    case = get_case(session, number)
    officer = Actor(Role.OFFICER, 1, "队员", squad_id=case.squad_id)
    for name, extra in [
        ("sign", {}),
        ("investigate", {}),
        ("verify", {}),
        ("resolve", {"public_reply": "已拆除"}),
    ]:
        transition(session, case, name, officer, **extra)
    session.commit()
    rated = client.post(f"{API}/reports/{number}/rating", json={"score": "unsatisfied"}, headers=auth(token))
    assert rated.get_json()["timeline"][-1]["text"] == "您评价：不满意，已退回重新处置"
    theirs = client.get(f"{API}/reports/{number}", headers=auth(neighbour_token)).get_json()
    assert theirs["timeline"][-1]["text"] == "反映人已评价，已退回重新处置"
