"""Merging image duplicates' captions into the kept row: content, order, chains, methods, real hashes."""

from __future__ import annotations

import io

import pyarrow as pa
from dedup_helpers import GROUP_PHOTOS, sample_table
from PIL import Image

from mmcurate.pipeline.dedup.exact import PIXEL_SHA256, ExactHash
from mmcurate.pipeline.dedup.global_dedup import exact_duplicates, signature_table
from mmcurate.pipeline.dedup.merge_captions import CAPTIONS, MergeCaptions, caption_groups, merge_captions, ray_caption_groups
from mmcurate.pipeline.dedup.policy import DEDUP_RESULT_SCHEMA
from mmcurate.pipeline.runner import run_stage

CAPTIONS_BY_ID = {
    "k": "a cat", "x1": "A cat on a mat", "x2": "a cat", "x3": None, "x9": "tabby",
    "p1": "kitty", "m1": "a cat.", "s": "a dog", "t": None, "u": "",
}
REMOVALS = [  # x9 is an exact copy of k; p1 a perceptual copy of x9 (a chain); m1 a caption near-copy
    ("m1", "k", "minhash_v1"), ("p1", "x9", "phash_v1"), ("x1", "k", "exact_pixels"),
    ("x2", "k", "exact_pixels"), ("x3", "k", "exact_pixels"), ("x9", "k", "exact_pixels"),
]


def _samples(order: list[str]) -> pa.Table:
    return sample_table([(sid, None, CAPTIONS_BY_ID[sid]) for sid in order])


def _removals() -> pa.Table:
    return pa.table(list(map(list, zip(*REMOVALS, strict=True))), schema=DEDUP_RESULT_SCHEMA)


def test_kept_row_gets_own_caption_then_distinct_duplicate_captions_in_sample_id_order() -> None:
    ids = list(CAPTIONS_BY_ID)
    merged = merge_captions(_samples(ids), _removals())  # default: image methods only
    got = dict(zip(merged.column("sample_id").to_pylist(), merged.column(CAPTIONS).to_pylist(), strict=True))
    # Own first; "a cat" (x2) is not repeated, x3 has none; p1 reaches k through x9; m1 is a caption match.
    assert got["k"] == ["a cat", "kitty", "A cat on a mat", "tabby"]  # p1 < x1 < x9
    assert got["s"] == ["a dog"] and got["t"] == [] and got["u"] == []  # singletons, null and empty captions
    assert got["x1"] == ["A cat on a mat"]  # removed rows keep only their own (they go to the rejects)
    assert merged.schema.field(CAPTIONS).type == pa.list_(pa.string())
    assert merged.num_rows == len(ids) and merged.column_names[:-1] == _samples(ids).column_names


def test_order_does_not_depend_on_row_or_removal_order() -> None:
    ids = list(CAPTIONS_BY_ID)
    first = merge_captions(_samples(ids), _removals(), methods=None)
    shuffled = merge_captions(_samples(ids[::-1]), _removals().take([5, 3, 1, 0, 4, 2]), methods=None)
    key = lambda t: dict(zip(t.column("sample_id").to_pylist(), t.column(CAPTIONS).to_pylist(), strict=True))  # noqa: E731
    assert key(first) == key(shuffled)
    assert key(first)["k"] == ["a cat", "a cat.", "kitty", "A cat on a mat", "tabby"]  # every method


def test_groups_hold_only_rows_that_absorbed_duplicates() -> None:
    groups = caption_groups(_samples(list(CAPTIONS_BY_ID)), _removals(), methods=("phash_v1",))
    assert groups.to_pylist() == [{"sample_id": "x9", CAPTIONS: ["tabby", "kitty"]}]
    assert caption_groups(_samples(["s"]), DEDUP_RESULT_SCHEMA.empty_table()).num_rows == 0


def test_stage_applies_groups_computed_elsewhere_to_one_unit() -> None:
    # The global pass sees every row; a unit of the main pass holds only some (here: k and s).
    groups = caption_groups(_samples(list(CAPTIONS_BY_ID)), _removals())
    unit = run_stage(MergeCaptions(groups=groups), _samples(["s", "k"]))
    assert unit.column(CAPTIONS).to_pylist() == [["a dog"], ["a cat", "kitty", "A cat on a mat", "tabby"]]


def test_identical_images_with_different_captions_become_one_sample(skimage_data_dir) -> None:
    items = []
    for name in GROUP_PHOTOS[:2]:
        buf = io.BytesIO()
        Image.open(skimage_data_dir / name).convert("RGB").save(buf, "PNG")
        items += [(f"{name}/{i}", buf.getvalue(), f"{name} caption {i % 2}") for i in range(3)]
    hashed = run_stage(ExactHash(), sample_table(items))
    removals = exact_duplicates(signature_table(hashed, [PIXEL_SHA256]))
    merged = merge_captions(hashed, removals).filter(pa.compute.invert(
        pa.compute.is_in(hashed.column("sample_id"), value_set=removals.column("sample_id"))))
    assert merged.column(CAPTIONS).to_pylist() == [[f"{n} caption 0", f"{n} caption 1"] for n in GROUP_PHOTOS[:2]]


def test_ray_groups_match_the_library_across_blocks(ray_session) -> None:
    import ray

    samples = _samples(list(CAPTIONS_BY_ID))
    ds = ray.data.from_arrow([samples.slice(0, 5), samples.slice(5)])  # k's duplicates span both blocks
    assert ray_caption_groups(ds, _removals()).equals(caption_groups(samples, _removals()))
