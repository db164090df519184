"""WeChatGateway over the real HTTP path (wechatpy, requests, a local stand-in of WeChat's API)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from redis import Redis

from backend.errors import AppError
from backend.wechat import WeChatError, WeChatGateway, WeChatSession, to_app_error, truncate_subscribe_data
from backend.wechat.errors import NETWORK_ERROR
from backend.wechat.gateway import REDIS_PREFIX
from tests.support.wechat_standin import (
    CUSTOM_SEND,
    JSCODE2SESSION,
    STABLE_TOKEN,
    SUBSCRIBE_SEND,
    TOKEN,
    WeChatStandIn,
)

INVALID_CODE = (400, "wechat_invalid_code", "登录凭证无效，请重新进入小程序")
RATE_LIMITED = (429, "rate_limited", "请求太频繁，请稍后再试")
UNAVAILABLE = (503, "service_unavailable", "微信服务繁忙，请稍后再试")


def gateway_for(standin: WeChatStandIn, redis: Redis | None = None, **options) -> WeChatGateway:
    return WeChatGateway(
        standin.app_id, standin.app_secret, base_url=standin.base_url, redis=redis, **options
    )


@pytest.fixture
def gateway(wechat_standin: WeChatStandIn) -> WeChatGateway:
    return gateway_for(wechat_standin)


@pytest.fixture
def shared_redis(redis_url: str, wechat_standin: WeChatStandIn) -> Iterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    for key in redis.scan_iter(f"{REDIS_PREFIX}:{wechat_standin.app_id}*"):
        redis.delete(key)
    redis.close()


def assert_app_error(error: AppError, expected: tuple[int, str, str]) -> None:
    assert (error.status, error.code, error.message) == expected


def run_together(count: int, work) -> list:
    """Run `work(i)` in `count` threads released at the same moment; their results, in order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# -- login ------------------------------------------------------------------------------------------------


def test_code_to_session_returns_the_users_openid_and_session_key(wechat_standin, gateway) -> None:
    session = gateway.code_to_session("code-alice")

    assert session.openid == wechat_standin.openid_for("code-alice")
    assert len(session.openid) == 28 and session.openid.startswith("o")
    assert len(session.session_key) == 24
    assert session.unionid is None
    assert gateway.code_to_session("code-alice:2").openid == session.openid
    assert gateway.code_to_session("code-bob").openid != session.openid
    # jscode2session needs no access token, so a login never waits on the token endpoint.
    assert wechat_standin.calls == [("GET", JSCODE2SESSION)] * 3


def test_code_to_session_passes_the_unionid_on(wechat_standin, gateway) -> None:
    wechat_standin.issue_unionid = True

    session = gateway.code_to_session("code-carol")

    assert session.unionid == wechat_standin.unionid_for("code-carol")


def test_the_session_keeps_its_secrets_out_of_repr(gateway) -> None:
    session = gateway.code_to_session("code-alice")

    assert isinstance(session, WeChatSession)
    assert session.openid not in repr(session) and session.session_key not in repr(session)


def test_a_code_works_only_once(gateway) -> None:
    gateway.code_to_session("code-dave")

    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session("code-dave")

    assert caught.value.errcode == 40163
    assert not caught.value.retryable
    assert_app_error(to_app_error(caught.value), INVALID_CODE)


@pytest.mark.parametrize(
    ("code", "errcode", "expected", "retryable"),
    [
        ("not-a-real-code", 40029, INVALID_CODE, False),
        ("code-used-elsewhere", 40163, INVALID_CODE, False),
        ("code-risky-user", 40226, INVALID_CODE, False),
        ("code-too-fast", 45011, RATE_LIMITED, True),
        ("code-daily-quota", 45009, RATE_LIMITED, True),
        ("code-while-busy", -1, UNAVAILABLE, True),
        ("code-system-error", -1000, UNAVAILABLE, False),
    ],
)
def test_login_errors_become_the_right_wechat_and_app_errors(
    wechat_standin, gateway, code, errcode, expected, retryable
) -> None:
    if code.startswith("code-"):
        wechat_standin.fail_code(code, errcode)

    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session(code)

    assert caught.value.errcode == errcode
    assert caught.value.retryable is retryable
    assert not caught.value.user_refused
    error = to_app_error(caught.value)
    assert_app_error(error, expected)
    assert code not in error.message and code not in error.description


