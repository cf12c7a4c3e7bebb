"""The shipped ``vqvae_small`` checkpoint: reconstruction floor on real photos, codebook usage held out.

Floors are the numbers measured for the shipped file (see its JSON ``metadata.heldout``) minus a small
margin for CPU float differences; the photos are scikit-image's held-out ones (never trained on).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from mmcurate.tokenizers.vqvae.checkpoint import load_checkpoint, read_metadata, shipped_small
from mmcurate.tokenizers.vqvae.data import HELDOUT_PHOTOS, builtin_items, photo_paths, to_pixels
from mmcurate.tokenizers.vqvae.metrics import code_perplexity, codebook_usage, psnr, ssim
from mmcurate.tokenizers.vqvae.stage import decode_codes

PSNR_FLOOR_DB = 15.8  # measured 16.24 dB mean over the 4 held-out photos at 128²
SSIM_FLOOR = 0.42  # measured 0.457
USAGE_FLOOR = 0.94  # measured 0.975 (499 of 512 codes) on 48 held-out images


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(shipped_small())


def test_shipped_files_are_small_and_self_describing(model) -> None:
    stem = shipped_small()
    size = stem.with_name(stem.name + ".safetensors").stat().st_size
    assert size < 4 * 1024**2
    meta = read_metadata(stem)
    assert meta["metadata"]["command"].startswith("mmcurate train-vqvae")
    assert model.cfg.codebook_size == meta["config"]["codebook_size"]


def test_round_trip_on_real_photos_reaches_floor(model) -> None:
    side = model.cfg.resolution
    pixels = np.stack([to_pixels(Image.open(p), side) for p in photo_paths("heldout")])
    assert len(pixels) == len(HELDOUT_PHOTOS)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1
    codes = model.encode(x)
    rec = np.stack([decode_codes(c.flatten().tolist(), *c.shape, model=model) for c in codes])
    a = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    b = torch.from_numpy(rec).permute(0, 3, 1, 2).float() / 255
    assert float(psnr(a, b).mean()) >= PSNR_FLOOR_DB
    assert float(ssim(a, b).mean()) >= SSIM_FLOOR


def test_codebook_usage_on_heldout_images(model) -> None:
    side = model.cfg.resolution
    pixels = np.stack([to_pixels(im, side) for im, _ in builtin_items("heldout", 48, side)])
    codes = model.encode(torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1)
    k = model.cfg.codebook_size
    assert codebook_usage(codes, k) >= USAGE_FLOOR
    assert code_perplexity(codes, k) > 0.5 * k  # measured 284 of 512
