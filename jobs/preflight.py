"""Checks of a job's user-given paths before Ray starts, each failing with one line that says what to fix.

Without them the mistakes surface deep inside Ray workers: an output path that is a file, or a folder the
user cannot write, fails in every writer task (a traceback per task, no final error line); a mistyped CLIP
checkpoint fails in each actor's ``setup()`` after ~30 s of start-up. All are cheap filesystem checks,
so the CLI runs them first and prints ``mmcurate: error: <message>`` with exit code 2.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["PreflightError", "check_output_dir", "check_checkpoint", "check_step_paths", "CHECKPOINT_PARAMS"]

# Step parameters that name a local model file; a missing one is the user's mistake, not the model's.
CHECKPOINT_PARAMS = ("checkpoint",)


class PreflightError(ValueError):
    """A user mistake found before the job starts; the message is one line."""


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return candidate
        except PermissionError:  # a folder above we may not even look into
            raise PreflightError(f"output {path} is not writable: cannot enter {candidate.parent}") from None
    return Path("/")


def check_output_dir(path: str | os.PathLike[str]) -> None:
    """The output must be a folder (existing or creatable) that this process can write into."""
    out = Path(path)
    base = _nearest_existing(out)
    if base == out and not out.is_dir():
        raise PreflightError(f"output {out} is a file, not a folder; choose a folder path for the output")
    if not base.is_dir():
        raise PreflightError(f"output {out} cannot be created: {base} is a file, not a folder")
    # os.access for the common case, then a real probe: ACLs, read-only mounts and root squashing lie to access().
    problem = None if os.access(base, os.W_OK | os.X_OK) else "permission denied"
    if problem is None:
        try:
            with tempfile.NamedTemporaryFile(dir=base, prefix=".mmcurate-write-check-"):
                pass
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
    if problem is not None:
        where = "" if base == out else f" (its nearest existing folder {base})"
        raise PreflightError(f"output {out} is not writable{where}: {problem.lower()}; choose a writable folder")


def check_checkpoint(path: str | os.PathLike[str] | None, what: str = "checkpoint") -> None:
    """A configured model file must exist and be a readable file (None / "" means "not configured")."""
    if path is None or str(path) == "":
        return
    file = Path(path).expanduser()
    if not file.exists() and Path(f"{file}.safetensors").is_file():
        file = Path(f"{file}.safetensors")  # a checkpoint stem: <stem>.safetensors beside <stem>.json
    if not file.exists():
        raise PreflightError(f"{what} {file} does not exist; give the path of a local file (nothing is downloaded)")
    if not file.is_file():
        raise PreflightError(f"{what} {file} is not a file")
    if not os.access(file, os.R_OK):
        raise PreflightError(f"{what} {file} is not readable")


def check_step_paths(steps: Iterable[Mapping[str, Any]]) -> None:
    """Every ``checkpoint``-like parameter of a job's steps (``[{use: ..., **params}]``) names a file."""
    for i, step in enumerate(steps):
        for key in CHECKPOINT_PARAMS:
            if step.get(key) not in (None, ""):
                check_checkpoint(step[key], what=f"steps[{i}] ({step.get('use', '?')}).{key}:")
