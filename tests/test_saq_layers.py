"""The SAQ adapter's import contracts catch a deliberate violation (see test_layers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_layers import Tree

SAQ_OWN_TECH = (
    "adapters.saq uses SAQ and its clients (redis, psycopg) only, never the SQL stack, "
    "argon2 or the web"
)
SAQ_ONLY_IN_ITS_ADAPTER = "Only adapters.saq imports SAQ and psycopg"


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path)


def test_the_saq_adapter_importing_sqlalchemy_breaks_its_own_tech_contract(tree: Tree) -> None:
    tree.plant("adapters.saq.violation", "import sqlalchemy\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert " ".join(report.output.split()).count(f"{SAQ_OWN_TECH} BROKEN") == 1, report.output


def test_the_sql_adapter_importing_saq_breaks_saq_only_in_its_adapter(tree: Tree) -> None:
    tree.plant("adapters.sql.violation", "import saq\n")

    report = tree.lint()

    assert report.returncode == 1, report.output
    assert report.broken(SAQ_ONLY_IN_ITS_ADAPTER), report.output
