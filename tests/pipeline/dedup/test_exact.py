"""Exact hashes: same bytes, and the same pixels in a different container."""

from __future__ import annotations

import io

from dedup_helpers import GROUP_PHOTOS, precision_recall, predicted_pairs, sample_table, true_pairs
from PIL import Image, PngImagePlugin

from mmcurate.pipeline.dedup.exact import BYTES_SHA256, PIXEL_SHA256, ExactHash
from mmcurate.pipeline.dedup.global_dedup import exact_duplicates, signature_table
from mmcurate.pipeline.runner import run_stage


def _png(image: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG", **kwargs)
    return buf.getvalue()


def test_pixel_hash_catches_lossless_reencodes_and_bytes_hash_does_not(skimage_data_dir) -> None:
    items, groups = [], {}
    for name in GROUP_PHOTOS:
        image = Image.open(skimage_data_dir / name).convert("RGB")
        meta = PngImagePlugin.PngInfo()
        meta.add_text("Comment", "re-saved by another tool")
        fast, small = _png(image, compress_level=1), _png(image, compress_level=9, pnginfo=meta)
        for suffix, data in (("a", fast), ("b", small), ("c", fast), ("q", None)):
            if data is None:  # a lossy copy is NOT an exact duplicate
                buf = io.BytesIO()
                image.save(buf, "JPEG", quality=95)
                data = buf.getvalue()
                groups[f"{name}/{suffix}"] = f"{name}/jpeg"
            else:
                groups[f"{name}/{suffix}"] = name
            items.append((f"{name}/{suffix}", data, None))
    hashed = run_stage(ExactHash(), sample_table(items))
    assert hashed.column(PIXEL_SHA256).null_count == 0
    ids = [sid for sid, _, _ in items]

    pixel = exact_duplicates(signature_table(hashed, [PIXEL_SHA256]), PIXEL_SHA256)
    precision, recall = precision_recall(predicted_pairs(pixel, ids), true_pairs(groups))
    assert precision == 1.0 and recall == 1.0
    assert set(pixel.column("dedup_method").to_pylist()) == {"exact_pixel_sha256_v1"}

    by_bytes = exact_duplicates(signature_table(hashed, [BYTES_SHA256]), BYTES_SHA256)
    # Only the identical files (a, c) share bytes.
    assert sorted(by_bytes.column("sample_id").to_pylist()) == sorted(f"{n}/c" for n in GROUP_PHOTOS)
    assert all(d.endswith("/a") for d in by_bytes.column("duplicate_of").to_pylist())


def test_rows_without_media_or_with_garbage_stay_comparable_but_unmatched() -> None:
    table = run_stage(ExactHash(), sample_table([("a", b"not an image", None), ("b", None, "caption only")]))
    rows = table.to_pylist()
    assert rows[0][PIXEL_SHA256] == rows[0][BYTES_SHA256]  # undecodable: bytes hash stands in
    assert rows[1][PIXEL_SHA256] is None and rows[1]["status"] == "ok"
    assert exact_duplicates(signature_table(table, [PIXEL_SHA256])).num_rows == 0
