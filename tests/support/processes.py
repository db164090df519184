"""Real processes for the fault tests: private Redis and MariaDB servers on free ports, the service under
gunicorn and its RQ workers. Each runs in a process group of its own, and a test can kill it with everything it
forked (gunicorn's workers, RQ's work horse); none outlives its test.

Never the shared servers on 3306 and 6379: a test that stops a server stops one it started.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pymysql
import requests
from redis import Redis
from redis.exceptions import RedisError

from backend.config import PROJECT_ROOT
from tests.support.wechat_standin import WeChatStandIn

BIN = Path(sys.executable).parent
FLASK = [str(BIN / "flask"), "--app", "backend"]
GUNICORN = BIN / "gunicorn"
SERVER_BINARIES = ("redis-server", "mariadbd", "mariadb-install-db")
CASE_STATUS_TEMPLATE = "tmpl-case-status"
# MariaDB kept small: it starts in well under a second and holds a few thousand rows
MARIADB_OPTIONS = (
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--skip-log-bin",
    "--skip-name-resolve",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
)


# Debian puts mariadbd in /usr/sbin, which an ordinary user's PATH may lack
SBIN = os.pathsep.join(("/usr/local/sbin", "/usr/sbin", "/sbin"))


def binary(name: str) -> str:
    """The path of a server's program, on PATH or in an sbin folder; `name` itself when it is in neither."""
    return shutil.which(name) or shutil.which(name, path=SBIN) or name


def missing_binaries() -> list[str]:
    """The servers' programs this machine lacks (the fault tests skip without them, or fail in CI)."""
    return [name for name in SERVER_BINARIES if binary(name) == name]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str | Callable[[], str], *, interval: float = 0.05
) -> Any:
    """Poll `condition` until it returns something true, and return that; fail after `timeout` naming `what`
    (a callable is asked only then: say, for the end of the processes' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what() if callable(what) else what}")
        time.sleep(interval)


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc (Linux)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # it ended meanwhile
        # pid (comm) state ppid …: the command's name may hold spaces and parentheses
        parents[int(text.split(" ", 1)[0])] = int(text.rsplit(")", 1)[1].split()[1])
    return parents


class Process:
    """A command started in its own process group, its output appended to `log_path`."""

    def __init__(
        self, argv: list[str], env: Mapping[str, str], log_path: Path, *, cwd: Path = PROJECT_ROOT
    ) -> None:
        self.argv = argv
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv, env=dict(env), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def children(self) -> list[int]:
        """The ids of the processes this one forked (gunicorn's workers, RQ's work horse)."""
        return sorted(pid for pid, parent in _parents().items() if parent == self.pid)

    def _tree(self) -> list[int]:
        # RQ's work horse calls setsid(): it leaves the group, so the tree is walked (as systemd's cgroup would)
        parents = _parents()
        tree, frontier = [], [self.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            tree += frontier
        return tree

    def signal_all(self, sig: signal.Signals) -> None:
        """Send `sig` to the process, its group and everything it forked (while it lives: once it is gone, its
        id may be another's)."""
        for pid in self._tree() if self.alive else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL to it and everything it forked, as a crash of the machine, the OOM killer or systemd's
        final kill would: nothing gets to clean up."""
        self.signal_all(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM to the group, SIGKILL to whatever is left after `timeout`."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.signal_all(signal.SIGKILL)  # also children that outlived it, or left its group
        self.popen.wait(10)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Supervised:
    """A process started again whenever it exits, as systemd's Restart=always does (deploy/systemd/): the
    worker's unit counts on it, since an RQ worker exits when Redis goes away."""

    def __init__(self, start: Callable[[], Process], *, restart_after: float = 0.5) -> None:
        # systemd waits RestartSec (5 s for the worker); the tests have no time to lose
        self._start = start
        self.restart_after = restart_after
        self.current = start()
        self.starts = 1
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.1):
            if self.current.alive or self._stopping.wait(self.restart_after):
                continue
            self.current = self._start()
            self.starts += 1

    def stop_watching(self) -> None:
        self._stopping.set()
        self._thread.join(5)


class Processes:
    """Every process a test starts, stopped when it leaves (a `with` block or a fixture's teardown)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Process] = []
        self.supervised: list[Supervised] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> Process:
        process = Process(argv, env, self.log_dir / f"{name}.log")
        self.started.append(process)
        return process

    def supervise(self, name: str, argv: list[str], env: Mapping[str, str]) -> Supervised:
        """Start it, and start it again each time it exits, until the test ends."""
        supervised = Supervised(lambda: self.start(name, argv, env))
        self.supervised.append(supervised)
        return supervised

    def kill_all(self) -> None:
        """Kill whatever is still running: what a test leaves behind needs no clean shutdown."""
        for supervised in self.supervised:
            supervised.stop_watching()
        for process in reversed(self.started):
            if process.alive:
                process.kill()

    def logs(self) -> str:
        """The end of every log, for a failing assertion's message."""
        seen = dict.fromkeys(p.log_path for p in self.started)
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in seen if path.exists()
        )

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill_all()


