"""``VQTokenize``: several images per sample, non-image items, bad bytes, video clip frames; library,
``run_stage`` and Ray."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table
from mmcurate.schemas.video import CLIPS_FIELD
from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID, VQTokenize, decode_codes, frame_subset


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _item(data: bytes, kind: str = "image") -> dict:
    return {"bytes": data, "kind": kind, "mime": "image/png"}


@pytest.fixture(scope="module")
def photos(skimage_data_dir: Path) -> list[bytes]:
    names = ("astronaut.png", "coffee.png", "camera.png")
    return [(skimage_data_dir / n).read_bytes() for n in names]


def _rows(photos: list[bytes]) -> list[dict]:
    rgba = Image.new("RGBA", (80, 50), (255, 0, 0, 128))
    return [
        {S.CAPTION: "two photos", S.MEDIA: [_item(photos[0]), _item(photos[1])]},
        {S.CAPTION: "a video and an image", S.MEDIA: [_item(b"\x00video", "video"), _item(_png(rgba))]},
        {S.CAPTION: "broken", S.MEDIA: [_item(b"not an image")]},
        {S.CAPTION: "text only", S.MEDIA: []},
        {S.CAPTION: "grey", S.MEDIA: [_item(photos[2])]},
    ]


def _check(out: list[dict], grid: int) -> None:
    assert [len(r[VQ_CODES] or []) for r in out] == [2, 2, 0, 0, 1] or out[2][S.STATUS] == S.STATUS_REJECTED
    first = out[0]
    assert first[S.STATUS] == S.STATUS_OK and first[VQ_GRID] == [{"h": grid, "w": grid}] * 2
    assert all(len(c) == grid * grid for c in first[VQ_CODES])
    assert out[1][VQ_CODES][0] is None and out[1][VQ_GRID][0] is None and len(out[1][VQ_CODES][1]) == grid * grid
    assert out[2][S.STATUS] == S.STATUS_REJECTED and out[2][S.DROP_REASON] == "vq_tokenize_v1:undecodable"
    assert out[3][S.STATUS] == S.STATUS_OK and out[3][VQ_CODES] == []
    assert out[4][S.STATUS] == S.STATUS_OK
    assert all(r[VQ_CLIP_CODES] is None for r in out)  # no clips column: the clip column is all null


def test_library_and_decode_back(photos: list[bytes]) -> None:
    stage = VQTokenize(resolution=64)
    out = apply_to_rows(stage, _rows(photos))
    _check(out, 64 // 8)
    same = apply_to_rows(VQTokenize(resolution=64), _rows(photos)[:1])
    assert same[0][VQ_CODES] == out[0][VQ_CODES]  # deterministic
    pixels = decode_codes(out[0][VQ_CODES][0], 8, 8, model=stage._model)
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8 and pixels.std() > 5


def test_stage_pickles_without_model_and_declares_resources() -> None:
    import pickle

    stage = VQTokenize(num_gpus=0.5, num_cpus=2)
    stage.ensure_setup()
    clone = pickle.loads(pickle.dumps(stage))
    assert not clone._ready and "_model" not in clone.__dict__
    assert (clone.resources.num_gpus, clone.resources.num_cpus) == (0.5, 2)
    with pytest.raises(FileNotFoundError):
        VQTokenize(checkpoint="/nonexistent/vq")


def test_on_ray_actor_pool(ray_session: str, photos: list[bytes]) -> None:
    import ray
    import torch

    from mmcurate.pipeline.ray_adapter import apply_stage

    num_gpus = 1.0 if torch.cuda.is_available() and ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    rows = [{**r, S.SAMPLE_ID: f"s{i}", S.SOURCE: "t", S.LOCATOR: str(i), S.UNIT_ID: "u", S.UNIT_INDEX: i,
             S.UNIT_ROWS: 5, S.STATUS: S.STATUS_OK} for i, r in enumerate(_rows(photos))]
    stage = VQTokenize(resolution=64, num_gpus=num_gpus, batch_size=8)
    table = to_table(rows, S.sample_schema(stage.writes))
    local = run_stage(stage, table).to_pylist()
    ds = apply_stage(ray.data.from_arrow(table), stage, max_actors=1)
    remote = pa.concat_tables(ray.get(ds.to_arrow_refs())).to_pylist()
    remote.sort(key=lambda r: r[S.UNIT_INDEX])
    _check(remote, 8)
    assert [r[VQ_CODES] for r in remote] == [r[VQ_CODES] for r in local]


def _jpeg_frame(seed: int) -> bytes:
    """A 48x32 frame with structure (a gradient plus a seeded block), so frames get different codes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:48]
    rgb = np.stack([x * 5, y * 7, np.full_like(x, 60)], axis=-1).astype(np.uint8)
    r, c = rng.integers(0, 20, 2)
    rgb[r:r + 12, c:c + 20] = rng.integers(0, 256, 3, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _clip(index: int, frames: list[bytes], t0: float) -> dict:
    return {"clip_index": index, "start_s": t0, "end_s": t0 + 0.5 * len(frames),
            "frame_ts": [t0 + 0.5 * k for k in range(len(frames))], "frames": frames, "width": 48, "height": 32}


def test_frame_subset_spreads_evenly_and_keeps_short_clips() -> None:
    assert frame_subset(12, 4) == [0, 4, 7, 11] and frame_subset(3, 4) == [0, 1, 2]
    assert frame_subset(5, 1) == [0] and frame_subset(5, None) == [0, 1, 2, 3, 4] and frame_subset(0, 2) == []
    with pytest.raises(ValueError, match="max_frames_per_clip"):
        VQTokenize(max_frames_per_clip=0)


def test_clip_frames_are_tokenized_like_images() -> None:
    frames = [_jpeg_frame(k) for k in range(12)]
    video = {"bytes": b"\x00video", "kind": "video", "mime": "video/mp4"}
    rows = [  # the video is media[1]; media[0] is frame 4 again as an image, to compare the codes
        {S.CAPTION: "a video", S.MEDIA: [_item(frames[4]), video],
         CLIPS_FIELD.name: [_clip(0, frames[:3], 0.0), _clip(1, frames, 1.5)]},
        {S.CAPTION: "an image", S.MEDIA: [_item(frames[0])], CLIPS_FIELD.name: None},
        {S.CAPTION: "a broken frame", S.MEDIA: [video], CLIPS_FIELD.name: [_clip(0, [frames[0], b"junk"], 0.0)]},
    ]
    schema = S.sample_schema([CLIPS_FIELD, *VQTokenize.writes])
    stage = VQTokenize(resolution=64, max_frames_per_clip=4)
    out = apply_to_rows(stage, rows, schema)
    clips = out[0][VQ_CLIP_CODES]
    assert [(c["media_index"], c["clip_index"], c["frame_index"]) for c in clips] == [(1, 0, [0, 1, 2]),
                                                                                    (1, 1, [0, 4, 7, 11])]
    assert clips[1]["frame_ts"] == [1.5, 3.5, 5.0, 7.0] and clips[0]["frame_ts"] == [0.0, 0.5, 1.0]
    assert all(c["grid"] == {"h": 8, "w": 8} and all(len(f) == 64 for f in c["codes"]) for c in clips)
    assert clips[1]["codes"][1] == out[0][VQ_CODES][0]  # frame 4 == the same JPEG as an image item
    assert clips[0]["codes"][0] != clips[0]["codes"][1]
    assert out[0][VQ_CODES][1] is None and out[1][VQ_CLIP_CODES] is None and out[1][S.STATUS] == S.STATUS_OK
    assert out[2][S.STATUS] == S.STATUS_REJECTED and out[2][S.DROP_REASON] == "vq_tokenize_v1:undecodable"
    assert out[2][S.ERROR].startswith("clips[0].frames[1]: ")
    again = apply_to_rows(VQTokenize(resolution=64, max_frames_per_clip=4), rows[:1], schema)
    assert again[0][VQ_CLIP_CODES] == clips  # deterministic
    pixels = decode_codes(clips[1]["codes"][0], 8, 8, model=stage._model)
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
