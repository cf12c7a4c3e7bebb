"""The VQ-VAE's configuration: every number that shapes the network, the codebook and the loss.

One frozen dataclass, written next to the weights as JSON (``checkpoint.py``), so a checkpoint is
self-describing and loading never needs pickle or code paths. Defaults follow Chameleon / LlamaGen
(§4.1–4.2 of the tokenization references) where they fit a curation-side tokenizer: codebook 8,192,
l2-normalised 8-dim codes (LlamaGen's ``codebook_embed_dim=8``, ``codebook_l2_norm=True``),
commitment β = 0.25, downsample 16. Channel widths are far smaller than Chameleon's 128-base,
5-level network: this tokenizer is trained by the project, on CPU for the shipped checkpoint.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["VQConfig", "CONFIG_VERSION"]

CONFIG_VERSION = "vqvae/v1"


@dataclass(frozen=True, kw_only=True)
class VQConfig:
    """Architecture and quantiser settings of a :class:`mmcurate.tokenizers.vqvae.model.VQVAE`."""

    resolution: int = 256  # side the tokenize stage resizes/centre-crops to; the net is fully convolutional
    downsample: int = 16  # 8 or 16: one code per downsample x downsample pixels
    base_channels: int = 64
    channel_mult: tuple[int, ...] = ()  # per level; () picks a default for the downsample
    num_res_blocks: int = 1
    z_channels: int = 128  # encoder output width before the low-dim projection
    codebook_size: int = 8192
    code_dim: int = 8  # LlamaGen: lookup in 8 dims makes every code reachable (high usage)
    l2_norm: bool = True  # cosine nearest neighbour on the unit sphere (ViT-VQGAN / LlamaGen)
    beta: float = 0.25  # commitment weight on ||z_e - sg[e]||^2
    dead_code_threshold: float = 0.05  # restart codes hit less than this x the uniform rate (EMA)
    usage_decay: float = 0.99  # EMA decay of the per-code hit counts that detect dead codes

    def __post_init__(self) -> None:
        if self.downsample not in (8, 16):
            raise ValueError(f"downsample must be 8 or 16, got {self.downsample}")
        if not self.channel_mult:
            object.__setattr__(self, "channel_mult", (1, 2, 2, 4) if self.downsample == 8 else (1, 1, 2, 2, 4))
        object.__setattr__(self, "channel_mult", tuple(int(m) for m in self.channel_mult))
        if 2 ** (len(self.channel_mult) - 1) != self.downsample:
            raise ValueError(f"channel_mult {self.channel_mult} gives downsample "
                             f"{2 ** (len(self.channel_mult) - 1)}, not {self.downsample}")
        if self.resolution % self.downsample:
            raise ValueError(f"resolution {self.resolution} is not a multiple of {self.downsample}")
        if self.codebook_size < 2 or self.code_dim < 1:
            raise ValueError("codebook_size must be >= 2 and code_dim >= 1")
        if not 0.0 < self.usage_decay < 1.0:
            raise ValueError(f"usage_decay must be in (0, 1), got {self.usage_decay}")

    @property
    def grid(self) -> int:
        """Codes per side at ``resolution``."""
        return self.resolution // self.downsample

    def to_dict(self) -> dict[str, Any]:
        return {"version": CONFIG_VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VQConfig:
        data = dict(data)
        version = data.pop("version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ValueError(f"unsupported VQ config version {version!r} (expected {CONFIG_VERSION!r})")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown VQ config keys: {sorted(unknown)}")
        if "channel_mult" in data:
            data["channel_mult"] = tuple(data["channel_mult"])
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> VQConfig:
        return cls.from_dict(json.loads(text))
