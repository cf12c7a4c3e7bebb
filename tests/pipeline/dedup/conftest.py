"""Fixtures of the dedup tests; the builders live in ``dedup_helpers`` (importable from test modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import the builders with `import dedup_helpers`; tests/ has no packages (no __init__).
sys.path.insert(0, str(Path(__file__).parent))

import dedup_helpers  # noqa: E402


@pytest.fixture(scope="session")
def planted_images(skimage_data_dir: Path) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    return dedup_helpers.planted_images(skimage_data_dir)


@pytest.fixture(scope="session")
def planted_texts() -> tuple[list[tuple[str, str]], dict[str, str]]:
    return dedup_helpers.planted_texts()
