"""Videos for the video-dedup tests: a slow pan across a real photo, and heavy re-encodes of it.

Textured content matters: the demo generator's solid-colour scenes have almost no low-frequency
energy besides the DC term, so their pHash bits are decided by encoder noise, which is not what a
re-encode of a real video looks like.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
from dedup_helpers import sample_rows
from PIL import Image

from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table

FPS = 10


def pan_frames(photo: Path, n: int, size: tuple[int, int] = (192, 144)) -> list[np.ndarray]:
    """``n`` RGB frames of a window (2/3 of the photo) panning right and down across it."""
    img = np.asarray(Image.open(photo).convert("RGB"))
    h, w = img.shape[:2]
    cw, ch = w * 2 // 3, h * 2 // 3
    frames = []
    for i in range(n):
        x, y = (w - cw) * i // (n - 1), (h - ch) * i // (2 * (n - 1))
        frames.append(np.asarray(Image.fromarray(img[y : y + ch, x : x + cw]).resize(size, Image.Resampling.BILINEAR)))
    return frames


def encode(frames: list[np.ndarray], codec: str = "libx264", fmt: str = "mp4", fps: int = FPS,
           options: dict[str, str] | None = None, size: tuple[int, int] | None = None) -> bytes:
    """Encode RGB frames (resized by swscale to ``size`` if given) at a constant frame rate."""
    h, w = frames[0].shape[:2]
    w, h = size or (w, h)
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = options or {}
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(width=w, height=h)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def decode(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def video_table(items: list[tuple[str, bytes, str]]) -> pa.Table:
    """Sample rows ``(sample_id, bytes, kind)`` with one media item of that kind each."""
    rows = sample_rows([(sid, data, None) for sid, data, _ in items])
    for row, (_, _, kind) in zip(rows, items, strict=True):
        row[S.MEDIA][0]["kind"] = kind
    return to_table(rows, S.SAMPLE_SCHEMA)


def planted_video_signatures(n: int, seed: int) -> pa.Table:
    """``sample_id, video_phash`` of ``n`` random 1-8 frame signatures plus a copy of every third one
    (at most 8 bits flipped per frame, a third of them one frame shorter)."""
    rng = np.random.default_rng(seed)
    sigs = [[int(h) for h in rng.integers(0, 2**63, size=k, dtype=np.uint64)] for k in rng.integers(1, 9, size=n)]
    for base in sigs[0:n:3]:
        copy = [h ^ sum(1 << int(b) for b in rng.choice(64, size=rng.integers(0, 9), replace=False)) for h in base]
        sigs.append(copy[:-1] if len(copy) > 1 and rng.random() < 0.3 else copy)
    ids = [f"v{i:04d}" for i in range(len(sigs))]
    return pa.table({S.SAMPLE_ID: ids, "video_phash": pa.array(sigs, pa.list_(pa.uint64()))})
