"""Per-sample token counts: patch tokens for media, pluggable text counts, modality, caps."""

from __future__ import annotations

import pickle

import pyarrow as pa

from mmcurate.pipeline.runner import apply_to_rows, run_stage
from mmcurate.pipeline.synthesis.synthesize import SynthesizeInstructions
from mmcurate.schemas import sample as S
from mmcurate.tokenizers.patch import image_token_count
from mmcurate.tokenizers.scheme import PatchScheme
from mmcurate.tokenizers.text_count import HeuristicCounter
from mmcurate.tokenizers.token_count import CountTokens


def test_heuristic_counter() -> None:
    assert HeuristicCounter().count(["", "one two three", "x" * 40]) == [0, 4, 10]


def test_counts_modality_and_caps() -> None:
    rows = [{"caption": "A red stop sign", "media": [{"kind": "image", "width": 640, "height": 480}]},
            {"caption": "A dog", "media": [{"kind": "video", "width": 640, "height": 360, "n_frames": 900}]},
            {"caption": "Just text here"}]
    stage = pickle.loads(pickle.dumps(CountTokens(video_fps=30.0, caps={"video": 1000})))
    out = apply_to_rows(stage, rows)
    assert out[0]["tokens_image"] == image_token_count(480, 640, PatchScheme.QWEN2_VL)
    assert [r["modality"] for r in out[:1] + out[2:]] == ["image_text", "text"]
    assert out[0]["tokens_total"] == out[0]["tokens_image"] + out[0]["tokens_text"]
    assert out[1]["status"] == "rejected" and out[1]["drop_reason"] == "mixture_tokens_v1:over_cap"


def test_instruction_rows_count_gpt_turns() -> None:
    synth = SynthesizeInstructions()
    schema = S.sample_schema([*synth.writes, *CountTokens.writes])
    rows = [{"sample_id": "a", "caption": "A red stop sign at a corner", "media": [{"kind": "image", "width": 64, "height": 64}]}]
    table = run_stage(synth, pa.Table.from_pylist(
        [{**r, "source": "x", "locator": "0", "unit_id": "u", "unit_index": 0, "unit_rows": 1, "status": "ok"} for r in rows],
        schema=schema))
    (out,) = run_stage(CountTokens(), table).to_pylist()
    assert out["modality"] == "instruction"
    assert 0 < out["tokens_supervised"] < out["tokens_text"]
