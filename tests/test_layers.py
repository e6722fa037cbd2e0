"""The import-layer contracts ([tool.importlinter] in pyproject.toml) hold on the real
tree, and each one catches a deliberate violation.

A violation is planted in a copy of ``src/``; ``lint-imports`` then runs in a subprocess
whose ``PYTHONPATH`` puts that copy ahead of the editable install (whose ``.pth`` entry
comes later on ``sys.path``), so the planted module is what gets analysed. The control
test, an untouched copy that keeps every contract, shows that a broken contract below is
caused by the planted module alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


@dataclass
class Report:
    returncode: int
    output: str

    def broken(self, contract_name: str) -> bool:
        return f"{contract_name} BROKEN" in self.output

    def kept(self, contract_name: str) -> bool:
        return f"{contract_name} KEPT" in self.output


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> Report:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run(
        [LINT_IMPORTS, "--config", str(cwd / "pyproject.toml"), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Report(result.returncode, result.stdout + result.stderr)


class Tree:
    """A copy of ``src/`` and ``pyproject.toml`` to plant violations in."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.src = folder / "src"
        shutil.copytree(ROOT / "src", self.src, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")

    def plant(self, module: str, source: str) -> None:
        """Write ``module`` (dotted name, e.g. ``core.kernel.bad``) with ``source``."""
        path = self.src.joinpath(*module.split(".")).with_suffix(".py")
        assert path.parent.joinpath("__init__.py").is_file(), f"{path.parent} is no package"
        path.write_text(source)

    def lint(self) -> Report:
        return lint_imports(self.folder, pythonpath=self.src)


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


RINGS = "Rings: entrypoints -> adapters -> core, never outward"
CORE_IS_PURE = "Core imports only the standard library, msgspec and itself"
IDENTITY_PUBLIC_API = "Other systems use identity only through core.identity"
SQL_ADAPTER_OWN_TECH = "adapters.sql uses its own SDKs (SQLAlchemy, Alembic, drivers), never argon2"


def test_the_real_tree_keeps_every_contract() -> None:
    report = lint_imports(ROOT)

    assert report.returncode == 0, report.output
    assert " 0 broken" in report.output


def test_an_untouched_copy_of_the_tree_keeps_every_contract(tree: Tree) -> None:
    report = tree.lint()

    assert report.returncode == 0, report.output
    assert " 0 broken" in report.output


def test_core_importing_sqlalchemy_breaks_core_is_pure(tree: Tree) -> None:
    tree.plant("core.kernel.violation", "import sqlalchemy\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(CORE_IS_PURE), report.output


def test_core_importing_an_adapter_breaks_the_rings(tree: Tree) -> None:
    tree.plant("core.kernel.violation", "import adapters.memory.identity\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(RINGS), report.output


def test_an_adapter_importing_an_entrypoint_breaks_the_rings(tree: Tree) -> None:
    tree.plant("adapters.sql.violation", "import entrypoints.settings\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(RINGS), report.output


def test_another_system_importing_identitys_inner_module_breaks_its_public_api(
    tree: Tree,
) -> None:
    tree.plant("core.workflows.violation", "from core.identity.model import User\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(IDENTITY_PUBLIC_API), report.output


def test_another_system_may_import_identitys_package(tree: Tree) -> None:
    tree.plant("core.workflows.allowed", "from core.identity import User\n")

    report = tree.lint()

    assert report.returncode == 0, report.output
    assert report.kept(IDENTITY_PUBLIC_API), report.output


def test_the_sql_adapter_importing_argon2_breaks_its_own_tech_contract(tree: Tree) -> None:
    tree.plant("adapters.sql.violation", "import argon2\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(SQL_ADAPTER_OWN_TECH), report.output
