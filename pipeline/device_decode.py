"""Batched JPEG decode on a torch device, with :class:`ImageDecode`'s reject reasons; CLIP preprocessing there.

Why: Pillow's decode and resize cost the host about a millisecond per web image, many times what
ViT-B/32 costs on a GPU. ``torchvision.io.decode_jpeg(list, device="cuda")`` decodes a whole batch with
nvJPEG, and the resize, crop and normalise then run where the pixels already are. ``device="cpu"`` runs
the same code with libjpeg, which is how the tests check the path on machines without a GPU.

Routing is what keeps the reject reasons those of ``ImageDecode``: only bytes that Pillow's header parse
calls JPEG, in mode RGB or L, without EXIF rotation, within ``ImageDecode``'s size limits, and ending in an
EOI marker go to the device. Everything else, and every item the device decoder refuses, goes through
``ImageDecode.decode_item`` (Pillow), which yields the reject reason or the normalised image. One gap
remains: a JPEG whose entropy-coded data is damaged but which still ends in EOI may decode to garbage on
the device where Pillow says ``corrupt``; in a job, ``image_decode_v1`` runs first and has judged it.

Numerics of :func:`clip_preprocess` against open_clip's PIL transform (resize the shorter side, bicubic,
centre crop, normalise): torch's antialiased bicubic uses PIL's kernel (a = -0.5, support widened by the
scale), but in float, where Pillow rounds to uint8 between its horizontal and vertical passes. We clamp
and round the result like Pillow's uint8 output. Measured on photo crops: a mean difference of ~0.15 of a
level, at most 3-6 levels at sharp edges; tiny-CLIP embeddings keep a cosine > 0.9999 with the PIL path
(``tests/pipeline/test_device_decode.py``, ``tests/filters/test_clip_device.py``).
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.pipeline.stage import Reject

__all__ = ["Decoded", "HostBatch", "eoi_terminated", "device_eligible", "cpu_decode", "prepare", "finish", "upload",
           "decode_images", "resize_centre_crop", "clip_preprocess"]

Decoded = torch.Tensor | Reject  # a uint8 (3, H, W) tensor on the device, or why the item was rejected

_EOI = b"\xff\xd9"
_PADDING = b"\x00\r\n\t "  # what some encoders and servers append after EOI; decoders ignore it
_TAIL, _ORIENTATION = 64, 0x0112  # bytes searched for EOI; the EXIF orientation tag
# ImageDecode flips the global warnings filter (bomb warning -> error), which is not thread-safe, and
# callers prepare the next batch in a thread while this one finishes: all Pillow work takes this lock.
_PILLOW = threading.Lock()


def eoi_terminated(data: bytes) -> bool:
    """True when ``data`` ends in the JPEG EOI marker (FF D9), trailing padding allowed.

    Truncated files are where decoders disagree: Pillow says ``image_truncated``, libjpeg through
    torchvision raises, nvJPEG may fill the missing blocks and succeed. Without EOI, Pillow decides."""
    return data[-_TAIL:].rstrip(_PADDING).endswith(_EOI)


def device_eligible(data: bytes, decoder: ImageDecode) -> bool:
    """True when ``data`` may skip Pillow's decode: see the module doc for the rules."""
    if not data or not eoi_terminated(data):
        return False
    with _PILLOW, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # The very parse and size checks decode_item starts with, so the limits cannot drift apart.
            im = decoder._open(data)
            decoder._check_size(*im.size)
            return (im.format == "JPEG" and im.mode in ("RGB", "L")
                    and im.getexif().get(_ORIENTATION, 1) in (1, None))
        except Exception:  # noqa: BLE001 - any refusal is reported by the CPU path, with its reason
            return False


