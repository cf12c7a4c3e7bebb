"""PSNR / SSIM / usage / perplexity against independent references (scikit-image, closed forms)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmcurate.tokenizers.vqvae.metrics import code_perplexity, codebook_usage, psnr, ssim


def test_ssim_matches_skimage_gaussian(skimage_data_dir) -> None:
    from PIL import Image
    from skimage.metrics import structural_similarity

    a = np.asarray(Image.open(skimage_data_dir / "astronaut.png").convert("RGB").resize((96, 96)), np.float64) / 255
    rng = np.random.default_rng(0)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1.0, channel_axis=-1)
    ours = ssim(torch.from_numpy(a).permute(2, 0, 1)[None].float(), torch.from_numpy(b).permute(2, 0, 1)[None].float())
    assert float(ours[0]) == pytest.approx(ref, abs=2e-3)
    assert float(ssim(torch.from_numpy(a).permute(2, 0, 1)[None].float(),
                      torch.from_numpy(a).permute(2, 0, 1)[None].float())[0]) == pytest.approx(1.0, abs=1e-5)


def test_psnr_closed_form() -> None:
    x = torch.zeros(1, 3, 8, 8)
    assert float(psnr(x, x + 0.1)[0]) == pytest.approx(20.0, abs=1e-4)  # mse 0.01 -> 20 dB


def test_usage_and_perplexity() -> None:
    idx = torch.tensor([0, 1, 2, 3] * 10)
    assert codebook_usage(idx, 8) == 0.5
    assert code_perplexity(idx, 8) == pytest.approx(4.0)
    assert code_perplexity(torch.zeros(10, dtype=torch.long), 8) == pytest.approx(1.0)
    assert math.isclose(code_perplexity(torch.arange(8), 8), 8.0)
