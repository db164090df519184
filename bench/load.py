"""Speed against the ceiling (issue 15): the production set-up (gunicorn --preload with 4 workers, one RQ worker,
MariaDB, Redis) and a one-route Flask app under the same gunicorn settings, each endpoint driven in turn at 16
concurrent connections; prints req/s, the share of the ceiling beside the issue's target, p50/p95/p99 and errors.
The ceiling is measured first for the table's first row and again just before each endpoint (--ceiling-seconds),
and each endpoint's share is of the ceiling measured beside it: this machine is shared, and what it allows moves
by a fifth within minutes. Beside the resident's own list and the console inbox runs each one's floor
(bench/floor_app.py, same gunicorn settings): its own statements sent through PyMySQL from a bare Flask view, which
is as fast as it can be in this stack; the table ends with the share of its floor each reaches.

    .venv/bin/python bench/load.py --database-url mysql+pymysql://root@127.0.0.1:3306/qingpu_load \\
        --redis-url redis://127.0.0.1:6379/9

The database is created (dropped first if it exists), migrated and seeded with the README's commands, and dropped
at the end unless --keep; the Redis database is used as it is (not flushed). WeChat is a local stand-in. The load
comes from wrk when it is on PATH (`apt-get install wrk`), else from a Python client (two processes of threads
on keep-alive connections), which on a small machine takes CPU from the server: compare shares, not req/s,
across generators.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from sqlalchemy.engine import make_url

from backend.db import create_db_engine
from tests.support.wechat_standin import WeChatStandIn

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FLASK = [str(BIN / "flask"), "--app", "backend"]
UID = "@UID@"  # replaced in a request body by a value unique to the request
STAFF_PASSWORD = "load-bench-" + secrets.token_hex(8)
LIST_REPORTS = 20  # reports the list resident has before the run, so that the list has a page to read
TARGETS = {  # share of the ceiling (issue 15)
    "categories": 0.40,
    "estates": 0.40,
    "own_list": 0.20,
    "detail": 0.20,
    "bot": 0.25,
    "report": 0.10,
    "hotline": 0.10,
    "inbox": 0.15,
}
P95_TARGET_MS = 100.0


@dataclass
class Target:
    key: str
    label: str
    port: int
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # a template with UID in it


class Ports(NamedTuple):
    app: int
    ceiling: int
    floor: int  # bench/floor_app.py: the own list's and the inbox's statements alone


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float]  # empty for wrk, which gives the percentiles
    non_2xx: int
    socket_errors: int
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0

    def percentiles(self) -> None:
        if self.latencies_ms:
            ordered = sorted(self.latencies_ms)
            q = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
            self.p50, self.p95, self.p99 = statistics.median(ordered), q[94], q[98]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# -- the database and the accounts --------------------------------------------------------------------------


def recreate_database(url: str, *, drop_only: bool = False) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() not in {"mysql", "mariadb"} or not parsed.database:
        raise SystemExit(
            "--database-url must name a MariaDB database, e.g. mysql+pymysql://root@host/qingpu_x"
        )
    engine = create_db_engine(parsed.set(database="").render_as_string(hide_password=False))
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{parsed.database}`")
        if not drop_only:
            conn.exec_driver_sql(
                f"CREATE DATABASE `{parsed.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    engine.dispose()


def make_accounts() -> dict[str, Any]:
    """Residents with bearer tokens, a squad officer and a hotline client, made through the backend's services
    in the benchmark's database (production has no development login)."""
    import datetime as dt

    from backend import create_app
    from backend.accounts.services import login_with_openid
    from backend.hotline.services import create_client
    from backend.org.models import Estate, Squad
    from backend.staff.services import create_staff

    app = create_app()
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        tokens = {
            name: login_with_openid(
                session,
                openid=f"oLoadBench{name:_<18}"[:28],
                session_key="sk",
                nickname=name,
                ttl=dt.timedelta(days=1),
            ).token
            for name in ("filer", "reader", "chatter")
        }
        estate = (
            session.scalars(select(Estate).where(Estate.name == "康虹花园")).first()
            or session.scalars(select(Estate).order_by(Estate.id)).first()
        )
        assert estate is not None, "the seed made no estate"
        squad = session.get(Squad, estate.squad_id) if getattr(estate, "squad_id", None) else None
        squad = squad or session.scalars(select(Squad).where(Squad.code == "xujing")).first()
        create_staff(
            session,
            username="load_officer",
            display_name="压测队员",
            role="officer",
            password=STAFF_PASSWORD,
            squad=squad,
        )
        _, hotline_key = create_client(session, "负载测试接入方")
        accounts = {
            "tokens": tokens,
            "estate_id": estate.id,
            "estate_name": estate.name,
            "hotline_key": hotline_key,
        }
        session.commit()
    return accounts


