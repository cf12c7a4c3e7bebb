"""Saving and loading a VQ-VAE: weights in safetensors, architecture in a JSON file beside them.

No pickle anywhere (``torch.load`` of an untrusted file runs code): ``<stem>.safetensors`` holds the
state dict (weights, the quantiser's usage EMA and restart count), ``<stem>.json`` holds the
:class:`VQConfig` plus free-form training metadata (command, held-out metrics). Both files are written
through :func:`mmcurate.pipeline.atomic.atomic_write`, so a crash never leaves half a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from mmcurate.pipeline.atomic import atomic_write
from mmcurate.tokenizers.vqvae.config import VQConfig
from mmcurate.tokenizers.vqvae.model import VQVAE

__all__ = ["checkpoint_paths", "save_checkpoint", "load_checkpoint", "read_metadata",
           "SHIPPED_SMALL", "shipped_small"]

SHIPPED_SMALL = Path(__file__).resolve().parents[1] / "assets" / "vqvae_small"


def shipped_small() -> Path:
    """Stem of the checkpoint that ships with the package (``assets/vqvae_small.{safetensors,json}``)."""
    return SHIPPED_SMALL


def checkpoint_paths(stem: str | Path) -> tuple[Path, Path]:
    """``(weights, config)`` paths for a checkpoint stem; accepts either file's path too."""
    p = Path(stem)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_checkpoint(model: VQVAE, stem: str | Path, metadata: dict[str, Any] | None = None,
                    dtype: torch.dtype = torch.float32) -> tuple[Path, Path]:
    """Write ``model`` to ``<stem>.safetensors`` + ``<stem>.json``; returns both paths.

    ``dtype=torch.float16`` halves the file for shipping; buffers that are not floats keep their type.
    """
    from safetensors.torch import save

    module = getattr(model, "module", model)  # unwrap DDP
    weights_path, config_path = checkpoint_paths(stem)
    state = {k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in module.state_dict().items()}
    blob = save(state, metadata={"format": "pt", "config": module.cfg.to_json()})
    atomic_write(weights_path, lambda fh: fh.write(blob))
    doc = {"config": module.cfg.to_dict(), "metadata": metadata or {}}
    text = json.dumps(doc, indent=2, sort_keys=True).encode()
    atomic_write(config_path, lambda fh: fh.write(text))
    return weights_path, config_path


def read_metadata(stem: str | Path) -> dict[str, Any]:
    """The JSON side file: ``{"config": ..., "metadata": ...}``."""
    return json.loads(checkpoint_paths(stem)[1].read_text())


def load_checkpoint(stem: str | Path, device: str | torch.device = "cpu") -> VQVAE:
    """A :class:`VQVAE` in eval mode, fp32, on ``device``, from ``<stem>.safetensors`` + ``<stem>.json``."""
    from safetensors.torch import load_file

    weights_path, _ = checkpoint_paths(stem)
    cfg = VQConfig.from_dict(read_metadata(stem)["config"])
    model = VQVAE(cfg)
    state = load_file(str(weights_path))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    return model.to(device).eval()
