"""The VQ tokenize stage: discrete code ids for every image of a sample, and decoding them back.

``VQTokenize`` (``vq_tokenize_v1``) loads a local checkpoint (safetensors + JSON, see
:mod:`.checkpoint`) once per actor in ``setup()``, decodes every ``kind == 'image'`` item of ``media``,
resizes its shorter side and centre-crops it to the tokenizer resolution (:func:`.data.to_pixels`,
Chameleon's preprocessing), and encodes all images of a batch together in chunks of
``encode_batch_size``: bf16 autocast on CUDA, fp32 on CPU. Samples may hold several images.

Columns (one entry per media item, in media order, null for videos and other non-image items):
``vq_codes`` — row-major code ids (``grid_h * grid_w`` int32 each); ``vq_grid`` — ``(h, w)`` of that
grid. Reject: ``vq_tokenize_v1:undecodable`` when an image item's bytes do not decode.
:func:`decode_codes` turns one entry back into pixels for inspection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.rejects import mark_rejected
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S

__all__ = ["VQ_CODES", "VQ_GRID", "VQ_GRID_TYPE", "VQTokenize", "decode_codes"]

VQ_CODES = "vq_codes"
VQ_GRID = "vq_grid"
VQ_GRID_TYPE = pa.struct([pa.field("h", pa.int32()), pa.field("w", pa.int32())])


def _default_checkpoint() -> str:
    from mmcurate.tokenizers.vqvae.checkpoint import shipped_small

    return str(shipped_small())


@dataclass(kw_only=True)
class VQTokenize(Stage):
    """Write ``vq_codes`` / ``vq_grid`` for every image item with the VQ-VAE at ``checkpoint``."""

    name: ClassVar[str] = "vq_tokenize_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(VQ_CODES, pa.list_(pa.list_(pa.int32())),
                 metadata={"doc": "per media item: row-major VQ code ids (grid h*w), null for non-images"}),
        pa.field(VQ_GRID, pa.list_(VQ_GRID_TYPE),
                 metadata={"doc": "per media item: (h, w) of the code grid, null for non-images"}),
    )
    stateful: ClassVar[bool] = True

    checkpoint: str = ""  # checkpoint stem (or either file); "" = the shipped vqvae_small
    resolution: int | None = None  # None: the checkpoint's config resolution
    num_gpus: float = 0.0  # > 0: Ray schedules it on GPU actors; setup() then uses CUDA
    num_cpus: float = 1.0
    device: str = "auto"  # "auto": cuda when num_gpus > 0 and available, else cpu
    encode_batch_size: int = 64
    threads: int = 0  # torch CPU threads in setup(); 0 leaves torch's default
    batch_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.checkpoint:
            self.checkpoint = _default_checkpoint()
        if self.num_gpus < 0 or self.num_cpus <= 0 or self.encode_batch_size < 1:
            raise ValueError("num_gpus >= 0, num_cpus > 0 and encode_batch_size >= 1 are required")
        weights = Path(self.checkpoint).with_suffix("") if Path(self.checkpoint).suffix else Path(self.checkpoint)
        if not weights.with_name(weights.name + ".safetensors").exists():
            raise FileNotFoundError(f"no VQ checkpoint at {weights}.safetensors")

    @property  # type: ignore[override]  # instance-configured, unlike other stages' class attribute
    def resources(self) -> Resources:
        return Resources(num_cpus=self.num_cpus, num_gpus=self.num_gpus)

    def setup(self) -> None:
        import torch

        from mmcurate.tokenizers.vqvae.checkpoint import load_checkpoint

        if self.threads:
            torch.set_num_threads(self.threads)
        want_cuda = self.device == "cuda" or (self.device == "auto" and self.num_gpus > 0)
        self._device = torch.device("cuda" if want_cuda and torch.cuda.is_available() else
                                    (self.device if self.device not in ("auto", "cuda") else "cpu"))
        self._model = load_checkpoint(self.checkpoint, self._device)
        self._side = self.resolution or self._model.cfg.resolution
        if self._side % self._model.cfg.downsample:
            raise ValueError(f"resolution {self._side} is not a multiple of {self._model.cfg.downsample}")

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 ``(N, R, R, 3)`` to int32 codes ``(N, R/f, R/f)`` (call after ``ensure_setup``)."""
        import torch

        self.ensure_setup()
        out = []
        cuda = self._device.type == "cuda"
        for start in range(0, len(pixels), self.encode_batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(pixels[start:start + self.encode_batch_size]))
            x = chunk.to(self._device, non_blocking=True).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                out.append(self._model.encode(x).to(torch.int32).cpu().numpy())
        side = self._side // self._model.cfg.downsample
        return np.concatenate(out) if out else np.zeros((0, side, side), np.int32)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        from mmcurate.tokenizers.vqvae.data import decode_pixels

        self.ensure_setup()
        media_col = batch.column(S.MEDIA).to_pylist()
        pixels: list[np.ndarray] = []
        where: list[tuple[int, int]] = []
        bad: dict[int, str] = {}
        for r, media in enumerate(media_col):
            for i, item in enumerate(media or []):
                if not item or item.get("kind") != "image":
                    continue
                try:
                    pixels.append(decode_pixels(item["bytes"], self._side))
                    where.append((r, i))
                except Exception as exc:  # noqa: BLE001 - any decoder failure is this row's data problem
                    bad.setdefault(r, f"media[{i}]: {type(exc).__name__}: {exc}"[:500])
        codes = self.encode_pixels(np.stack(pixels)) if pixels else np.zeros((0, 1, 1), np.int32)
        per_row: list[list[list[int] | None]] = [[None] * len(m or []) for m in media_col]
        grids: list[list[dict[str, int] | None]] = [[None] * len(m or []) for m in media_col]
        for (r, i), c in zip(where, codes):
            per_row[r][i] = c.reshape(-1).tolist()
            grids[r][i] = {"h": int(c.shape[0]), "w": int(c.shape[1])}
        out = batch
        for f, values in zip(self.writes, (per_row, grids)):
            col = pa.array(values, f.type)
            out = out.set_column(out.schema.get_field_index(f.name), f, col) if f.name in out.schema.names \
                else out.append_column(f, col)
        for r, error in bad.items():  # one call per bad row: mark_rejected takes one error text
            mask = [k == r for k in range(batch.num_rows)]
            out = mark_rejected(out, mask, self.name, self.reason("undecodable"), error)
        return out


def decode_codes(codes: list[int] | np.ndarray, grid_h: int, grid_w: int, model: Any = None,
                 checkpoint: str | Path | None = None) -> np.ndarray:
    """Code ids of one image (row-major, ``grid_h * grid_w``) back to uint8 ``(H, W, 3)`` pixels.

    Pass a loaded ``model`` (:class:`~.model.VQVAE`) to decode many images, else ``checkpoint``
    (default: the shipped one) is loaded for this call.
    """
    import torch

    from mmcurate.tokenizers.vqvae.checkpoint import load_checkpoint

    if model is None:
        model = load_checkpoint(checkpoint or _default_checkpoint())
    device = next(model.parameters()).device
    idx = torch.as_tensor(np.asarray(codes, dtype=np.int64).reshape(1, grid_h, grid_w), device=device)
    with torch.inference_mode():
        x = model.decode_indices(idx)[0].float()
    return ((x + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
