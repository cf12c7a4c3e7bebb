"""VQ-VAE building blocks: config validation, shapes at f8/f16, quantiser restarts, safetensors round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmcurate.tokenizers.vqvae.checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from mmcurate.tokenizers.vqvae.config import VQConfig
from mmcurate.tokenizers.vqvae.model import VQVAE
from mmcurate.tokenizers.vqvae.quantizer import VectorQuantizer

TINY = dict(base_channels=8, z_channels=16, codebook_size=64, code_dim=4)


def test_config_defaults_follow_chameleon_llamagen() -> None:
    cfg = VQConfig()
    assert (cfg.codebook_size, cfg.code_dim, cfg.beta, cfg.downsample, cfg.l2_norm) == (8192, 8, 0.25, 16, True)
    assert cfg.channel_mult == (1, 1, 2, 2, 4) and cfg.grid == 16
    assert VQConfig(downsample=8).channel_mult == (1, 2, 2, 4)


@pytest.mark.parametrize("bad", [dict(downsample=4), dict(downsample=8, channel_mult=(1, 2)),
                                 dict(resolution=100), dict(usage_decay=1.0)])
def test_config_rejects_inconsistent_values(bad: dict) -> None:
    with pytest.raises(ValueError):
        VQConfig(**bad)


def test_config_json_round_trip_rejects_unknown_keys() -> None:
    cfg = VQConfig(downsample=8, **TINY)
    assert VQConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown"):
        VQConfig.from_dict({**cfg.to_dict(), "typo": 1})


@pytest.mark.parametrize("downsample", [8, 16])
def test_shapes_encode_decode(downsample: int) -> None:
    torch.manual_seed(0)
    model = VQVAE(VQConfig(resolution=64, downsample=downsample, **TINY)).eval()
    x = torch.rand(2, 3, 64, 96) * 2 - 1
    codes = model.encode(x)
    assert codes.shape == (2, 64 // downsample, 96 // downsample) and codes.dtype == torch.int64
    assert int(codes.max()) < 64
    rec = model.decode_indices(codes)
    assert rec.shape == x.shape and float(rec.abs().max()) <= 1.0


def test_quantizer_is_cosine_and_restarts_dead_codes() -> None:
    torch.manual_seed(0)
    vq = VectorQuantizer(32, 4, dead_code_threshold=0.5, usage_decay=0.5).train()
    z = torch.randn(4, 4, 8, 8)
    out = vq(z)
    flat = torch.nn.functional.normalize(z.permute(0, 2, 3, 1).reshape(-1, 4), dim=1)
    assert torch.equal(out.indices.flatten(), torch.argmax(flat @ vq.codebook().t(), dim=1))
    for _ in range(5):  # a constant input hits one code; the others decay and get restarted
        vq(torch.ones(4, 4, 8, 8))
    assert int(vq.restarts) > 0
    out.codebook_loss.backward()
    assert vq.embedding.weight.grad is not None


def test_checkpoint_round_trip_is_safetensors_and_json(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VQVAE(VQConfig(resolution=32, downsample=8, **TINY)).eval()
    weights, config = save_checkpoint(model, tmp_path / "m", {"note": "test"})
    assert (weights, config) == checkpoint_paths(tmp_path / "m.safetensors")
    assert weights.read_bytes()[8:9] == b"{"  # safetensors: u64 header length, then JSON; never a pickle
    assert json.loads(config.read_text())["metadata"] == {"note": "test"}
    loaded = load_checkpoint(tmp_path / "m")
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded.encode(x), model.encode(x))