def test_an_empty_code_is_refused_without_asking_wechat(wechat_standin, gateway) -> None:
    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session("")

    assert caught.value.errcode == 41008
    assert_app_error(to_app_error(caught.value), INVALID_CODE)
    assert wechat_standin.calls == []


def test_a_wrong_app_secret_is_a_service_error_that_does_not_show_the_secret(wechat_standin) -> None:
    gateway = WeChatGateway(wechat_standin.app_id, "wrong-secret-value", base_url=wechat_standin.base_url)

    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session("code-erin")

    assert caught.value.errcode == 40125
    error = to_app_error(caught.value)
    assert_app_error(error, UNAVAILABLE)
    assert "wrong-secret-value" not in f"{caught.value!r} {error.message} {error.description}"


# -- no answer ------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("failure", ["timeout", "http_502", "refused"])
def test_no_answer_is_a_retryable_network_error_without_credentials(wechat_standin, failure) -> None:
    base_url = wechat_standin.base_url
    if failure == "timeout":
        wechat_standin.stall_next(JSCODE2SESSION, 1.0)
    elif failure == "http_502":
        wechat_standin.fail_next(JSCODE2SESSION, 0, http_status=502)
    else:
        base_url = f"http://127.0.0.1:{_closed_port()}/"
    gateway = WeChatGateway(wechat_standin.app_id, wechat_standin.app_secret, base_url=base_url, timeout=0.3)

    with pytest.raises(WeChatError) as caught:
        gateway.code_to_session("code-frank")

    assert caught.value.errcode == NETWORK_ERROR
    assert caught.value.retryable
    assert_app_error(to_app_error(caught.value), UNAVAILABLE)
    shown = f"{caught.value} {caught.value!r} {caught.value.__context__!r} {caught.value.__cause__!r}"
    assert wechat_standin.app_secret not in shown and "code-frank" not in shown


def test_nothing_secret_reaches_the_log(wechat_standin, gateway, caplog) -> None:
    caplog.set_level(logging.DEBUG)

    session = gateway.code_to_session("code-grace")
    gateway.send_customer_text(session.openid, "您的诉求已受理")
    token = wechat_standin.current_token

    assert "jscode2session" in caplog.text  # urllib3's request log is captured, with its URL
    for secret in (wechat_standin.app_secret, "code-grace", session.session_key, session.openid, token):
        assert secret not in caplog.text


# -- the access token -----------------------------------------------------------------------------------


def test_without_redis_the_token_comes_from_the_stable_endpoint_once(wechat_standin, gateway) -> None:
    first = gateway.access_token()

    assert gateway.access_token() == first == wechat_standin.current_token
    assert wechat_standin.calls == [("POST", STABLE_TOKEN)]
    assert wechat_standin.calls_to(TOKEN) == 0


def test_without_redis_threads_of_one_gateway_fetch_the_token_once(wechat_standin, gateway) -> None:
    wechat_standin.stall_next(STABLE_TOKEN, 0.3)

    tokens = run_together(10, lambda _i: gateway.access_token())

    assert set(tokens) == {wechat_standin.current_token}
    assert wechat_standin.stable_token_calls == 1


def test_a_failing_token_endpoint_is_a_retryable_error_and_is_asked_again_next_time(
    wechat_standin, gateway
) -> None:
    wechat_standin.fail_next(STABLE_TOKEN, -1)

    with pytest.raises(WeChatError) as caught:
        gateway.send_customer_text(wechat_standin.openid_for("code-quinn"), "你好")

    assert caught.value.retryable
    assert wechat_standin.calls_to(CUSTOM_SEND) == 0
    gateway.send_customer_text(wechat_standin.openid_for("code-quinn"), "你好")
    assert wechat_standin.stable_token_calls == 2


@pytest.mark.needs_redis
def test_gateways_sharing_redis_fetch_the_token_once(wechat_standin, shared_redis) -> None:
    first = gateway_for(wechat_standin, shared_redis).access_token()
    second = gateway_for(wechat_standin, shared_redis).access_token()

    assert first == second
    assert wechat_standin.stable_token_calls == 1
    key = f"{REDIS_PREFIX}:{wechat_standin.app_id}_access_token"
    assert 0 < shared_redis.ttl(key) <= 7200 - 300


