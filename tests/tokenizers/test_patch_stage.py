"""PatchTokenCount through the runner: per-media counts, grids, multi-image rows and rejects."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.schemas import sample as S
from mmcurate.tokenizers.patch import PatchScheme, image_token_plan, video_token_plan
from mmcurate.tokenizers.patch_stage import TOKEN_GRID, TOKENS_IMAGE, TOKENS_MEDIA, TOKENS_VIDEO, PatchTokenCount


def _item(kind: str, w: int | None, h: int | None, n_frames: int | None = None) -> dict:
    return {"kind": kind, "width": w, "height": h, "n_frames": n_frames}


ROWS = [
    {S.MEDIA: [_item("image", 640, 480)]},
    {S.MEDIA: [_item("image", 1000, 10), _item("image", 224, 224), _item("video", 640, 360, 300)]},
    {S.MEDIA: [_item("image", None, None)]},  # not decoded
    {S.MEDIA: []},
    {S.MEDIA: [_item("image", 2100, 10)]},  # aspect 210 > 200
]


def test_qwen_rows_through_runner() -> None:
    stage = PatchTokenCount(scheme=PatchScheme.QWEN2_VL, video_fps=30.0)
    out = apply_to_rows(stage, ROWS)
    q2 = PatchScheme.QWEN2_VL
    a, b, c = image_token_plan(480, 640, q2), image_token_plan(10, 1000, q2), image_token_plan(224, 224, q2)
    v = video_token_plan(300, 30.0, 360, 640, q2)
    assert out[0][TOKENS_IMAGE] == a.tokens == 393 and out[0][TOKENS_VIDEO] == 0
    assert out[0][TOKEN_GRID] == [{"t": 1, "h": 17, "w": 23}]
    assert out[1][TOKENS_IMAGE] == b.tokens + c.tokens and out[1][TOKENS_VIDEO] == v.tokens
    assert out[1][TOKENS_MEDIA] == [b.tokens, c.tokens, v.tokens]
    assert [g["t"] for g in out[1][TOKEN_GRID]] == [1, 1, v.grid[0]]
    assert out[2][S.STATUS] == S.STATUS_REJECTED and out[2][S.DROP_REASON] == "patch_tokens_v1:not_decoded"
    assert out[3][S.STATUS] == S.STATUS_OK and out[3][TOKENS_IMAGE] == 0 and out[3][TOKEN_GRID] == []
    assert out[4][S.DROP_REASON] == "patch_tokens_v1:untokenizable" and "aspect" in out[4][S.ERROR]


def test_run_stage_table_types_and_defaults() -> None:
    stage = PatchTokenCount(scheme="llava_onevision", batch_size=2)  # enum value from a YAML config
    schema = S.sample_schema(list(stage.writes))
    rows = [{**r, S.SAMPLE_ID: f"s{i}", S.SOURCE: "t", S.LOCATOR: str(i), S.UNIT_ID: "u", S.UNIT_INDEX: i,
             S.UNIT_ROWS: 2, S.STATUS: S.STATUS_OK} for i, r in enumerate(ROWS[:2])]
    table = pa.Table.from_pylist(rows, schema=schema)
    out = run_stage(pickle.loads(pickle.dumps(stage)), table)
    assert out.schema.field(TOKENS_IMAGE).type == pa.int64()
    assert out.schema.field(TOKEN_GRID).type.value_type.field("h").type == pa.int32()
    got = out.to_pylist()
    assert got[0][TOKENS_IMAGE] == 2929  # single image: AnyRes (refs Table E)
    assert got[1][TOKENS_IMAGE] == 2 * 730  # two images: multi-image rule, 729 + newline each
    assert got[1][TOKENS_VIDEO] is None and got[1][TOKENS_MEDIA][2] is None  # no video_fps configured


def test_config_validation() -> None:
    with pytest.raises(TypeError):
        PatchTokenCount(scheme=PatchScheme.QWEN3_VL, image_overrides={"max_pixel": 1})
    with pytest.raises(ValueError):
        PatchTokenCount(scheme="qwen9")
    stage = PatchTokenCount(scheme=PatchScheme.QWEN3_VL, image_overrides={"impl": "qwen_vl_utils"})
    assert apply_to_rows(stage, [ROWS[0]])[0][TOKENS_IMAGE] == 300 + 2  # refs Table B
