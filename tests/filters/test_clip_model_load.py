"""Loading a CLIP checkpoint: no false "initialized randomly" warning when weights do load; a missing
checkpoint is a one-line FileNotFoundError naming it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mmcurate.filters.clip_model import TINY_CLIP_ARCH, TINY_CLIP_CONFIG, TINY_CLIP_WEIGHTS, load_clip


def test_a_loaded_checkpoint_logs_no_random_init_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        model, _ = load_clip(TINY_CLIP_ARCH, TINY_CLIP_WEIGHTS, model_config=TINY_CLIP_CONFIG)
    assert not [r for r in caplog.records if "initialized randomly" in r.getMessage()]
    # the weights really are the checkpoint's, not a random init
    from safetensors.torch import load_file

    saved = load_file(str(TINY_CLIP_WEIGHTS))
    name, tensor = next(iter(saved.items()))
    assert (model.state_dict()[name] == tensor).all()


def test_without_a_checkpoint_the_random_init_is_still_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load_clip(TINY_CLIP_ARCH, None, model_config=TINY_CLIP_CONFIG)
    assert [r for r in caplog.records if "initialized randomly" in r.getMessage()]


def test_a_missing_checkpoint_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="gone.safetensors"):
        load_clip(TINY_CLIP_ARCH, tmp_path / "gone.safetensors", model_config=TINY_CLIP_CONFIG)