class PrivateRedis:
    """A redis-server of the test's own on a free port, keeping nothing on disk: a restart comes back empty,
    as a crashed Redis without persistence does."""

    def __init__(self, processes: Processes, workdir: Path) -> None:
        self.processes = processes
        self.workdir = workdir
        self.port = free_port()
        self.process: Process | None = None
        workdir.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10) -> None:
        argv = [
            binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir),
        ]  # fmt: skip
        self.process = self.processes.start("redis", argv, os.environ)
        client = Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            wait_until(lambda: self._answers(client), timeout, f"redis-server answers on port {self.port}")
        finally:
            client.close()

    def _answers(self, client: Redis) -> bool:
        if self.process is not None and not self.process.alive:
            raise AssertionError(f"redis-server exited:\n{self.process.log_tail()}")
        try:
            return bool(client.ping())
        except RedisError:  # refused, or still loading
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()


class PrivateMariaDB:
    """A mariadbd of the test's own on a free port, with root and no password, on a data directory made by
    mariadb-install-db (or copied from one made earlier and shut down cleanly)."""

    def __init__(self, processes: Processes, datadir: Path) -> None:
        self.processes = processes
        self.datadir = datadir
        self.port = free_port()
        self.process: Process | None = None

    @staticmethod
    def install(datadir: Path, log_path: Path) -> None:
        """A fresh data directory (about 3 s)."""
        argv = [
            binary("mariadb-install-db"), "--no-defaults", "--auth-root-authentication-method=normal",
            f"--datadir={datadir}", "--skip-test-db", *MARIADB_OPTIONS, *_as_root(),
        ]  # fmt: skip
        with log_path.open("ab") as log:
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)

    def url(self, database: str) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    @property
    def socket_path(self) -> Path:
        # a Unix socket's path has a limit of about 100 bytes: /tmp when the data directory's is too long
        beside = self.datadir / "mariadbd.sock"
        return beside if len(str(beside)) < 100 else Path(f"/tmp/qingpu-faults-{self.port}.sock")

    def start(self, timeout: float = 60) -> None:
        """Start it (after a kill, InnoDB recovers first) and wait until it takes connections."""
        argv = [
            binary("mariadbd"), "--no-defaults", f"--datadir={self.datadir}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.socket_path}",
            f"--pid-file={self.datadir / 'mariadbd.pid'}", *MARIADB_OPTIONS, *_as_root(),
        ]  # fmt: skip
        self.process = self.processes.start("mariadbd", argv, os.environ)
        wait_until(self._answers, timeout, f"mariadbd answers on port {self.port}", interval=0.1)

    def _answers(self) -> bool:
        if self.process is not None and not self.process.alive:
            raise AssertionError(f"mariadbd exited:\n{self.process.log_tail()}")
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
        except pymysql.err.OperationalError:
            return False
        return True

    def execute(self, sql: str) -> None:
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL: a crash; what was committed survives (InnoDB flushes its log at every commit)."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        """A clean shutdown, after which the data directory may be copied."""
        if self.process is not None:
            self.process.stop(timeout=60)
        self.socket_path.unlink(missing_ok=True)


def _as_root() -> list[str]:
    # mariadbd refuses to run as root unless told to; as anyone else the option is not needed
    return ["--user=root"] if os.geteuid() == 0 else []


# -- the service ---------------------------------------------------------------------------------------------


def production_env(
    *,
    database_url: str,
    redis_url: str,
    wechat: WeChatStandIn,
    instance_dir: Path,
    **settings: str,
) -> dict[str, str]:
    """The environment of a production process (APP_ENV=production) on these servers and the WeChat stand-in,
    sending case-status subscribe messages; `settings` adds or overrides Config keys."""
    return {
        **os.environ,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WECHAT_APP_ID": wechat.app_id,
        "WECHAT_APP_SECRET": wechat.app_secret,
        "WECHAT_API_BASE_URL": wechat.base_url,
        "WECHAT_TEMPLATE_CASE_STATUS": CASE_STATUS_TEMPLATE,
        "INSTANCE_DIR": str(instance_dir),  # shared by the tests: the bot's start-up cache lives there
        "REPORTS_PER_DAY": "1000",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(PROJECT_ROOT),  # this checkout's code, whichever the virtualenv was installed from
        **settings,
    }


class Web:
    """The service under gunicorn --preload, as the README and deploy/ run it, on a free port."""

    def __init__(self, processes: Processes, env: Mapping[str, str], *, workers: int = 2) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        argv = [
            str(GUNICORN), "--preload", "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
            "backend.wsgi:app",
        ]  # fmt: skip
        self.process = processes.start("web", argv, env)

    def wait_ready(self, timeout: float = 120) -> None:
        """Until /healthz answers 200 (the app and the bot are loaded, the database and Redis reachable)."""

        def healthy() -> bool:
            if not self.process.alive:
                raise AssertionError(f"gunicorn exited:\n{self.process.log_tail()}")
            try:
                return requests.get(f"{self.base_url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout, f"gunicorn answers /healthz on port {self.port}", interval=0.2)

    def workers(self) -> list[int]:
        return self.process.children()


def start_worker(processes: Processes, env: Mapping[str, str]) -> Supervised:
    """`flask --app backend worker` (with RQ's scheduler), started again whenever it exits, as deploy/'s unit
    is; it loads the bot (a few seconds) before it takes a job."""
    return processes.supervise("worker", [*FLASK, "worker"], env)
