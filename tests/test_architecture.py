"""The map of the house (docs/architecture.md) stays true: imports go one way between the layers."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backend", "bot", "miniprogram_api")
# The HTTP edges: nothing below them imports them, and none imports another.
VIEWS = {
    "miniprogram_api": "the mini-program API",
    "backend.console": "the console",
    "backend.hotline.api": "the hotline API",
    "backend.open311.api": "the Open311 open-data API",
    "backend.wechat.callback": "the WeChat push",
    "backend.health": "the health check",
}
COMPOSITION_ROOT = {"backend", "backend.app", "backend.wsgi"}
CASE_SERVICES_ORDER = ["deadlines", "access", "timeline", "life", "filing"]


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports, as a dotted module path (a name imported from a module counts as it)
    line: int


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in a module, at any depth (a function's lazy import counts too)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [Import(name, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [Import(name, f"{base}.{alias.name}", node.lineno) for alias in node.names]
            found.append(Import(name, base, node.lineno))
    return found


@pytest.fixture(scope="module")
def every_import() -> list[Import]:
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    return [i for path in paths for i in imports_of(path)]


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def view_of(module: str) -> str | None:
    return next((view for view in VIEWS if within(module, view)), None)


def test_the_bot_imports_nothing_of_the_project_nor_the_web_or_the_database(every_import) -> None:
    wrong = [
        i
        for i in every_import
        if within(i.module, "bot")
        and any(within(i.target, p) for p in ("backend", "miniprogram_api", "flask", "sqlalchemy"))
    ]
    assert wrong == []


def test_nothing_below_the_views_imports_a_view(every_import) -> None:
    wrong = [
        i
        for i in every_import
        if view_of(i.module) is None and i.module not in COMPOSITION_ROOT and view_of(i.target) is not None
    ]
    assert wrong == []


def test_views_do_not_import_each_other(every_import) -> None:
    wrong = [
        i
        for i in every_import
        if view_of(i.module) is not None
        and view_of(i.target) is not None
        and view_of(i.module) != view_of(i.target)
    ]
    assert wrong == []


def test_the_consoles_view_modules_do_not_import_each_other(every_import) -> None:
    prefix = "backend.console.views."
    wrong = [i for i in every_import if i.module.startswith(prefix) and i.target.startswith(prefix)]
    assert wrong == []


def test_services_and_models_never_read_the_request(every_import) -> None:
    def is_rules(module: str) -> bool:
        last = module.split(".")
        return "services" in last or last[-1] == "models"

    wrong = [i for i in every_import if is_rules(i.module) and within(i.target, "flask")]
    assert wrong == []


def test_the_case_services_import_only_those_before_them(every_import) -> None:
    prefix = "backend.cases.services."
    for i in every_import:
        if not (i.module.startswith(prefix) and i.target.startswith(prefix)):
            continue
        importer, imported = i.module.removeprefix(prefix), i.target.removeprefix(prefix).split(".")[0]
        if importer == "reads":
            assert imported in {"deadlines", "access", "timeline"}, i
        else:
            assert imported != "reads", i
            assert CASE_SERVICES_ORDER.index(imported) < CASE_SERVICES_ORDER.index(importer), i


def test_the_map_names_every_domain() -> None:
    """A new package under backend/ is placed on the map (docs/architecture.md) in the same commit."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    domains = sorted(p.name for p in (ROOT / "backend").iterdir() if (p / "__init__.py").exists())
    assert [d for d in domains if f"{d}/" not in page] == []


def test_the_rules_see_a_violation(tmp_path) -> None:
    """The checker itself: a lazy import of a view inside a service, and a relative one, are found."""
    service = tmp_path / "backend" / "cases" / "services" / "life.py"
    service.parent.mkdir(parents=True)
    service.write_text(
        "def f():\n    from miniprogram_api.reports import report_out\n    from .reads import get_case\n",
        encoding="utf-8",
    )
    found = {i.target for i in imports_of(service, tmp_path)}
    assert "miniprogram_api.reports" in found and view_of("miniprogram_api.reports") is not None
    assert "backend.cases.services.reads" in found


ARTICLE_SERVICES_ORDER = ["checks", "access", "published", "writing", "studio", "reading", "search"]


def test_the_article_services_import_only_those_before_them(every_import) -> None:
    prefix = "backend.articles.services."
    for i in every_import:
        if i.module.startswith(prefix) and i.target.startswith(prefix):
            importer, imported = i.module.removeprefix(prefix), i.target.removeprefix(prefix).split(".")[0]
            assert ARTICLE_SERVICES_ORDER.index(imported) < ARTICLE_SERVICES_ORDER.index(importer), i
