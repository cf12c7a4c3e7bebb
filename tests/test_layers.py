"""The layer contracts in ``.importlinter`` hold on this tree, and they do catch a library module importing the app.

``lint-imports`` (import-linter) is the checker CI runs; these tests run the same executable. The second
test copies the source folders into ``tmp_path/mmcurate/`` (the installed layout: ``mmcurate`` is a
namespace, each folder one of its packages), plants ``import mmcurate.jobs`` in a filter module and runs
``lint-imports`` from the copy's root, where its own folders shadow the editable install's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
TOP_LEVEL = ("schemas", "pipeline", "filters", "tokenizers", "jobs")
JOBS_CONTRACT = "Library layers never import the application (mmcurate.jobs)"


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    # --no-cache: the copy must be analysed afresh, and the test must not leave a cache in the repo.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300)


def _python_only(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n == "__pycache__" or (Path(folder, n).is_file() and not n.endswith(".py"))}


def test_contracts_hold_on_the_repo() -> None:
    out = _lint(REPO)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout and JOBS_CONTRACT in out.stdout


def test_contracts_fail_when_a_library_module_imports_jobs(tmp_path: Path) -> None:
    for folder in TOP_LEVEL:
        shutil.copytree(REPO / folder, tmp_path / "mmcurate" / folder, ignore=_python_only)
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    planted = tmp_path / "mmcurate" / "filters" / "basic.py"
    planted.write_text(planted.read_text() + "\nimport mmcurate.jobs  # noqa: E402,F401\n")

    out = _lint(tmp_path)
    assert out.returncode != 0, out.stdout
    text = re.sub(r"\s+", " ", out.stdout)  # lint-imports wraps long lines
    assert f"{JOBS_CONTRACT} BROKEN" in text
    assert "mmcurate.filters.basic -> mmcurate.jobs" in text


def test_every_package_folder_is_installed() -> None:
    """A subpackage missing from pyproject's lists works in an editable install and is absent from a wheel."""
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"mmcurate." + str(p.parent.relative_to(REPO)).replace("/", "."): str(p.parent.relative_to(REPO))
               for top in TOP_LEVEL for p in (REPO / top).rglob("__init__.py") if "__pycache__" not in p.parts}
    assert set(tool["packages"]) == set(folders)
    assert tool["package-dir"] == folders
