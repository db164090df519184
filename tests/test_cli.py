"""The flask commands: seed and estates import."""

from __future__ import annotations

from pathlib import Path

from tests.support.shared_data import shared_file


def test_seed_command_is_idempotent(cli_runner) -> None:
    result = cli_runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "towns and squads: 0 changes; categories: 0 changes" in result.output
    assert "key estates: added 0, updated 0, unchanged 7, skipped 0" in result.output


def test_estates_import_of_the_shared_list_twice(cli_runner) -> None:
    path = shared_file("data/qingpu_estates.csv")
    first = cli_runner.invoke(args=["estates", "import", str(path)])
    assert first.exit_code == 0, first.output
    assert "skipped 0" in first.output
    second = cli_runner.invoke(args=["estates", "import", str(path)])
    assert second.exit_code == 0, second.output
    assert "qingpu_estates.csv: added 0, updated 0, unchanged 596, skipped 0" in second.output


def test_estates_import_explains_skipped_lines(cli_runner, tmp_path: Path) -> None:
    csv_file = tmp_path / "estates.csv"
    csv_file.write_text("estate,street_or_town,address\n新苑,火星镇,\n,徐泾镇,\n", encoding="utf-8")
    result = cli_runner.invoke(args=["estates", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "added 0, updated 0, unchanged 0, skipped 2" in result.output
    assert "line 2: skipped, unknown town '火星镇'" in result.output
    assert "line 3: skipped, blank estate name" in result.output


def test_estates_import_refuses_a_file_without_the_columns(cli_runner, tmp_path: Path) -> None:
    csv_file = tmp_path / "wrong.csv"
    csv_file.write_text("name,town\n新苑,徐泾镇\n", encoding="utf-8")
    result = cli_runner.invoke(args=["estates", "import", str(csv_file)])
    assert result.exit_code != 0
    assert "missing columns address, estate, street_or_town" in result.output
