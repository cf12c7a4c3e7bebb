"""Training: the loop learns on curated-format shards, in-process and through Ray Train (a few steps)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mmcurate.tokenizers.vqvae.checkpoint import load_checkpoint, read_metadata
from mmcurate.tokenizers.vqvae.config import VQConfig
from mmcurate.tokenizers.vqvae.data import builtin_items, read_shard_pixels, write_image_shards
from mmcurate.tokenizers.vqvae.train import TrainConfig, train

TINY = VQConfig(resolution=32, downsample=8, base_channels=8, channel_mult=(1, 2, 2, 2), z_channels=16,
                codebook_size=32, code_dim=4)


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vq_shards")
    write_image_shards(root / "train", builtin_items("train", 24, 48), rows_per_shard=10)
    write_image_shards(root / "heldout", builtin_items("heldout", 4, 32), rows_per_shard=10)
    return root


def _cfg(shards: Path, out: Path, steps: int) -> TrainConfig:
    return TrainConfig(model=TINY, shards=[str(shards / "train")], heldout=[str(shards / "heldout")], out=out,
                       steps=steps, batch_size=8, crop=32, store_resolution=48, eval_resolution=32, warmup=2,
                       metadata={"command": "test"})


def test_shards_read_back_with_rank_and_holdout_splits(shards: Path) -> None:
    every = read_shard_pixels([shards / "train"], 48)
    assert every.shape == (24, 48, 48, 3)
    halves = [read_shard_pixels([shards / "train"], 48, rank=r, world=2) for r in (0, 1)]
    assert [len(h) for h in halves] == [12, 12]
    held = read_shard_pixels([shards / "train"], 48, holdout_every=5, heldout=True)
    rest = read_shard_pixels([shards / "train"], 48, holdout_every=5, heldout=False)
    assert (len(held), len(rest)) == (5, 19)


def test_in_process_loop_learns_and_writes_checkpoint(shards: Path, tmp_path: Path) -> None:
    first = train(_cfg(shards, tmp_path / "a", 1), use_ray=False)
    later = train(_cfg(shards, tmp_path / "b", 30), use_ray=False)
    assert later["psnr"] > first["psnr"]
    assert {"psnr", "ssim", "usage", "perplexity"} <= set(read_metadata(tmp_path / "b")["metadata"]["heldout"])
    assert load_checkpoint(tmp_path / "b").cfg == TINY


def test_ray_train_smoke(ray_session: str, shards: Path, tmp_path: Path) -> None:
    start = time.time()
    metrics = train(_cfg(shards, tmp_path / "ray", 3), use_ray=True)
    assert metrics["step"] == 3 and 0 < metrics["usage"] <= 1
    assert (tmp_path / "ray.safetensors").exists()
    assert time.time() - start < 120