def cpu_decode(data: bytes, decoder: ImageDecode) -> Decoded:
    """``ImageDecode``'s verdict on ``data``: a uint8 (3, H, W) CPU tensor of the image, or its Reject."""
    with _PILLOW:
        try:
            item = decoder.decode_item({"bytes": data, "kind": "image"})
        except Reject as rej:
            return rej
        # decode_item validated (kept JPEGs at 1/8 scale) and normalised (EXIF turn, CMYK, alpha, first
        # frame); its output bytes are what a job stores, so they are what gets decoded in full here.
        with Image.open(io.BytesIO(item["bytes"])) as im:
            rgb = np.array(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


@dataclass
class HostBatch:
    """One batch after its host half: JPEG byte tensors bound for the device, and Pillow's verdicts."""

    datas: Sequence[bytes]
    decoder: ImageDecode
    jpeg_index: list[int] = field(default_factory=list)
    jpegs: list[torch.Tensor] = field(default_factory=list)
    cpu: dict[int, Decoded] = field(default_factory=dict)


def prepare(datas: Sequence[bytes], decoder: ImageDecode) -> HostBatch:
    """Route every item; decode with Pillow those the device must not take. Safe to run in a thread."""
    batch = HostBatch(datas, decoder)
    for i, data in enumerate(datas):
        if device_eligible(data, decoder):
            batch.jpeg_index.append(i)
            # bytearray: torch wants a writable buffer. No pinning: nvJPEG stages the bytes through its
            # own pinned buffers, so pinning these small tensors would only add a host allocation each.
            batch.jpegs.append(torch.frombuffer(bytearray(data), dtype=torch.uint8))
        else:
            batch.cpu[i] = cpu_decode(data, batch.decoder)
    return batch


def _decode_one(data: torch.Tensor, device: torch.device) -> torch.Tensor | None:
    try:
        return decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    except (RuntimeError, ValueError):
        return None  # the CPU path gives this item its reason


def _decode_all(jpegs: list[torch.Tensor], device: torch.device) -> list[torch.Tensor | None]:
    """One batched decode; if it fails (it never returns partial results), one call per item."""
    try:
        return list(decode_jpeg(jpegs, mode=ImageReadMode.RGB, device=device))
    except (RuntimeError, ValueError):
        return [_decode_one(data, device) for data in jpegs]


@lru_cache(maxsize=None)
def _side_stream(device: torch.device, role: str) -> torch.cuda.Stream:
    return torch.cuda.Stream(device)


def _hand_over(tensors: list[torch.Tensor | None], side: torch.cuda.Stream, device: torch.device) -> None:
    """Compute waits for ``side``; the tensors, allocated on ``side``, stay out of the allocator's reach
    until compute is done with them."""
    compute = torch.cuda.current_stream(device)
    compute.wait_stream(side)
    for t in tensors:
        if t is not None:
            t.record_stream(compute)


def _device_decode(jpegs: list[torch.Tensor], device: torch.device) -> list[torch.Tensor | None]:
    """Decode on ``device``; on CUDA from a stream of its own. torchvision allocates nvJPEG's outputs on
    the current stream but writes them from a private one, without waiting: a block freed by kernels
    still queued (the previous batch's model) can be overwritten under them (pytorch/vision#9606). On a
    stream that only ever decodes, the blocks it is handed are ones ``_hand_over`` has fenced."""
    if not jpegs:
        return []
    if device.type != "cuda":
        return _decode_all(jpegs, device)
    stream = _side_stream(device, "decode")
    with torch.cuda.stream(stream):
        out = _decode_all(jpegs, device)
    _hand_over(out, stream, device)
    return out


def upload(tensors: Sequence[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """Host tensors to ``device``. On CUDA: from pinned memory, on a side stream, so the copies overlap
    what the compute stream still runs (the previous batch's model)."""
    if device.type != "cuda":
        return [t.to(device) for t in tensors]
    stream = _side_stream(device, "copy")
    with torch.cuda.stream(stream):
        out = [t.pin_memory().to(device, non_blocking=True) for t in tensors]
    _hand_over(out, stream, device)
    return out


def finish(batch: HostBatch, device: torch.device) -> list[Decoded]:
    """The device half: decode the routed JPEGs there; an item the device refuses goes to Pillow."""
    out: dict[int, Decoded] = dict(batch.cpu)
    for i, image in zip(batch.jpeg_index, _device_decode(batch.jpegs, device)):
        out[i] = image if image is not None else cpu_decode(batch.datas[i], batch.decoder)
    if device.type != "cpu":  # Pillow's images are on the host
        host = [i for i, v in out.items() if isinstance(v, torch.Tensor) and v.device.type == "cpu"]
        out.update(zip(host, upload([out[i] for i in host], device)))
    return [out[i] for i in range(len(batch.datas))]


def decode_images(datas: Sequence[bytes], device: str | torch.device = "cpu",
                  decoder: ImageDecode | None = None) -> list[Decoded]:
    """Per item: its uint8 (3, H, W) RGB pixels on ``device``, or the Reject ``ImageDecode`` would raise."""
    return finish(prepare(datas, decoder or ImageDecode()), torch.device(device))


def _open_clip_size(h: int, w: int, side: int) -> tuple[int, int]:
    # torchvision Resize(int): the shorter side becomes `side`, the longer one is truncated, not rounded.
    return (side, int(side * w / h)) if h <= w else (int(side * h / w), side)


def _to_pixels_size(h: int, w: int, side: int) -> tuple[int, int]:
    scale = side / min(h, w)  # mmcurate.tokenizers.vqvae.data.to_pixels (the VQ tokenizer's input)
    return max(side, round(h * scale)), max(side, round(w * scale))


# Per recipe: output size from the source's (h, w), and crop offset from (resized length, side).
_RULES: dict[str, tuple[Callable[[int, int, int], tuple[int, int]], Callable[[int, int], int]]] = {
    "open_clip": (_open_clip_size, lambda n, side: int(round((n - side) / 2.0))),  # torchvision CenterCrop
    "to_pixels": (_to_pixels_size, lambda n, side: (n - side) // 2),
}


def _inverse(order: list[int], device: torch.device) -> torch.Tensor:
    inv = torch.empty(len(order), dtype=torch.long)
    inv[torch.tensor(order)] = torch.arange(len(order))
    # A pageable host-to-device copy would wait for everything queued on the stream: pin it instead.
    return inv.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else inv.to(device)


def resize_centre_crop(images: Sequence[torch.Tensor], side: int, rule: str = "open_clip") -> torch.Tensor:
    """(N, 3, side, side) float32 in [0, 255], rounded, on the images' device: shorter side resized to
    ``side`` (bicubic, antialiased), then the centre crop. ``rule``: ``open_clip`` (torchvision's Resize
    + CenterCrop) or ``to_pixels`` (the VQ tokenizer's). Images of one size share one interpolate call."""
    size_of, offset = _RULES[rule]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, im in enumerate(images):
        groups.setdefault((int(im.shape[-2]), int(im.shape[-1])), []).append(i)
    parts, order = [], []
    for (h, w), idx in groups.items():
        x = (images[idx[0]][None] if len(idx) == 1 else torch.stack([images[i] for i in idx])).float()  # [None]: no copy
        nh, nw = size_of(h, w, side)
        if (nh, nw) != (h, w):  # torchvision returns an image already at its size untouched
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", antialias=True, align_corners=False)
        top, left = offset(nh, side), offset(nw, side)
        parts.append(x[:, :, top:top + side, left:left + side])
        order += idx
    out = torch.cat(parts).clamp_(0, 255).round_()  # Pillow's output is clipped, rounded uint8
    return out if order == sorted(order) else out[_inverse(order, out.device)]


@lru_cache(maxsize=16)
def _mean_std(mean: tuple[float, ...], std: tuple[float, ...], device: torch.device) -> tuple[torch.Tensor, ...]:
    # Cached: building them per batch would be a synchronous host-to-device copy each time.
    return tuple(torch.tensor(v, dtype=torch.float32, device=device).view(1, -1, 1, 1) for v in (mean, std))


def clip_preprocess(images: Sequence[torch.Tensor], side: int, mean: Sequence[float],
                    std: Sequence[float]) -> torch.Tensor:
    """open_clip's eval transform on uint8 (3, H, W) tensors of any sizes: (N, 3, side, side) float32."""
    x = resize_centre_crop(images, side)
    m, s = _mean_std(tuple(mean), tuple(std), x.device)
    return x.div_(255).sub_(m).div_(s)  # ToTensor + Normalize, the same float32 operations
