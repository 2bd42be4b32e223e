"""DESIGN.md's import rules: who may import whom among our packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"apimachinery", "apiserver", "kubeclient", "controllers", "migrations", "kubelite"}
ALLOWED = {
    "apimachinery": set(),
    "apiserver": {"apimachinery"},
    "kubeclient": {"apimachinery"},
    "controllers": {"apimachinery", "kubeclient"},
    "migrations": {"apiserver"},
    "kubelite": OURS,
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from apiserver.app import create_app\nimport kubeclient.client\n")
    assert imports_of(bad) == {"apiserver", "kubeclient"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    violations = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for imported in imports_of(path) - {package} - ALLOWED[package]:
            violations.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert violations == []
