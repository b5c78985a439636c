"""Layering rules of the package, checked on the source with :mod:`ast` (nothing is imported).

``analysis/`` and ``report/`` read records and draw conclusions; they must not
depend on ``runner/`` (which starts clusters and runs workloads), so that a report
can be rebuilt from a results directory with none of the runner's machinery.  The
names they share with the runner live in the leaf module ``clusterbench.constants``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "clusterbench"


def imported_modules(source: str, package: str) -> set[str]:
    """Every absolute module name *source* (a module of *package*) imports, at any depth,
    so imports inside functions count too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            names.add(module)
            # `from clusterbench import runner` imports the subpackage itself.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(name: str) -> Path | None:
    """The file of project module *name*, or None (a name imported from a module)."""
    relative = Path(*name.split("."))
    for candidate in (PACKAGE.parent / relative.with_suffix(".py"),
                      PACKAGE.parent / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def project_imports(path: Path) -> set[str]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    return {name for name in imported_modules(path.read_text(), package)
            if name.split(".")[0] == "clusterbench"}


def reachable(path: Path) -> dict[str, str]:
    """Project modules imported by *path*, directly or through other project modules,
    each mapped to the module that imports it."""
    seen: dict[str, str] = {}
    todo = [path]
    while todo:
        current = todo.pop()
        for name in project_imports(current):
            if name not in seen:
                seen[name] = module_name(current)
                found = module_path(name)
                if found is not None:
                    todo.append(found)
    return seen


def _is_runner(name: str) -> bool:
    return name == "clusterbench.runner" or name.startswith("clusterbench.runner.")


@pytest.mark.parametrize("layer", ["analysis", "report"])
def test_layer_does_not_import_runner(layer):
    offenders = sorted(
        f"{module_name(path)} reaches {name} (imported by {importer})"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name, importer in reachable(path).items() if _is_runner(name)
    )
    assert not offenders, (f"{layer}/ must not import runner/ (shared names belong in "
                           "clusterbench.constants):\n" + "\n".join(offenders))


def test_constants_is_a_leaf():
    assert project_imports(PACKAGE / "constants.py") == set()


def test_import_parser_sees_lazy_and_relative_imports():
    """The layering check would pass vacuously if the parser missed an import form."""
    source = ("def f():\n    from clusterbench.runner.modes import SCHEDULERS\n"
              "from ..runner import plan\nimport clusterbench.runner.execute\n"
              "from . import tables\n")
    names = imported_modules(source, "clusterbench.report")
    assert {"clusterbench.runner.modes", "clusterbench.runner.plan",
            "clusterbench.runner.execute", "clusterbench.report.tables"} <= names


def test_layering_check_catches_a_transitive_import():
    assert _is_runner("clusterbench.runner")
    assert any(_is_runner(name) for name in reachable(PACKAGE / "commands" / "run.py"))


#: Module size limits: every launcher module is split by job (command lines, connections,
#: processes; specs, submit errors, queue status) and stays readable in one sitting.
LAUNCHER_MODULE_LINES = 300
MODULE_LINES = 600


def test_modules_stay_small():
    sizes = {path: len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    too_long = sorted(
        f"{path.relative_to(PACKAGE.parent)}: {lines} lines"
        for path, lines in sizes.items()
        if lines > (LAUNCHER_MODULE_LINES if "launchers" in path.parts else MODULE_LINES)
    )
    assert not too_long, "split these modules by job:\n" + "\n".join(too_long)


# --- packaged defaults ------------------------------------------------------------------
# The default inventory and scenarios live once, as package data (an installed package
# has nothing else); the paths the README documents in a checkout (inventories/local.yml,
# scenarios/*.yml) are symbolic links to them, not copies that could drift apart.

ROOT = PACKAGE.parent
DEFAULTS = PACKAGE / "defaults"


def _documented_path(packaged: Path) -> Path:
    relative = packaged.relative_to(DEFAULTS)
    return ROOT / ("inventories" if relative.parent == Path(".") else "") / relative


def test_documented_defaults_are_links_to_the_packaged_files():
    packaged = sorted(DEFAULTS.rglob("*.yml"))
    assert {p.name for p in packaged} >= {"local.yml", "scaling.yml", "schedulers.yml"}
    for source in packaged:
        link = _documented_path(source)
        assert link.is_symlink(), f"{link.relative_to(ROOT)} must link to {source}, not copy it"
        assert link.resolve() == source.resolve()


def test_every_top_level_scenario_is_a_packaged_default():
    for scenario in (ROOT / "scenarios").glob("*.yml"):
        assert scenario.resolve().parent == (DEFAULTS / "scenarios").resolve(), scenario


def test_package_data_ships_every_default():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["clusterbench"]
    shipped = {path for pattern in globs for path in PACKAGE.glob(pattern)}
    assert set(DEFAULTS.rglob("*.yml")) <= shipped


def test_defaults_load_outside_a_checkout(tmp_path, monkeypatch):
    """An installed package run from any directory finds the packaged copies."""
    from clusterbench.inventory.default import PACKAGED_LOCAL, default_inventory_path
    from clusterbench.inventory.load import load_inventory
    from clusterbench.runner.scenario import load_scenario

    monkeypatch.chdir(tmp_path)
    assert default_inventory_path() == PACKAGED_LOCAL
    assert load_inventory(default_inventory_path()).hosts
    for name in ("scaling", "schedulers"):
        scenario = load_scenario(name)
        assert Path(scenario.source).resolve() == (DEFAULTS / "scenarios" / f"{name}.yml")
