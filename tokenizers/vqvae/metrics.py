"""Reconstruction and codebook metrics reported for every VQ checkpoint.

PSNR and SSIM are computed on images in ``[0, 1]`` (data range 1) per image, then averaged. SSIM is the
Wang et al. 2004 definition with an 11x11 gaussian window (sigma 1.5, K1 = 0.01, K2 = 0.03), averaged
over RGB channels on the valid (unpadded) region — the same numbers as
``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1, channel_axis=-1)`` (checked in the tests), but batched in torch.
Codebook usage is the fraction of codes hit at least once; perplexity is ``exp(entropy)`` of the code
histogram (equal to ``codebook_size`` for perfectly uniform use).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["psnr", "ssim", "codebook_usage", "code_perplexity"]


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of ``(B, C, H, W)`` tensors in ``[0, 1]``."""
    mse = (x.float() - y.float()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(1.0 / mse)


def _gaussian_window(sigma: float, radius: int, device: torch.device) -> torch.Tensor:
    t = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def ssim(x: torch.Tensor, y: torch.Tensor, sigma: float = 1.5, radius: int = 5) -> torch.Tensor:
    """Per-image SSIM of ``(B, C, H, W)`` tensors in ``[0, 1]`` (images must exceed the 11 px window)."""
    x, y = x.float(), y.float()
    c = x.shape[1]
    g = _gaussian_window(sigma, radius, x.device)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable gaussian, valid region only
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def codebook_usage(indices: torch.Tensor, codebook_size: int) -> float:
    """Fraction of the ``codebook_size`` codes that occur in ``indices``."""
    return int(torch.unique(indices).numel()) / codebook_size


def code_perplexity(indices: torch.Tensor, codebook_size: int) -> float:
    """``exp(H)`` of the empirical code distribution (effective number of codes in use)."""
    counts = torch.bincount(indices.flatten().long(), minlength=codebook_size).double()
    p = counts / counts.sum()
    p = p[p > 0]
    return float(math.exp(float(-(p * p.log()).sum())))
