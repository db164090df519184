"""The bot's channels: the mini-program chat endpoint and WeChat's encrypted message push."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from wechatpy.crypto import WeChatCrypto

from backend.cases.models import Case, CaseSource
from backend.chat.store import ConversationStore
from tests.chat.stand_ins import RelatingNlu
from tests.support.chat import CHAT_API, say
from tests.support.fake_nlu import FakeNlu

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat's EncodingAESKey
TOKEN = "qingpu-push-token"


def test_filing_a_report_by_chat(chat_client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    first = say(chat_client, token, "康虹花园8号楼楼顶有人在搭阳光房，搭了好几天")
    sid = first["session_id"]
    assert "照片" in first["text"]
    say(chat_client, token, "跳过", sid)
    confirm = say(chat_client, token, "匿名", sid)
    assert confirm["quick_replies"] == ["确认", "取消"]
    done = say(chat_client, token, "确认", sid)
    assert done["tracking_no"] and done["tracking_no"] in done["text"]
    assert "徐泾中队" in done["text"]
    case = session.scalar(select(Case).where(Case.tracking_no == done["tracking_no"]))
    assert (case.source, case.estate.name, case.building, case.anonymous) == (
        CaseSource.BOT,
        "康虹花园",
        "8",
        True,
    )
    progress = say(chat_client, token, "我反映的问题进度怎么样了")
    assert done["tracking_no"] in progress["text"] and "已派单" in progress["text"]


def test_an_address_longer_than_a_case_holds_is_cut_not_a_server_error(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    sid = say(chat_client, token, "楼顶有人在搭建彩钢板房，已经一周了")["session_id"]
    say(chat_client, token, "青浦区某某路" + "一二三四五六七八九十" * 40, sid)
    for answer in ("跳过", "跳过", "匿名"):
        say(chat_client, token, answer, sid)
    done = say(chat_client, token, "确认", sid)
    case = session.scalar(select(Case).where(Case.tracking_no == done["tracking_no"]))
    assert case.address.startswith("青浦区某某路一二三") and len(case.address) == 255


def test_progress_for_someone_elses_number_reveals_nothing(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    from tests.support.accounts import make_resident

    _user, token = resident
    sid = say(chat_client, token, "康虹花园8号楼楼顶有人在搭阳光房，搭了好几天")["session_id"]
    for turn in ("跳过", "不匿名", "跳过"):  # no photos, named, no phone
        say(chat_client, token, turn, sid)
    number = say(chat_client, token, "确认", sid)["tracking_no"]
    _other, other_token = make_resident(session, "curious")
    answer = say(chat_client, other_token, f"{number} 进度")
    assert "没有找到" in answer["text"] and "徐泾中队" not in answer["text"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": ""},
        {"text": "x" * 1001},
        {"text": "你好", "session_id": "bad id"},
        {"text": 5},
        {"text": "你好", "photos": ["0" * 32] * 10},
        {"text": "你好", "photos": ["../../etc/passwd"]},
        {"text": "你好", "extra": 1},
    ],
)
def test_chat_validates_its_body(chat_client: FlaskClient, resident, body: dict) -> None:
    _user, token = resident
    assert (
        chat_client.post(CHAT_API, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 400
    )


def test_chat_needs_a_login(chat_client: FlaskClient) -> None:
    assert chat_client.post(CHAT_API, json={"text": "你好"}).status_code == 401


# ------------------------------------------------------------------------------------ WeChat push


@pytest.fixture
def push_app(make_app, wechat_standin):
    app = make_app(
        REDIS_URL="",  # in-process jobs: the reply is sent before the response, so the test can see it
        WECHAT_APP_ID=wechat_standin.app_id,
        WECHAT_APP_SECRET=wechat_standin.app_secret,
        WECHAT_API_BASE_URL=wechat_standin.base_url,
        WECHAT_TOKEN=TOKEN,
        WECHAT_ENCODING_AES_KEY=AES_KEY,
    )
    app.extensions["nlu"] = FakeNlu()
    return app


def pushed(
    app_id: str,
    text: str,
    msg_id: int | None,
    *,
    openid: str = "oPushUser0000000000000000001",
    when: int | None = None,
    nonce: str = "nonce-1",
    key: str = AES_KEY,
    plain: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """A message as WeChat pushes it in safe mode, built with wechatpy's own crypto (`plain`: any
    plaintext instead of a text message; `msg_id` None: a push without MsgId)."""
    timestamp = str(when or int(time.time()))
    if plain is None:
        plain = (
            f"<xml><ToUserName><![CDATA[gh_qingpu]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content>"
            + ("" if msg_id is None else f"<MsgId>{msg_id}</MsgId>")
            + "</xml>"
        )
    sealed = ET.fromstring(WeChatCrypto(TOKEN, key, app_id).encrypt_message(plain, nonce, timestamp))
    body = f"<xml><ToUserName><![CDATA[gh_qingpu]]></ToUserName><Encrypt><![CDATA[{sealed.findtext('Encrypt')}]]></Encrypt></xml>"
    query = {
        "msg_signature": sealed.findtext("MsgSignature"),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
    }
    return query, body.encode()


def test_echo_check(push_app) -> None:
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(TOKEN, "1700000000", "abc")
    client = push_app.test_client()
    ok = client.get(
        "/wechat/callback",
        query_string={
            "signature": signer.signature,
            "timestamp": "1700000000",
            "nonce": "abc",
            "echostr": "hello-echo",
        },
    )
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "hello-echo"
    assert ok.mimetype == "text/plain"  # echostr is not signed: never served as a page
    forged = client.get(
        "/wechat/callback",
        query_string={"signature": "0" * 40, "timestamp": "1700000000", "nonce": "abc", "echostr": "x"},
    )
    assert forged.status_code == 403


def test_a_pushed_message_is_answered_once_through_the_customer_service_api(push_app, wechat_standin) -> None:
    client = push_app.test_client()
    query, body = pushed(wechat_standin.app_id, "楼道里着火了", 9001)
    response = client.post("/wechat/callback", query_string=query, data=body)
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert len(wechat_standin.custom_messages) == 1
    sent = wechat_standin.custom_messages[0]
    assert sent["touser"] == "oPushUser0000000000000000001" and "119" in sent["text"]["content"]

    # WeChat retries the same message (new nonce and time): answered "success", not processed again
    retry_query, retry_body = pushed(wechat_standin.app_id, "楼道里着火了", 9001, nonce="nonce-2")
    assert (
        client.post("/wechat/callback", query_string=retry_query, data=retry_body).get_data(as_text=True)
        == "success"
    )
    assert len(wechat_standin.custom_messages) == 1


def test_a_pushed_answer_lists_its_related_questions_once(push_app, wechat_standin) -> None:
    """WeChat shows no buttons: the quick replies are listed under the text, unless the text lists them."""
    push_app.extensions["nlu"] = RelatingNlu(["阳光房算不算违建", "楼顶加个阳光房要审批吗"])
    client = push_app.test_client()
    for n, text in enumerate(["露台搭阳光房违法吗", "你是谁"]):
        query, body = pushed(wechat_standin.app_id, text, 9200 + n, nonce=f"related-{n}")
        assert client.post("/wechat/callback", query_string=query, data=body).status_code == 200
    answer, introduction = (m["text"]["content"] for m in wechat_standin.custom_messages[-2:])
    assert answer.endswith("相关问题：「阳光房算不算违建」、「楼顶加个阳光房要审批吗」")
    assert "回复：" not in answer
    assert introduction.endswith("\n回复：我要反映问题 / 查询办理进度 / 咨询法律问题")


def test_pushed_text_is_read_without_its_invisible_characters(push_app, wechat_standin) -> None:
    client = push_app.test_client()
    query, body = pushed(wechat_standin.app_id, "楼道里\u200b着\u202e火了", 9050)
    assert client.post("/wechat/callback", query_string=query, data=body).get_data(as_text=True) == "success"
    assert "119" in wechat_standin.custom_messages[-1]["text"]["content"]


def test_forged_replayed_and_stale_pushes_are_refused(push_app, wechat_standin) -> None:
    client = push_app.test_client()
    query, body = pushed(wechat_standin.app_id, "你好", 9101)
    forged = dict(query, msg_signature="0" * 40)
    assert client.post("/wechat/callback", query_string=forged, data=body).status_code == 403
    other_key = pushed(wechat_standin.app_id, "你好", 9102, key="Z" * 43)
    assert client.post("/wechat/callback", query_string=other_key[0], data=other_key[1]).status_code == 403
    assert client.post("/wechat/callback", query_string=query, data=body).status_code == 200
    assert (
        client.post("/wechat/callback", query_string=query, data=body).status_code == 403
    )  # the same request again
    stale = pushed(wechat_standin.app_id, "你好", 9103, when=int(time.time()) - 3600)
    assert client.post("/wechat/callback", query_string=stale[0], data=stale[1]).status_code == 403
    assert len(wechat_standin.custom_messages) == 1


@pytest.mark.parametrize(
    "plain",
    [
        "",
        "not xml at all",
        "<xml><FromUserName>oX</FromUserName><Content>你好</Content></xml>",  # no MsgType
        "<xml><MsgType><a>text</a></MsgType></xml>",
        "<xml><MsgType>text</MsgType><MsgId>abc</MsgId></xml>",
    ],
)
def test_a_signed_push_we_cannot_read_is_acknowledged_and_ignored(
    push_app, wechat_standin, plain: str
) -> None:
    query, body = pushed(wechat_standin.app_id, "", 1, plain=plain)
    response = push_app.test_client().post("/wechat/callback", query_string=query, data=body)
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert wechat_standin.custom_messages == []


def test_pushes_without_a_msg_id_from_two_users_are_both_answered(push_app, wechat_standin) -> None:
    client = push_app.test_client()
    for n, openid in enumerate(["oPushUserA000000000000000001", "oPushUserB000000000000000001"]):
        query, body = pushed(wechat_standin.app_id, "楼道里着火了", None, openid=openid, nonce=f"n-{n}")
        assert client.post("/wechat/callback", query_string=query, data=body).status_code == 200
    assert sorted(m["touser"] for m in wechat_standin.custom_messages) == [
        "oPushUserA000000000000000001",
        "oPushUserB000000000000000001",
    ]


@pytest.mark.parametrize("timestamp", ["1" * 400, "abc", "-5", "１７０００００００"])
def test_timestamps_that_are_not_unix_seconds_are_refused(push_app, timestamp: str) -> None:
    response = push_app.test_client().post(
        "/wechat/callback",
        query_string={"timestamp": timestamp, "nonce": "n", "msg_signature": "0" * 40},
        data=b"x",
    )
    assert response.status_code == 403


def test_the_push_url_does_not_exist_without_its_settings(client: FlaskClient) -> None:
    assert client.get("/wechat/callback").status_code == 404


def test_redis_store_shares_conversations_and_dedupes(redis_url: str) -> None:
    from redis import Redis

    redis = Redis.from_url(redis_url)
    a, b = (
        ConversationStore(redis, 60, prefix="test:chat:"),
        ConversationStore(redis, 60, prefix="test:chat:"),
    )
    a.save("u1:s1", {"draft": {"step": "where"}})
    assert b.load("u1:s1") == {"draft": {"step": "where"}}
    assert a.first_time("msg:1", 60) is True and b.first_time("msg:1", 60) is False
    assert redis.ttl("test:chat:u1:s1") > 0
    redis.delete("test:chat:u1:s1", "test:chat:seen:msg:1")
