"""The VQ tokenize stage: discrete code ids for every image and sampled video frame of a sample.

``VQTokenize`` (``vq_tokenize_v1``) loads a local checkpoint (safetensors + JSON, see
:mod:`.checkpoint`) once per actor in ``setup()``, decodes every ``kind == 'image'`` item of ``media``
and the sampled JPEG frames of every clip in the optional ``clips`` column (written by the video stage
``video_clips_v1``, which runs earlier in the job), resizes each picture's shorter side and centre-crops
it to the tokenizer resolution (:func:`.data.to_pixels`, Chameleon's preprocessing), and encodes all
pictures of a batch together in chunks of ``encode_batch_size``: bf16 autocast on CUDA, fp32 on CPU.

Columns: ``vq_codes`` / ``vq_grid`` hold one entry per media item, in media order, null for videos and
other non-image items: row-major code ids (``grid_h * grid_w`` int32 each) and the ``(h, w)`` of that
grid. ``vq_clip_codes`` holds one entry per clip of ``clips`` (null when the row has no clips): the
tokenized frames' indices, timestamps and codes, at most ``max_frames_per_clip`` of them, spread evenly
over the clip, so a long clip cannot blow a sample's token budget. Reject: ``vq_tokenize_v1:undecodable``
when an image item or a frame does not decode. :func:`decode_codes` turns one entry back into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column
from mmcurate.schemas.video import CLIP_INDEX, CLIPS

__all__ = ["VQ_CODES", "VQ_GRID", "VQ_GRID_TYPE", "VQ_CLIP_CODES", "VQ_CLIP_TYPE", "VQTokenize", "decode_codes",
           "frame_subset"]

VQ_CODES = "vq_codes"
VQ_GRID = "vq_grid"
VQ_CLIP_CODES = "vq_clip_codes"
VQ_GRID_TYPE = pa.struct([pa.field("h", pa.int32()), pa.field("w", pa.int32())])
VQ_CLIP_TYPE = pa.struct([
    pa.field("media_index", pa.int32(), metadata={"doc": "index of the video item in media the clip was cut from"}),
    pa.field(CLIP_INDEX, pa.int32(), metadata={"doc": "the clip's clip_index in the clips column"}),
    pa.field("frame_index", pa.list_(pa.int32()),
             metadata={"doc": "tokenized frames: indices into the clip's frames / frame_ts"}),
    pa.field("frame_ts", pa.list_(pa.float64()),
             metadata={"doc": "timestamps (s, source timeline) of the tokenized frames, from the clip"}),
    pa.field("codes", pa.list_(pa.list_(pa.int32())),
             metadata={"doc": "per tokenized frame: row-major VQ code ids (grid h*w)"}),
    pa.field("grid", VQ_GRID_TYPE, metadata={"doc": "(h, w) of every frame's code grid"}),
])
# Only what tokenizing needs from a clip: casting to it keeps MP4 bytes and the rest out of Python.
_CLIP_FRAMES_TYPE = pa.list_(pa.struct([pa.field(CLIP_INDEX, pa.int32()), pa.field("frame_ts", pa.list_(pa.float64())),
                                        pa.field("frames", pa.list_(pa.binary()))]))


def frame_subset(n: int, cap: int | None) -> list[int]:
    """Indices of the frames to tokenize out of ``n``: all, or ``cap`` spread evenly (first and last kept)."""
    if cap is None or n <= cap:
        return list(range(n))
    if cap == 1:
        return [0]
    return [round(k * (n - 1) / (cap - 1)) for k in range(cap)]  # strictly increasing since cap < n


def _clip_frames(batch: pa.Table) -> list[list[dict[str, Any]] | None]:
    """Per row, its clips' index, frame timestamps and JPEG frames; all None without a ``clips`` column."""
    if CLIPS not in batch.column_names:
        return [None] * batch.num_rows
    return batch.column(CLIPS).cast(_CLIP_FRAMES_TYPE).to_pylist()


def _video_index(media: list[dict[str, Any] | None]) -> int | None:
    """The media item the clips belong to: the first video item, the one ``video_clips_v1`` cuts."""
    return next((i for i, m in enumerate(media) if m and m.get("kind") == "video"), None)


def _default_checkpoint() -> str:
    from mmcurate.tokenizers.vqvae.checkpoint import shipped_small

    return str(shipped_small())


