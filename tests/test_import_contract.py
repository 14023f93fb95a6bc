"""The import contract (pyproject.toml [tool.importlinter], README "Architecture"): portals sit on the shell, the
shell on the domain, the domain on models and ml; nothing imports up, and no portal imports another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("xinyidai", "models", "ml")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
                           "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_import_contract_holds():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_package_of_the_application_has_its_place_in_the_layers():
    """A new portal (or any new package) must be placed, or the contract would not see it import sideways."""
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    placed = {name.strip() for layer in contract["layers"] for name in layer.replace(":", "|").split("|")}
    packages = {f"xinyidai.{p.name}" for p in (ROOT / "xinyidai").iterdir() if (p / "__init__.py").is_file()}
    assert packages - placed == set()


def _copy_of_the_code(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns(
            "__pycache__", "static", "translations", "schemas", "*.mo"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_a_domain_module_importing_a_portal_breaks_the_contract(tmp_path):
    root = _copy_of_the_code(tmp_path)
    (root / "xinyidai" / "domain" / "upward.py").write_text("from xinyidai.bank import queries  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "xinyidai.domain.upward -> xinyidai.bank.queries" in result.stdout


def test_a_portal_importing_another_portal_breaks_the_contract(tmp_path):
    root = _copy_of_the_code(tmp_path)
    (root / "xinyidai" / "api" / "sideways.py").write_text(
        "def helper():\n    from xinyidai.enterprise import forms  # noqa: F401\n")
    result = lint_imports(root)
    assert result.returncode == 1
    assert "xinyidai.api.sideways -> xinyidai.enterprise.forms" in result.stdout