# -- processes -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started(
    name: str, argv: list[str], env: dict[str, str], log_dir: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own group (gunicorn's workers go with it), stopped on leaving: TERM, then KILL."""
    log = open(log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        yield process
    finally:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        log.close()


def wait_ready(
    port: int, path: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{log.name} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            status, _, _ = call(port, "GET", path)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"port {port} did not answer {path} within {timeout:.0f} s; see {log}")


def call(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def cookies_of(response: http.client.HTTPResponse, jar: dict[str, str]) -> dict[str, str]:
    for header in response.msg.get_all("Set-Cookie") or []:
        jar.update({k: m.value for k, m in SimpleCookie(header).items()})
    return jar


def console_cookie(port: int) -> str | None:
    """The console's session cookie of the officer, through the real login form (CSRF included)."""
    jar: dict[str, str] = {}
    status, response, html = call(port, "GET", "/console/login")
    match = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    if status != 200 or not match:
        return None
    cookies_of(response, jar)
    form = urllib.parse.urlencode(
        {"username": "load_officer", "password": STAFF_PASSWORD, "csrf_token": match.group(1).decode()}
    ).encode()
    status, response, _ = call(
        port,
        "POST",
        "/console/login",
        form,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{k}={v}" for k, v in jar.items()),
        },
    )
    if status != 302:
        return None
    cookies_of(response, jar)
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    status, _, _ = call(port, "GET", "/console/inbox", headers={"Cookie": cookie})
    return cookie if status == 200 else None


# -- the load generators -------------------------------------------------------------------------------------


def _drive(target: Target, deadline: float, tag: str, out: list[Any]) -> None:
    latencies: list[float] = []
    non_2xx = socket_errors = 0
    conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    n = 0
    while time.perf_counter() < deadline:
        n += 1
        body = target.body.replace(UID, f"{tag}-{n}").encode() if target.body else None
        started_at = time.perf_counter()
        try:
            conn.request(target.method, target.path, body=body, headers=target.headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            socket_errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
            continue
        latencies.append((time.perf_counter() - started_at) * 1000)
        if not 200 <= response.status < 300:
            non_2xx += 1
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    conn.close()
    out.append((latencies, non_2xx, socket_errors))


def _process(target: Target, start: float, seconds: float, threads: int, tag: str, queue: Any) -> None:
    out: list[Any] = []
    workers = [
        threading.Thread(target=_drive, args=(target, start + seconds, f"{tag}{i}", out))
        for i in range(threads)
    ]
    while time.perf_counter() < start:
        time.sleep(0.001)
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    queue.put(out)


def run_python(target: Target, seconds: float, connections: int, processes: int) -> Result:
    """`connections` keep-alive connections, one thread each, spread over `processes` forked processes (one
    process's GIL cannot keep 16 connections busy)."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    run = secrets.token_hex(3)
    start = time.perf_counter() + 0.3  # perf_counter is the same clock in forked children
    per = [connections // processes + (1 if i < connections % processes else 0) for i in range(processes)]
    children = [
        context.Process(target=_process, args=(target, start, seconds, n, f"L{run}p{i}t", queue))
        for i, n in enumerate(per)
        if n
    ]
    for child in children:
        child.start()
    parts = [queue.get() for _ in children]
    for child in children:
        child.join()
    latencies = [ms for part in parts for lat, _, _ in part for ms in lat]
    result = Result(
        requests=len(latencies),
        seconds=seconds,
        latencies_ms=latencies,
        non_2xx=sum(n for part in parts for _, n, _ in part),
        socket_errors=sum(e for part in parts for _, _, e in part),
    )
    result.percentiles()
    return result


def _lua_string(text: str) -> str:
    return " [==[" + text + "]==] "  # spaced: `t[[==[` would open a long string


def wrk_script(target: Target) -> str:
    """A wrk script: the method, headers and a body made unique per request, and a done() that prints the
    figures as one JSON line (wrk's own --latency has no p95)."""
    headers = "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in target.headers.items()
    )
    body = _lua_string(target.body) if target.body else "nil"
    run = secrets.token_hex(3)
    return f"""
wrk.method = {_lua_string(target.method)}
{headers}
local template = {body}
local counter = 0
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tag", "L{run}w" .. #threads)
end

function request()
  counter = counter + 1
  local body = nil
  if template then
    body = (string.gsub(template, "{UID}", (tag or "t") .. "-" .. counter))
  end
  return wrk.format(nil, {_lua_string(target.path)}, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"status":%d,"socket":%d,"p50":%d,"p95":%d,"p99":%d}}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(target: Target, seconds: float, connections: int, threads: int, work: Path) -> Result:
    script = work / f"{target.key}.lua"
    script.write_text(wrk_script(target), encoding="utf-8")
    argv = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{target.port}",
    ]  # fmt: skip
    output = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = [line for line in output.stdout.splitlines() if line.startswith("WRKJSON ")]
    if not lines:
        raise SystemExit(f"wrk printed no figures for {target.label}:\n{output.stdout}{output.stderr}")
    figures = json.loads(lines[0].removeprefix("WRKJSON "))
    # wrk counts 4xx and 5xx as status errors; a 3xx would pass, which no endpoint here should answer
    return Result(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        latencies_ms=[],
        non_2xx=figures["status"],
        socket_errors=figures["socket"],
        p50=figures["p50"] / 1000,
        p95=figures["p95"] / 1000,
        p99=figures["p99"] / 1000,
    )


# -- the run -------------------------------------------------------------------------------------------------


def targets(ports: Ports, accounts: dict[str, Any], cookie: str | None) -> list[Target]:
    tokens = accounts["tokens"]
    json_type = {"Content-Type": "application/json"}
    fragment = urllib.parse.quote(accounts["estate_name"][:2])
    report = {
        "description": "楼顶有人在搭建阳光房，已经搭了一半",
        "estate_id": accounts["estate_id"],
        "client_request_id": UID,
    }
    order = {
        "order_no": UID,
        "content": "楼顶有人在搭建阳光房，已经搭了一半，影响邻居采光",
        "town": "徐泾镇",
        "estate": accounts["estate_name"],
        "caller_phone": "13912345678",
    }
    chat = {"text": "小区里有人违章搭建阳光房，应该找谁管？"}
    app_port = ports.app
    reader = {"Authorization": f"Bearer {tokens['reader']}"}
    found = [
        Target("ceiling", "one-route Flask app (ceiling)", ports.ceiling, "GET", "/"),
        Target("categories", "GET /api/mp/v1/categories", app_port, "GET", "/api/mp/v1/categories"),
        Target(
            "estates", f"GET /api/mp/v1/estates?q={accounts['estate_name'][:2]}", app_port, "GET",
            f"/api/mp/v1/estates?q={fragment}",
        ),
        Target("own_list", "GET /api/mp/v1/reports (own list)", app_port, "GET", "/api/mp/v1/reports", reader),
        Target("floor", "floor of the own list (its statements alone)", ports.floor, "GET", "/reports", reader),
        Target(
            "report", "POST /api/mp/v1/reports", app_port, "POST", "/api/mp/v1/reports",
            {"Authorization": f"Bearer {tokens['filer']}", **json_type}, json.dumps(report, ensure_ascii=False),
        ),
        Target(
            "hotline", "POST /api/hotline/v1/orders", app_port, "POST", "/api/hotline/v1/orders",
            {"X-Api-Key": accounts["hotline_key"], **json_type}, json.dumps(order, ensure_ascii=False),
        ),
        Target(
            "bot", "POST /api/mp/v1/bot/messages", app_port, "POST", "/api/mp/v1/bot/messages",
            {"Authorization": f"Bearer {tokens['chatter']}", **json_type}, json.dumps(chat, ensure_ascii=False),
        ),
    ]  # fmt: skip
    if cookie:
        console = {"Cookie": cookie}
        found.append(Target("inbox", "GET /console/inbox", app_port, "GET", "/console/inbox", console))
        found.append(
            Target(
                "inbox_floor",
                "floor of the inbox (its statements alone)",
                ports.floor,
                "GET",
                "/inbox",
                console,
            )
        )
    return found


def check(target: Target) -> None:
    """One request of each kind answers 2xx before any is measured: a benchmark of error pages measures nothing."""
    body = target.body.replace(UID, "Lcheck-" + secrets.token_hex(4)).encode() if target.body else None
    status, _, text = call(target.port, target.method, target.path, body, target.headers)
    if not 200 <= status < 300:
        raise SystemExit(f"{target.label} answered {status}: {text[:500]!r}")


def print_table(
    rows: list[tuple[Target, Result, float]], generator: str, seconds: float, connections: int
) -> None:
    """One row per endpoint: (the target, its result, the ceiling's req/s measured just before it)."""
    print(f"\n{generator}; {connections} connections, {seconds:g} s per endpoint, one after another\n")
    head = (
        "endpoint", "req/s", "ceiling beside it", "share of the ceiling", "target", "p50 ms", "p95 ms",
        "p99 ms", "errors",
    )  # fmt: skip
    print("| " + " | ".join(head) + " |")
    print("| " + " | ".join(["---"] + ["---:"] * 8) + " |")
    for target, result, ceiling in rows:
        share = result.rate / (ceiling or 1.0)
        goal = TARGETS.get(target.key)
        verdict = "" if goal is None else (f"≥ {goal:.0%} " + ("met" if share >= goal else "missed"))
        p95 = f"{result.p95:.1f}" + ("" if result.p95 < P95_TARGET_MS else " (≥ 100)")
        errors = result.non_2xx + result.socket_errors
        detail = (
            f"{errors}"
            if not errors
            else f"{errors} ({result.non_2xx} non-2xx, {result.socket_errors} socket)"
        )
        print(
            f"| {target.label} | {result.rate:,.0f} | {ceiling:,.0f} | {share:.1%} | {verdict or '—'} "
            f"| {result.p50:.1f} | {p95} | {result.p99:.1f} | {detail} |"
        )
    print(
        f"\ntargets: the shares above, no errors, p95 < {P95_TARGET_MS:.0f} ms at {connections} connections"
    )
    shares = {target.key: result.rate / (ceiling or 1.0) for target, result, ceiling in rows}
    for key, floor, name in (("own_list", "floor", "the own list"), ("inbox", "inbox_floor", "the inbox")):
        if key in shares and shares.get(floor):
            print(
                f"{name} reaches {shares[key] / shares[floor]:.0%} of its floor: the same statements through"
                f" PyMySQL in a bare Flask view ({shares[floor]:.1%} of the ceiling, {TARGETS[key]:.0%} its"
                " target; bench/floor_app.py)"
            )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="a MariaDB database to create, use and drop")
    parser.add_argument("--redis-url", required=True, help="a Redis database for jobs and shared state")
    parser.add_argument("--seconds", type=float, default=12, help="load per endpoint (default 12)")
    parser.add_argument(
        "--ceiling-seconds",
        type=float,
        default=5,
        help="the ceiling measured again for this long just before each endpoint (default 5; 0: only once)",
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads, or client processes (default 2)")
    parser.add_argument(
        "--python-client", action="store_true", help="the Python client even when wrk is there"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (and the logs) at the end")
    return parser.parse_args(argv)


def prepare(stack: ExitStack, args: argparse.Namespace, work: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """The database created, migrated and seeded as the README says, the accounts made; returns the
    environment of a production run and the accounts."""
    recreate_database(args.database_url)
    if not args.keep:
        stack.callback(recreate_database, args.database_url, drop_only=True)
    wechat = stack.enter_context(WeChatStandIn())
    env = {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_API_BASE_URL": wechat.base_url,
        "INSTANCE_DIR": str(work),
        "REPORTS_PER_DAY": str(10**7),  # one resident files thousands here
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),  # this checkout's code, whichever checkout the virtualenv was installed from
    }
    for step in (["db", "upgrade"], ["seed"]):
        subprocess.run([*FLASK, *step], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    os.environ.update(env)  # make_accounts builds the app from the same environment
    return env, make_accounts()


def serve(stack: ExitStack, env: dict[str, str], work: Path) -> tuple[Ports, list[subprocess.Popen[bytes]]]:
    """gunicorn on the service, on the ceiling and on the floors (the own list's and the inbox's), and one RQ
    worker; returns their ports and the processes."""
    ports = Ports(free_port(), free_port(), free_port())
    gunicorn = [str(BIN / "gunicorn"), "--preload", "--workers", "4", "--bind"]
    app = stack.enter_context(
        started("web", [*gunicorn, f"127.0.0.1:{ports.app}", "backend.wsgi:app"], env, work)
    )
    ceiling = stack.enter_context(
        started("ceiling", [*gunicorn, f"127.0.0.1:{ports.ceiling}", "bench.ceiling_app:app"], env, work)
    )
    floor = stack.enter_context(
        started("floor", [*gunicorn, f"127.0.0.1:{ports.floor}", "bench.floor_app:app"], env, work)
    )
    worker = stack.enter_context(started("worker", [*FLASK, "worker"], env, work))
    wait_ready(ports.app, "/healthz", app, work / "web.log")
    wait_ready(ports.ceiling, "/", ceiling, work / "ceiling.log")
    wait_ready(ports.floor, "/healthz", floor, work / "floor.log")
    if worker.poll() is not None:
        raise SystemExit(f"the RQ worker exited:\n{(work / 'worker.log').read_text()[-3000:]}")
    return ports, [app, ceiling, floor, worker]


def prime(ports: Ports, accounts: dict[str, Any]) -> list[Target]:
    """The endpoints to measure, each checked once, and the reader's list filled with a page of reports."""
    app_port = ports.app
    cookie = console_cookie(app_port)
    if cookie is None:
        print("could not log in to the console: the inbox is left out")
    plan = targets(ports, accounts, cookie)
    for target in plan:
        check(target)
    own_list = next(t for t in plan if t.key == "own_list")
    filing = next(t for t in plan if t.key == "report")
    tracking = ""
    for i in range(LIST_REPORTS):
        body = (filing.body or "").replace(UID, f"Lreader-{i:04d}").encode()
        status, _, text = call(app_port, "POST", filing.path, body, {**filing.headers, **own_list.headers})
        assert status in {200, 201}, text[:300]
        tracking = tracking or json.loads(text)["tracking_no"]
    detail = Target(
        "detail", "GET /api/mp/v1/reports/<no> (own report)", app_port, "GET",
        f"/api/mp/v1/reports/{tracking}", own_list.headers,
    )  # fmt: skip
    check(detail)
    plan.insert(plan.index(own_list) + 1, detail)
    return plan


def measure(
    plan: list[Target], load: Callable[[Target, float], Result], seconds: float, ceiling_seconds: float
) -> list[tuple[Target, Result, float]]:
    """Each target of the plan (the ceiling first) loaded for `seconds`, the ceiling loaded again for
    `ceiling_seconds` just before each other one; each row with the ceiling's req/s beside it (its first measure
    when it is not measured again)."""
    ceiling = plan[0]
    assert ceiling.key == "ceiling", "the plan starts with the ceiling"
    rows: list[tuple[Target, Result, float]] = []
    first = 0.0
    for target in plan:
        beside = first
        if target is not ceiling and ceiling_seconds > 0:
            print(f"{ceiling.label}, before {target.label} …", flush=True)
            beside = load(ceiling, ceiling_seconds).rate
        print(f"{target.label} …", flush=True)
        result = load(target, seconds)
        if target is ceiling:
            first = beside = result.rate
        rows.append((target, result, beside))
    return rows


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    if use_wrk:
        generator = f"load generator: wrk ({args.threads} threads)"
    else:
        generator = (
            f"load generator: the Python client ({args.threads} processes of threads, http.client keep-alive);"
            " it shares the CPU with the server, so req/s are lower than wrk's"
        )
        if not args.python_client:
            print("wrk is not on PATH (Debian/Ubuntu: sudo apt-get install wrk); using the Python client")
    # SIGTERM ends the run like Ctrl-C (also when started in the background, where SIGINT comes ignored):
    # every process started here is stopped on the way out
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="qingpu-load-"))
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        env, accounts = prepare(stack, args, work)
        ports, processes = serve(stack, env, work)

        def load(target: Target, seconds: float) -> Result:
            if use_wrk:
                return run_wrk(target, seconds, args.connections, args.threads, work)
            return run_python(target, seconds, args.connections, args.threads)

        rows = measure(prime(ports, accounts), load, args.seconds, args.ceiling_seconds)
        print_table(rows, generator, args.seconds, args.connections)
        if any(p.poll() is not None for p in processes):
            print(f"warning: a process exited during the run; see the logs in {work}")
    if args.keep:
        print(f"kept the database and the logs in {work}")


if __name__ == "__main__":
    main()