@dataclass(kw_only=True)
class VQTokenize(Stage):
    """Write ``vq_codes`` / ``vq_grid`` for image items and ``vq_clip_codes`` for clip frames."""

    name: ClassVar[str] = "vq_tokenize_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(VQ_CODES, pa.list_(pa.list_(pa.int32())),
                 metadata={"doc": "per media item: row-major VQ code ids (grid h*w), null for non-images"}),
        pa.field(VQ_GRID, pa.list_(VQ_GRID_TYPE),
                 metadata={"doc": "per media item: (h, w) of the code grid, null for non-images"}),
        pa.field(VQ_CLIP_CODES, pa.list_(VQ_CLIP_TYPE),
                 metadata={"doc": "per clip of `clips`, in clip order: codes of its tokenized frames; "
                                  "null for rows without clips"}),
    )
    stateful: ClassVar[bool] = True

    checkpoint: str = ""  # checkpoint stem (or either file); "" = the shipped vqvae_small
    resolution: int | None = None  # None: the checkpoint's config resolution
    num_gpus: float = 0.0  # > 0: Ray schedules it on GPU actors; setup() then uses CUDA
    num_cpus: float = 1.0
    device: str = "auto"  # "auto": cuda when num_gpus > 0 and available, else cpu
    encode_batch_size: int = 64
    threads: int = 0  # torch CPU threads in setup(); 0 leaves torch's default
    # Frames tokenized per clip (None: all). 8 frames of a 16x16 grid (the shipped 128 px tokenizer) are
    # 2,048 code ids a clip; a 10 s clip sampled at 2 fps has 20 frames, and a video has many clips.
    max_frames_per_clip: int | None = 8
    batch_size: int = 256

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.checkpoint:
            self.checkpoint = _default_checkpoint()
        if self.num_gpus < 0 or self.num_cpus <= 0 or self.encode_batch_size < 1:
            raise ValueError("num_gpus >= 0, num_cpus > 0 and encode_batch_size >= 1 are required")
        if self.max_frames_per_clip is not None and self.max_frames_per_clip < 1:
            raise ValueError(f"max_frames_per_clip must be >= 1 or None, got {self.max_frames_per_clip}")
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

    def encode_pixels(self, pixels: Any) -> np.ndarray:
        """uint8 ``(N, R, R, 3)`` (numpy, or a torch tensor on any device) to int32 codes ``(N, R/f, R/f)``.

        On CUDA each host chunk is copied from pinned memory on a side stream, so it overlaps the previous
        chunk's encode, and the codes stay on the device until one copy back at the end: nothing waits
        for the GPU inside the loop. Use a large ``encode_batch_size`` there (256-1024 at 256²).
        """
        import torch

        self.ensure_setup()
        out = []
        cuda = self._device.type == "cuda"
        for start in range(0, len(pixels), self.encode_batch_size):
            x = self._upload(pixels[start:start + self.encode_batch_size])
            x = x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                out.append(self._model.encode(x).to(torch.int32))
        side = self._side // self._model.cfg.downsample
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, side, side), np.int32)

    def _upload(self, chunk: Any) -> Any:
        """One chunk on the model's device; from the host via pinned memory on a side stream on CUDA."""
        import torch

        t = chunk if isinstance(chunk, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(chunk))
        if self._device.type != "cuda" or t.device.type != "cpu":
            return t.to(self._device)
        from mmcurate.pipeline.device_decode import upload

        return upload([t], self._device)[0]

    def process_batch(self, batch: pa.Table) -> pa.Table:
        from mmcurate.tokenizers.vqvae.data import decode_pixels

        self.ensure_setup()
        media_col = batch.column(S.MEDIA).to_pylist()
        clips_col = _clip_frames(batch)
        pixels: list[np.ndarray] = []
        where: list[tuple[int, int, int]] = []  # (row, media index or clip position, frame index or -1)
        bad: dict[int, str] = {}

        def add(r: int, data: bytes, key: tuple[int, int], label: str) -> None:
            try:
                pixels.append(decode_pixels(data, self._side))
                where.append((r, *key))
            except Exception as exc:  # noqa: BLE001 - any decoder failure is this row's data problem
                bad.setdefault(r, f"{label}: {type(exc).__name__}: {exc}"[:500])

        for r, media in enumerate(media_col):
            for i, item in enumerate(media or []):
                if item and item.get("kind") == "image":
                    add(r, item["bytes"], (i, -1), f"media[{i}]")
        chosen = [[frame_subset(len(c["frames"] or []), self.max_frames_per_clip) for c in clips or []]
                  for clips in clips_col]
        for r, clips in enumerate(clips_col):
            for k, clip in enumerate(clips or []):
                for j in chosen[r][k]:
                    add(r, clip["frames"][j], (k, j), f"clips[{k}].frames[{j}]")
        side = self._side // self._model.cfg.downsample
        codes = self.encode_pixels(np.stack(pixels)) if pixels else np.zeros((0, side, side), np.int32)

        per_row: list[list[list[int] | None]] = [[None] * len(m or []) for m in media_col]
        grids: list[list[dict[str, int] | None]] = [[None] * len(m or []) for m in media_col]
        grid = {"h": side, "w": side}
        frame_codes: dict[tuple[int, int, int], list[int]] = {}
        for (r, i, j), c in zip(where, codes):
            if j < 0:
                per_row[r][i], grids[r][i] = c.reshape(-1).tolist(), grid
            else:
                frame_codes[(r, i, j)] = c.reshape(-1).tolist()
        clip_codes: list[list[dict[str, Any]] | None] = []
        for r, clips in enumerate(clips_col):
            video = _video_index(media_col[r] or [])
            clip_codes.append(None if clips is None else [
                _clip_entry(clip, chosen[r][k], [frame_codes.get((r, k, j)) for j in chosen[r][k]], video, grid)
                for k, clip in enumerate(clips)])
        out = batch
        for f, values in zip(self.writes, (per_row, grids, clip_codes)):
            out = put_column(out, f, values)
        for r, error in bad.items():  # one call per bad row: mark_rejected takes one error text
            mask = [k == r for k in range(batch.num_rows)]
            out = mark_rejected(out, mask, self.name, self.reason("undecodable"), error)
        return out


def _clip_entry(clip: dict[str, Any], frames: list[int], codes: list[list[int] | None], media_index: int | None,
                grid: dict[str, int]) -> dict[str, Any]:
    """One ``VQ_CLIP_TYPE`` value; a frame that did not decode has null codes (its row is rejected)."""
    ts = clip["frame_ts"] or []
    return {"media_index": media_index, CLIP_INDEX: clip[CLIP_INDEX], "frame_index": frames,
            "frame_ts": [ts[j] for j in frames], "codes": codes, "grid": grid}


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