@pytest.mark.needs_redis
def test_ten_processes_asking_at_once_cause_one_stable_token_call(
    wechat_standin, redis_url, shared_redis
) -> None:
    wechat_standin.stall_next(STABLE_TOKEN, 0.3)
    clients = [Redis.from_url(redis_url) for _ in range(10)]
    gateways = [gateway_for(wechat_standin, client) for client in clients]

    tokens = run_together(10, lambda i: gateways[i].access_token())

    assert set(tokens) == {wechat_standin.current_token}
    assert wechat_standin.stable_token_calls == 1
    for client in clients:
        client.close()


def test_an_expired_token_is_refreshed_once_and_the_send_retried(wechat_standin, gateway) -> None:
    openid = gateway.code_to_session("code-heidi").openid
    gateway.send_customer_text(openid, "第一条")
    wechat_standin.expire_token()
    wechat_standin.calls.clear()

    gateway.send_subscribe_message(openid, "tmpl-accepted", {"thing1": "案件已受理"})

    assert wechat_standin.calls == [
        ("POST", SUBSCRIBE_SEND),  # answered 42001
        ("POST", STABLE_TOKEN),
        ("POST", SUBSCRIBE_SEND),
    ]
    assert len(wechat_standin.subscribe_messages) == 1


def test_a_token_rejected_twice_is_not_retried_forever(wechat_standin, gateway) -> None:
    openid = wechat_standin.openid_for("code-ivan")
    wechat_standin.fail_next(CUSTOM_SEND, 40001, times=5)

    with pytest.raises(WeChatError) as caught:
        gateway.send_customer_text(openid, "你好")

    assert caught.value.errcode == 40001
    assert wechat_standin.calls_to(CUSTOM_SEND) == 2
    assert wechat_standin.stable_token_calls == 2


@pytest.mark.needs_redis
def test_a_token_refreshed_by_one_process_is_used_by_the_others(wechat_standin, shared_redis) -> None:
    first, second = gateway_for(wechat_standin, shared_redis), gateway_for(wechat_standin, shared_redis)
    openid = wechat_standin.openid_for("code-judy")
    first.send_customer_text(openid, "一")
    wechat_standin.expire_token()

    first.send_customer_text(openid, "二")  # 42001, refresh, retry
    second.send_customer_text(openid, "三")

    assert wechat_standin.stable_token_calls == 2
    assert [m["text"]["content"] for m in wechat_standin.custom_messages] == ["一", "二", "三"]


# -- messages -------------------------------------------------------------------------------------------


def test_subscribe_send_wraps_and_cuts_the_values(wechat_standin, gateway) -> None:
    openid = wechat_standin.openid_for("code-kim")
    title = "盈港东路与华青路交叉口人行道被占用堆放大量建筑垃圾"

    gateway.send_subscribe_message(
        openid,
        "tmpl-progress",
        {
            "thing1": title,
            "character_string2": "QP-2024-000123",
            "time3": "2024年5月1日 10:30",
            "phrase4": "已处理完毕了",
        },
        page="pages/case/detail?id=123",
    )

    assert wechat_standin.subscribe_messages == [
        {
            "touser": openid,
            "template_id": "tmpl-progress",
            "page": "pages/case/detail?id=123",
            "data": {
                "thing1": {"value": title[:19] + "…"},
                "character_string2": {"value": "QP-2024-000123"},
                "time3": {"value": "2024年5月1日 10:30"},
                "phrase4": {"value": "已处理完毕"},
            },
        }
    ]


def test_the_standin_refuses_what_wechat_refuses(wechat_standin, gateway) -> None:
    token = gateway.access_token()
    body = {
        "touser": wechat_standin.openid_for("code-lee"),
        "template_id": "tmpl",
        "data": {"thing1": {"value": "字" * 21}},
    }

    answer = requests.post(
        f"{wechat_standin.base_url}{SUBSCRIBE_SEND}", params={"access_token": token}, json=body, timeout=5
    ).json()

    assert answer["errcode"] == 47003
    assert wechat_standin.subscribe_messages == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing1", "事" * 30),
        ("character_string2", "A1-" * 20),
        ("phrase3", "处理中处理中"),
        ("name4", "欧阳王李张刘陈杨黄赵吴"),
        ("name5", "Alexander Hamilton Jr."),
        ("number6", "1" * 40),
        ("letter7", "abc" * 20),
    ],
)
def test_every_cut_value_is_accepted(wechat_standin, gateway, key, value) -> None:
    gateway.send_subscribe_message(wechat_standin.openid_for("code-mia"), "tmpl", {key: value})

    assert len(wechat_standin.subscribe_messages) == 1


