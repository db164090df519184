"""The whole path over HTTP, committed for real: WeChat login, upload, similar, report, the squad's work
through the case services, timeline and messages, rating. In-process jobs on the embedded defaults; a real
RQ worker process when the suite runs with Redis."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from backend import create_app
from backend.accounts.models import User
from backend.cases.services.life import add_note, transition
from backend.cases.services.reads import get_case
from backend.cases.workflow import Actor, Role
from backend.config import PROJECT_ROOT
from backend.org.models import Estate
from tests.support.cleanup import purge_users

API = "/api/mp/v1"


def test_a_resident_reports_and_follows_a_case_to_its_end(
    app, database_url: str, wechat_standin, tmp_path
) -> None:
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    queue_name = f"journey-{uuid.uuid4().hex[:8]}"
    settings = {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "RQ_QUEUE": queue_name,
        "INSTANCE_DIR": str(tmp_path),
        "WECHAT_APP_ID": wechat_standin.app_id,
        "WECHAT_APP_SECRET": wechat_standin.app_secret,
        "WECHAT_API_BASE_URL": wechat_standin.base_url,
        "WECHAT_TEMPLATE_CASE_STATUS": "tmpl-case-status",
    }
    journey = create_app(settings)
    client = journey.test_client()
    database = journey.extensions["db"]
    code = f"code-journey{uuid.uuid4().hex[:6]}"
    user_ids: list[int] = []

    def run_worker() -> None:
        if not redis_url:
            return  # in-process: jobs already ran right after each commit
        env = {**os.environ, **{k: str(v) for k, v in settings.items()}, "PYTHONPATH": str(PROJECT_ROOT)}
        flask = Path(sys.executable).with_name("flask")
        done = subprocess.run(
            [str(flask), "--app", "backend", "worker", "--burst", queue_name],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr

    try:
        # 1. login through WeChat's code-to-session
        login = client.post(API + "/auth/login", json={"code": code})
        assert login.status_code == 200, login.get_json()
        headers = {"Authorization": f"Bearer {login.get_json()['token']}"}
        with database.sessionmaker() as session:
            user_ids.append(
                session.scalar(select(User.id).where(User.openid == wechat_standin.openid_for(code)))
            )
            estate_id = session.scalar(select(Estate.id).where(Estate.name == "徐泾北城招商悦庭"))

        # 2. three one-time subscribe grants
        for _ in range(3):
            assert (
                client.post(
                    API + "/subscriptions", json={"template_id": "tmpl-case-status"}, headers=headers
                ).status_code
                == 201
            )

        # 3. a photo
        picture = io.BytesIO()
        Image.new("RGB", (120, 90), "green").save(picture, "JPEG")
        upload = client.post(
            API + "/uploads", data={"file": (io.BytesIO(picture.getvalue()), "p.jpg")}, headers=headers
        )
        assert upload.status_code == 201
        photo_id = upload.get_json()["id"]

        # 4. anything similar already open?
        similar = client.get(
            API + "/reports/similar",
            query_string={"estate_id": estate_id, "category": "illegal_construction", "building": "8"},
            headers=headers,
        )
        assert similar.status_code == 200
        assert all(item["tracking_no"] for item in similar.get_json()["data"])

        # 5. the report
        filed = client.post(
            API + "/reports",
            json={
                "category": "illegal_construction",
                "description": "8号楼顶层有人正在搭彩钢板房，今天一早开始施工",
                "estate_id": estate_id,
                "building": "8",
                "photos": [photo_id],
                "anonymous": True,
                "in_progress": True,
                "client_request_id": f"journey-{uuid.uuid4().hex[:12]}",
            },
            headers=headers,
        )
        assert filed.status_code == 201, filed.get_json()
        report = filed.get_json()
        number = report["tracking_no"]
        assert report["squad"] == {"name": "徐泾中队"}
        assert report["status"] == "dispatched"

        # 6. the squad's side, through the case services
        with journey.app_context(), database.sessionmaker() as session:
            case = get_case(session, number)
            officer = Actor(Role.OFFICER, 7, "徐泾中队队员", squad_id=case.squad_id)
            transition(session, case, "sign", officer)
            transition(session, case, "investigate", officer)
            add_note(session, case, officer, "内部：当事人称有规划许可，待核实")
            transition(session, case, "verify", officer)
            transition(session, case, "handle", officer, action="demolition")
            transition(session, case, "resolve", officer, public_reply="已责令停工并当场拆除彩钢板房。")
            session.commit()
        run_worker()

        # 7. the resident's view
        detail = client.get(f"{API}/reports/{number}", headers=headers).get_json()
        assert detail["status"] == "resolved" and detail["can_rate"] is True
        assert [i["action"] for i in detail["timeline"]] == [
            "submit",
            "dispatch",
            "sign",
            "investigate",
            "verify",
            "handle",
            "resolve",
        ]
        assert detail["public_reply"] == "已责令停工并当场拆除彩钢板房。"
        assert "待核实" not in str(detail)
        assert client.get(detail["photos"][0]["url"]).status_code == 200

        inbox = client.get(API + "/messages", headers=headers).get_json()
        bodies = [m["body"] for m in inbox["data"]]
        assert bodies[0] == "已办结：已责令停工并当场拆除彩钢板房。"
        assert "已派至徐泾中队处理" in bodies and inbox["unread"] == len(bodies) == 6
        assert "待核实" not in str(inbox)

        # three grants, three WeChat messages: dispatch, sign, investigate; each exactly once
        sent = wechat_standin.subscribe_messages
        assert [m["data"]["phrase3"]["value"] for m in sent] == ["已派单", "已签收", "核查中"]
        assert {m["data"]["character_string2"]["value"] for m in sent} == {number}

        # 8. the rating closes it
        rated = client.post(f"{API}/reports/{number}/rating", json={"score": "satisfied"}, headers=headers)
        assert rated.status_code == 200 and rated.get_json()["status"] == "closed"
    finally:
        purge_users(database.engine, [u for u in user_ids if u])
        database.engine.dispose()
