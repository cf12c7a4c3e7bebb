"""The VQ-VAE network: a convolutional encoder, the quantiser, a mirrored decoder.

The layout is Chameleon's / taming's VQGAN (residual blocks with GroupNorm + SiLU, stride-2
downsampling, nearest upsampling, ``quant_conv`` into the code space and ``post_quant_conv`` out of it)
at a small width, without attention: attention buys rFID at 16x16 latents but costs the CPU throughput
the curation side needs, and a fully convolutional net tokenizes any resolution that is a multiple of
``downsample``. ``channel_mult`` has one entry per level; ``len - 1`` levels halve the resolution, so
``(1, 2, 2, 4)`` is f=8 and ``(1, 1, 2, 2, 4)`` is f=16 (Chameleon, LlamaGen).

Pixels are ``(B, 3, H, W)`` floats in ``[-1, 1]``; codes are ``(B, H/f, W/f)`` int64.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mmcurate.tokenizers.vqvae.config import VQConfig
from mmcurate.tokenizers.vqvae.quantizer import QuantizerOutput, VectorQuantizer

__all__ = ["VQVAE", "Encoder", "Decoder", "ResBlock"]


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=math.gcd(32, ch), num_channels=ch, eps=1e-6)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a 1x1 shortcut when the width changes."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  _norm(c_out), nn.SiLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


class Encoder(nn.Module):
    """Pixels to ``z_channels`` latents at 1/``downsample`` resolution."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        widths = [cfg.base_channels * m for m in cfg.channel_mult]
        layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1)]
        ch = widths[0]
        for level, width in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResBlock(ch, width))
                ch = width
            if level < len(widths) - 1:
                layers.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        layers += [ResBlock(ch, ch), _norm(ch), nn.SiLU(), nn.Conv2d(ch, cfg.z_channels, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class _Upsample(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Decoder(nn.Module):
    """``z_channels`` latents back to pixels (no output squashing; callers clamp to ``[-1, 1]``)."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        widths = [cfg.base_channels * m for m in cfg.channel_mult][::-1]
        ch = widths[0]
        layers: list[nn.Module] = [nn.Conv2d(cfg.z_channels, ch, 3, padding=1), ResBlock(ch, ch)]
        for level, width in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                layers.append(ResBlock(ch, width))
                ch = width
            if level < len(widths) - 1:
                layers.append(_Upsample(ch))
        layers += [_norm(ch), nn.SiLU(), nn.Conv2d(ch, 3, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VQVAE(nn.Module):
    """Encoder -> ``quant_conv`` (to ``code_dim``) -> quantiser -> ``post_quant_conv`` -> decoder."""

    def __init__(self, cfg: VQConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.quant_conv = nn.Conv2d(cfg.z_channels, cfg.code_dim, 1)
        self.quantizer = VectorQuantizer(cfg.codebook_size, cfg.code_dim, beta=cfg.beta, l2_norm=cfg.l2_norm,
                                         dead_code_threshold=cfg.dead_code_threshold,
                                         usage_decay=cfg.usage_decay)
        self.post_quant_conv = nn.Conv2d(cfg.code_dim, cfg.z_channels, 1)
        self.decoder = Decoder(cfg)

    def quantize(self, x: torch.Tensor) -> QuantizerOutput:
        """Pixels to quantised latents and code indices."""
        return self.quantizer(self.quant_conv(self.encoder(x)))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, QuantizerOutput]:
        out = self.quantize(x)
        return self.decoder(self.post_quant_conv(out.z_q.to(x.dtype))), out

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels ``(B, 3, H, W)`` in ``[-1, 1]`` to codes ``(B, H/f, W/f)``."""
        return self.quantize(x).indices

    @torch.no_grad()
    def decode_indices(self, indices: torch.Tensor) -> torch.Tensor:
        """Codes ``(B, h, w)`` to pixels ``(B, 3, h*f, w*f)`` clamped to ``[-1, 1]``."""
        q = self.quantizer.codebook()[indices.long()]  # (B, h, w, code_dim)
        z = q.permute(0, 3, 1, 2).to(self.post_quant_conv.weight.dtype)
        return self.decoder(self.post_quant_conv(z)).clamp_(-1.0, 1.0)