@pytest.mark.parametrize(
    ("errcode", "user_refused", "retryable", "expected"),
    [(43101, True, False, UNAVAILABLE), (-1, False, True, UNAVAILABLE), (45009, False, True, RATE_LIMITED)],
)
def test_subscribe_send_errors(wechat_standin, gateway, errcode, user_refused, retryable, expected) -> None:
    wechat_standin.fail_next(SUBSCRIBE_SEND, errcode)

    with pytest.raises(WeChatError) as caught:
        gateway.send_subscribe_message(wechat_standin.openid_for("code-ned"), "tmpl", {"thing1": "提醒"})

    assert (caught.value.errcode, caught.value.user_refused, caught.value.retryable) == (
        errcode,
        user_refused,
        retryable,
    )
    assert_app_error(to_app_error(caught.value), expected)
    assert wechat_standin.calls_to(SUBSCRIBE_SEND) == 1
    assert wechat_standin.subscribe_messages == []


def test_customer_text_is_sent_as_a_text_message(wechat_standin, gateway) -> None:
    openid = wechat_standin.openid_for("code-olga")

    gateway.send_customer_text(openid, "您好，请问有什么可以帮您？")

    assert wechat_standin.custom_messages == [
        {"touser": openid, "msgtype": "text", "text": {"content": "您好，请问有什么可以帮您？"}}
    ]


def test_the_base_url_may_omit_its_trailing_slash(wechat_standin) -> None:
    gateway = WeChatGateway(
        wechat_standin.app_id, wechat_standin.app_secret, base_url=wechat_standin.base_url.rstrip("/")
    )

    gateway.send_customer_text(gateway.code_to_session("code-pat").openid, "你好")

    assert len(wechat_standin.custom_messages) == 1


# -- truncate_subscribe_data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kinds", "expected"),
    [
        ({"thing1": "短标题"}, {}, {"thing1": "短标题"}),
        ({"thing1": "字" * 20}, {}, {"thing1": "字" * 20}),
        ({"thing1": "字" * 21}, {}, {"thing1": "字" * 19 + "…"}),
        ({"thing12": "word " * 10}, {}, {"thing12": "word word word word…"}),
        ({"character_string1": "X" * 33}, {}, {"character_string1": "X" * 32}),
        ({"phrase2": "正在处理中"}, {}, {"phrase2": "正在处理中"}),
        ({"phrase2": "已经处理完毕"}, {}, {"phrase2": "已经处理完毕"[:5]}),
        ({"name3": "司马相如司马相如司马相如"}, {}, {"name3": "司马相如司马相如司马"}),
        ({"name3": "Maximilian Alexander"}, {}, {"name3": "Maximilian Alexander"}),
        ({"name3": "Maximilian Alexander II"}, {}, {"name3": "Maximilian Alexander"}),
        ({"number4": "9" * 40}, {}, {"number4": "9" * 32}),
        ({"letter5": "z" * 40}, {}, {"letter5": "z" * 32}),
        ({"time6": "2024年12月31日 23:59:59 星期二"}, {}, {"time6": "2024年12月31日 23:59:59 星期二"}),
        ({"date7": "2024-12-31"}, {}, {"date7": "2024-12-31"}),
        ({"phone_number8": "021-59700000"}, {}, {"phone_number8": "021-59700000"}),
        ({"title": "字" * 30}, {"title": "thing"}, {"title": "字" * 19 + "…"}),
        ({"thing1": "字" * 30}, {"thing1": "phrase"}, {"thing1": "字" * 5}),
        ({"remark": "字" * 30}, {}, {"remark": "字" * 30}),
    ],
)
def test_truncate_subscribe_data(data, kinds, expected) -> None:
    assert truncate_subscribe_data(data, kinds) == expected
