"""The GPU media path of the CLIP filters: JPEG bytes to image embeddings with decode and preprocessing on
the model's device (:mod:`mmcurate.pipeline.device_decode`: nvJPEG on CUDA, libjpeg on CPU).

Per batch of ``ClipEmbedder.batch_size`` items: the host routes the items and parses their headers while
the device still works on the previous batch (a one-ahead prefetch thread; nvJPEG and the model release
the GIL), then nvJPEG decodes the batch, :func:`~mmcurate.pipeline.device_decode.clip_preprocess` resizes,
crops and normalises it, and the image tower runs under bf16 autocast on CUDA. Nothing waits for the
device until the end: embeddings stay there and come back in one copy, so the next batch's host work and
copies overlap the current batch's compute.

:func:`device_images` is what ``ClipScoreFilter`` calls when it decodes on the device: JPEG items take
this path, other images (PNG, raw RGB) the PIL path as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from mmcurate.filters.media import decode_image

if TYPE_CHECKING:
    from mmcurate.filters.clip_model import ClipEmbedder
    from mmcurate.pipeline.decode_image import ImageDecode
    from mmcurate.pipeline.device_decode import HostBatch
    from mmcurate.pipeline.stage import Reject

__all__ = ["JPEG_MIMES", "device_supported", "embed_jpeg_bytes", "device_images", "lenient_decoder"]

JPEG_MIMES = ("image/jpeg", "image/jpg", "image/pjpeg")


def device_supported(embedder: ClipEmbedder) -> bool:
    """True when the model's eval transform is one :func:`clip_preprocess` reproduces (square input,
    shorter side resized with bicubic, RGB): open_clip's default for CLIP and SigLIP models."""
    cfg = embedder.model.visual.preprocess_cfg
    size = cfg.get("size", 224)
    square = not isinstance(size, (tuple, list)) or len(set(size)) == 1
    return (square and cfg.get("resize_mode", "shortest") == "shortest"
            and cfg.get("interpolation", "bicubic") == "bicubic" and cfg.get("mode", "RGB") == "RGB")


def lenient_decoder() -> ImageDecode:
    """An ``ImageDecode`` that refuses only what cannot be decoded: the filters score any image the PIL
    path would (tiny or long ones included), since size limits belong to ``image_decode_v1``."""
    from mmcurate.pipeline.decode_image import ImageDecode

    return ImageDecode(min_side=1, max_aspect=1e9, max_pixels=10**10)


def embed_jpeg_bytes(embedder: ClipEmbedder, datas: Sequence[bytes],
                     decoder: ImageDecode | None = None) -> tuple[np.ndarray, list[Reject | None]]:
    """``(n, d)`` unit-norm float32 embeddings of encoded images (rows of rejected items are NaN) and,
    per item, its ``Reject`` (ImageDecode's reason) or None. Non-JPEG bytes work too (Pillow decodes them)."""
    import torch

    from mmcurate.pipeline.decode_image import ImageDecode
    from mmcurate.pipeline.device_decode import clip_preprocess, finish
    from mmcurate.pipeline.stage import Reject

    device, decoder = torch.device(embedder.device), decoder or ImageDecode()
    cfg, side, step = embedder.model.visual.preprocess_cfg, embedder.input_side, embedder.batch_size
    chunks = [datas[i:i + step] for i in range(0, len(datas), step)]
    rejects: list[Reject | None] = [None] * len(datas)
    kept: list[int] = []
    outs = []
    with torch.inference_mode():
        for k, host in enumerate(_host_batches(chunks, decoder, prefetch=device.type != "cpu")):
            images = []
            for j, got in enumerate(finish(host, device)):
                if isinstance(got, Reject):
                    rejects[k * step + j] = got
                else:
                    images.append(got)
                    kept.append(k * step + j)
            if not images:
                continue
            pixels = clip_preprocess(images, side, cfg["mean"], cfg["std"])
            with embedder._autocast():
                x = embedder.model.encode_image(pixels).float()
            outs.append(x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12))  # stays on the device
    out = np.full((len(datas), embedder.dim), np.nan, np.float32)
    if outs:
        out[kept] = torch.cat(outs).cpu().numpy()  # the one device-to-host sync of the call
    return out, rejects


def _host_batches(chunks: list[Sequence[bytes]], decoder: ImageDecode, prefetch: bool) -> Iterator[HostBatch]:
    """``prepare`` of each chunk; with ``prefetch``, the next chunk's in a thread while the caller uses this
    one. Not on CPU: there the model's own threads use every core, and a Pillow thread stalls them."""
    from mmcurate.pipeline.device_decode import prepare

    if not prefetch:
        yield from (prepare(chunk, decoder) for chunk in chunks)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="clip-prefetch") as pool:
        ahead = pool.submit(prepare, chunks[0], decoder) if chunks else None
        for k in range(len(chunks)):
            assert ahead is not None
            host = ahead.result()
            ahead = pool.submit(prepare, chunks[k + 1], decoder) if k + 1 < len(chunks) else None
            yield host


def _is_jpeg(item: dict[str, Any] | None) -> bool:
    return bool(item and item.get("kind") in (None, "image") and item.get("bytes") and item.get("mime") in JPEG_MIMES)


def device_images(embedder: ClipEmbedder, media_col: Sequence[Sequence[dict[str, Any]] | None],
                  draft_side: int | None) -> tuple[list[list[Any]], np.ndarray]:
    """Per row, a marker aligned with ``media`` (True: the item has an embedding; None: no image or not
    decodable) and the embeddings of the True items in row-major order, as ``pair_scores`` wants them."""
    jpeg_at, jpeg_bytes, pil_at, pil_images = [], [], [], []
    for r, media in enumerate(media_col):
        for j, item in enumerate(media or []):
            if _is_jpeg(item):
                jpeg_at.append((r, j))
                jpeg_bytes.append(item["bytes"])
            elif (im := decode_image(item, draft_side)) is not None:
                pil_at.append((r, j))
                pil_images.append(im)
    vectors: dict[tuple[int, int], np.ndarray] = {}
    if jpeg_bytes:
        emb, rejects = embed_jpeg_bytes(embedder, jpeg_bytes, lenient_decoder())
        vectors.update((at, e) for at, e, rej in zip(jpeg_at, emb, rejects) if rej is None)
    if pil_images:
        vectors.update(zip(pil_at, embedder.embed_images(pil_images)))
    marks = [[True if (r, j) in vectors else None for j in range(len(m or []))] for r, m in enumerate(media_col)]
    order = sorted(vectors)  # (row, item) tuples sort row-major
    stacked = np.stack([vectors[at] for at in order]) if order else np.zeros((0, embedder.dim), np.float32)
    return marks, stacked
