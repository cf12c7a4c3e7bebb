"""The decode matrix: every bad image gets its reason, every odd one is normalised correctly, and the
other samples in the same batch come out exactly as they would alone."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from helpers import sample_table
from PIL import Image

from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas import sample as S

GOOD = mc.encode(Image.new("RGB", (64, 48), (10, 120, 200)), "JPEG", quality=95)


def _decode_one(data: bytes, **config: object) -> dict:
    """Decode ``data`` between two good samples and check those are untouched."""
    control = run_stage(ImageDecode(**config), sample_table([(GOOD, "good")])).to_pylist()[0]
    out = run_stage(ImageDecode(**config), sample_table([(GOOD, "a"), (data, "case"), (GOOD, "b")])).to_pylist()
    for neighbour in (out[0], out[2]):
        assert neighbour[S.STATUS] == "ok" and neighbour[S.MEDIA] == control[S.MEDIA]
    return out[1]


def _pixels(row: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(row[S.MEDIA][0]["bytes"])).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (mc.truncated_jpeg(Image.new("RGB", (256, 256), (200, 30, 30))), "image_truncated"),
        (GOOD[:10], "image_truncated"),
        (b"", "empty_body"),
        (b"<!DOCTYPE html><html><body>Not Found</body></html>", "not_an_image"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj", "format_not_allowed"),
        (b"8BPS\x00\x01" + bytes(40), "format_not_allowed"),
        (mc.png_header_only(30000, 30000), "decompression_bomb"),
        (mc.png_header_only(10000, 10000), "decompression_bomb"),
        (mc.png_header_only(9000, 9000), "too_many_pixels"),
        (mc.text_bomb_png(), "metadata_bomb"),
        (mc.encode(Image.new("RGB", (1, 1)), "PNG"), "too_small"),
        (mc.encode(Image.new("L", (100000, 10)), "PNG"), "aspect_ratio"),
        (bytes(range(256)) * 4, "not_an_image"),
    ],
    ids=["truncated", "header_only", "empty", "html", "pdf", "psd", "bomb_30k", "bomb_10k", "81mp", "text_bomb",
         "1x1", "100000x10", "random"],
)
def test_bad_images_are_rejected_with_their_reason(data: bytes, reason: str) -> None:
    row = _decode_one(data)
    assert row[S.STATUS] == "rejected"
    assert row[S.DROP_REASON] == f"image_decode_v1:{reason}", row[S.ERROR]


def test_unsupported_tiff_layout_is_not_called_corrupt(skimage_data_dir: Path) -> None:
    row = _decode_one((skimage_data_dir / "multipage_rgb.tif").read_bytes())
    assert row[S.DROP_REASON] == "image_decode_v1:unsupported_format"


def test_format_allow_list_is_enforced() -> None:
    row = _decode_one(mc.encode(Image.new("RGB", (32, 32)), "BMP"), formats=("JPEG", "PNG"))
    assert row[S.DROP_REASON] == "image_decode_v1:format_not_allowed"


def test_cmyk_becomes_rgb_with_the_same_colours() -> None:
    base = Image.new("RGB", (64, 48), (200, 60, 30))
    row = _decode_one(mc.cmyk_jpeg(base))
    item = row[S.MEDIA][0]
    assert row[S.STATUS] == "ok" and item["source_mode"] == "CMYK" and "to_rgb" in item["ops"]
    assert np.abs(_pixels(row) - np.asarray(base, dtype=np.int16)).mean() < 12


def test_sixteen_bit_is_scaled_not_clipped() -> None:
    row = _decode_one(mc.sixteen_bit_png(256, 16))
    px = _pixels(row)[..., 0]
    assert row[S.MEDIA][0]["source_mode"].startswith("I")
    assert px[:, 0].max() <= 1 and px[:, -1].min() >= 254  # full range kept
    assert abs(int(px[0, 128]) - 128) <= 2  # mid-grey stays mid-grey (clipping would give 255)


def test_palette_alpha_composites_on_white_never_black() -> None:
    row = _decode_one(mc.palette_alpha_png(64, 48))
    px = _pixels(row)
    assert tuple(px[0, 0]) == (255, 255, 255)  # transparent corner
    assert tuple(px[24, 32]) == (255, 0, 0)  # opaque red square
    assert "alpha_composite" in row[S.MEDIA][0]["ops"]


def test_la_and_rgba_are_composited(skimage_data_dir: Path) -> None:
    assert _decode_one(mc.la_png())[S.MEDIA][0]["ops"] == ["alpha_composite"]
    logo = _decode_one((skimage_data_dir / "logo.png").read_bytes())
    assert logo[S.STATUS] == "ok" and logo[S.MEDIA][0]["source_mode"] == "RGBA"
    assert Image.open(io.BytesIO(logo[S.MEDIA][0]["bytes"])).mode == "RGB"


def test_animated_gif_keeps_first_frame_and_says_so(skimage_data_dir: Path) -> None:
    row = _decode_one((skimage_data_dir / "no_time_for_that_tiny.gif").read_bytes(), min_side=8)  # 14x25 px
    item = row[S.MEDIA][0]
    assert row[S.STATUS] == "ok" and item["n_frames"] == 24 and "first_frame" in item["ops"]
    assert not getattr(Image.open(io.BytesIO(item["bytes"])), "is_animated", False)


def test_exif_rotation_is_applied() -> None:
    row = _decode_one(mc.exif_rotated_jpeg(Image.new("RGB", (40, 20), (0, 200, 0)), orientation=6))
    item = row[S.MEDIA][0]
    assert (item["width"], item["height"]) == (20, 40) and "exif_transpose" in item["ops"]
    assert Image.open(io.BytesIO(item["bytes"])).size == (20, 40)


def test_real_photos_are_kept_bit_exact(skimage_data_dir: Path) -> None:
    for name, mode in (("camera.png", "L"), ("astronaut.png", "RGB"), ("rocket.jpg", "RGB")):
        data = (skimage_data_dir / name).read_bytes()
        row = _decode_one(data)
        item = row[S.MEDIA][0]
        assert row[S.STATUS] == "ok" and item["source_mode"] == mode and item["ops"] == []
        assert item["bytes"] == data and item["width"] > 100


def test_sample_with_several_images_is_checked_per_item() -> None:
    from mmcurate.pipeline.readers.base import WorkUnit, sample_row
    from mmcurate.schemas.sample import SAMPLE_SCHEMA
    from mmcurate.schemas.table import to_table

    unit = WorkUnit(unit_id="u", input_index=0, spec="{}")
    good2 = sample_row(unit, 0, 2, source="t", locator="a", media=[GOOD, GOOD], caption="two images")
    bad2 = sample_row(unit, 1, 2, source="t", locator="b", media=[GOOD, b""], caption="second is empty")
    out = run_stage(ImageDecode(), to_table([good2, bad2], SAMPLE_SCHEMA)).to_pylist()
    assert out[0][S.STATUS] == "ok" and [m["width"] for m in out[0][S.MEDIA]] == [64, 64]
    assert out[1][S.DROP_REASON] == "image_decode_v1:empty_body" and out[1][S.ERROR].startswith("media[1]")
