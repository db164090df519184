"""The systemd units under deploy/: each runs a real command of the app, comes back by itself, and every
command the README runs from cron has its timer."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from backend.config import PROJECT_ROOT

UNITS = PROJECT_ROOT / "deploy" / "systemd"
INSTALL_ROOT = "/srv/qingpu"  # where the units expect the checkout and its .venv
README = PROJECT_ROOT / "README.md"


def read_unit(path: Path) -> configparser.ConfigParser:
    # strict: a key given twice is an error here, as it is nearly always a mistake in these units
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd's keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def unit_paths(suffix: str) -> list[Path]:
    return sorted(UNITS.glob(f"*{suffix}"))


def exec_argv(unit: configparser.ConfigParser) -> list[str]:
    return shlex.split(unit["Service"]["ExecStart"])


def flask_args(argv: list[str]) -> list[str]:
    """The command after `flask --app backend`."""
    assert argv[0] == f"{INSTALL_ROOT}/.venv/bin/flask", argv
    assert argv[1:3] == ["--app", "backend"], argv
    return argv[3:]


def test_the_units_are_there() -> None:
    names = {path.name for path in UNITS.iterdir()}
    assert {"qingpu-web.service", "qingpu-worker@.service", "qingpu.target"} <= names
    assert len(unit_paths(".timer")) >= 5


@pytest.mark.parametrize("path", unit_paths(".service"), ids=lambda p: p.name)
def test_each_service_runs_as_its_user_with_the_settings_and_restarts(path: Path) -> None:
    service = read_unit(path)["Service"]
    assert service["User"] == "qingpu" and service["Group"] == "qingpu"
    assert service["WorkingDirectory"] == INSTALL_ROOT
    assert service["EnvironmentFile"] == "/etc/qingpu/env"
    assert int(service["RestartSec"]) > 0
    if service.get("Type") == "oneshot":
        # systemd refuses Restart=always on a oneshot; its timer starts it again anyway
        assert service["Restart"] == "on-failure"
        assert "TimeoutStartSec" in service
    else:
        assert service["Restart"] == "always"
        # never give up while Redis or MariaDB is away (the default stops after 5 starts in 10 s)
        assert read_unit(path)["Unit"]["StartLimitIntervalSec"] == "0"
        assert read_unit(path)["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize(
    "path", [p for p in unit_paths(".service") if "web" not in p.name], ids=lambda p: p.name
)
def test_each_flask_unit_names_a_real_command(path: Path, cli_runner) -> None:
    args = flask_args(exec_argv(read_unit(path)))
    result = cli_runner.invoke(args=[*args, "--help"])
    assert result.exit_code == 0, result.output
    # a command, not a group: a group's help lists its commands and runs nothing
    assert "Commands:" not in result.output, f"{path.name}: {' '.join(args)} is a group"


def test_the_worker_unit_is_a_template_running_the_app_worker() -> None:
    assert flask_args(exec_argv(read_unit(UNITS / "qingpu-worker@.service")))[0] == "worker"


def test_the_web_unit_runs_the_readme_production_command() -> None:
    argv = exec_argv(read_unit(UNITS / "qingpu-web.service"))
    assert argv[0] == f"{INSTALL_ROOT}/.venv/bin/gunicorn"
    readme_lines = [
        line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("gunicorn ")
    ]
    assert readme_lines, "the README's production section shows no gunicorn command"
    readme_argv = shlex.split(readme_lines[0], comments=True)
    assert argv[1:] == readme_argv[1:], "the web unit and the README's gunicorn command differ"
    module, _, attribute = argv[-1].partition(":")
    source = (PROJECT_ROOT / Path(*module.split("."))).with_suffix(".py").read_text(encoding="utf-8")
    assert re.search(rf"^{attribute}\b.*=", source, re.MULTILINE), f"{module} defines no {attribute}"


@pytest.mark.parametrize("path", unit_paths(".timer"), ids=lambda p: p.name)
def test_each_timer_starts_its_oneshot_service(path: Path) -> None:
    timer = read_unit(path)
    service_name = timer["Timer"].get("Unit", path.with_suffix(".service").name)
    assert service_name == path.with_suffix(".service").name
    service = read_unit(UNITS / service_name)
    assert service["Service"]["Type"] == "oneshot"
    assert "Install" not in service, "a timer's service is started by its timer, not enabled by itself"
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_each_oneshot_service_has_a_timer() -> None:
    timed = {
        read_unit(path)["Timer"].get("Unit", path.with_suffix(".service").name)
        for path in unit_paths(".timer")
    }
    oneshots = {
        path.name for path in unit_paths(".service") if read_unit(path)["Service"].get("Type") == "oneshot"
    }
    assert oneshots == timed


def test_every_command_the_readme_runs_from_cron_has_a_timer() -> None:
    cron_commands = {
        match.group(1)
        for match in re.finditer(
            r"^\| `flask --app backend ([^`]+)`.*\(cron", README.read_text(encoding="utf-8"), re.M
        )
    }
    assert {"notifications relay", "cases sweep", "stats refresh"} <= cron_commands
    timed = {
        " ".join(flask_args(exec_argv(read_unit(UNITS / read_unit(path)["Timer"]["Unit"]))))
        for path in unit_paths(".timer")
    }
    assert cron_commands <= timed


def test_the_target_starts_units_that_exist() -> None:
    wanted = read_unit(UNITS / "qingpu.target")["Unit"]["Wants"].split()
    for name in wanted:
        template = re.sub(r"@[^.]+\.", "@.", name)
        assert (UNITS / template).is_file(), name
    assert {path.name for path in unit_paths(".timer")} <= set(wanted)
    assert "qingpu-web.service" in wanted and any(name.startswith("qingpu-worker@") for name in wanted)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # installed at this checkout, so that systemd finds the executables the units name
    for path in UNITS.iterdir():
        (tmp_path / path.name).write_text(
            path.read_text(encoding="utf-8").replace(INSTALL_ROOT, str(PROJECT_ROOT))
        )
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # systemd only warns about a key or a value it cannot read: any word about our units is a fault
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "qingpu" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
