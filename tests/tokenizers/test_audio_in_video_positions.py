"""Qwen2.5-Omni audio-in-video TMRoPE positions == transformers' ``get_rope_index`` on 60 layouts.

``get_rope_index`` runs unbound on a namespace carrying a real ``Qwen2_5OmniThinkerConfig`` (built
offline from its defaults, plus the hub's vision start/end ids) and the mixin's own helpers, so no
weights are built. The token sequence is what the processor writes for one video with its soundtrack.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from transformers.models.qwen2_5_omni.configuration_qwen2_5_omni import Qwen2_5OmniThinkerConfig
from transformers.models.qwen2_5_omni.modeling_qwen2_5_omni import (
    Qwen2_5OmniPreTrainedModelForConditionalGeneration as Mixin,
)

from mmcurate.tokenizers.audio import _conv_tokens, omni_av_interleave, omni_av_positions

VISION_START, VISION_END, TEXT = 151652, 151653, 9707  # hub config ids; TEXT: any ordinary token


def _model() -> types.SimpleNamespace:
    cfg = Qwen2_5OmniThinkerConfig(vision_start_token_id=VISION_START, vision_end_token_id=VISION_END)
    ns = types.SimpleNamespace(config=cfg, spatial_merge_size=2)
    ns.get_llm_pos_ids_for_vision = lambda *a: Mixin.get_llm_pos_ids_for_vision(ns, *a)
    ns.get_chunked_index = lambda *a: Mixin.get_chunked_index(ns, *a)
    return ns


def _layouts(k: int = 60) -> list[tuple[tuple[int, int, int], float, int, int, int]]:
    rng = np.random.default_rng(11)
    out = []
    for _ in range(k):
        t = int(rng.integers(1, 16))
        spg = float(rng.choice([0.5, 1.0, 2.0, 4.0 / 3.0]))
        seconds = t * spg * float(rng.uniform(0.6, 1.4))  # the soundtrack a little shorter or longer
        frames = max(10, int(seconds * 100))
        out.append(((t, 2 * int(rng.integers(1, 4)), 2 * int(rng.integers(1, 4))), spg, frames,
                    int(rng.integers(0, 6)), int(rng.integers(0, 6))))
    return out


@pytest.mark.parametrize("grid,spg,frames,before,after", _layouts())
def test_positions_equal_get_rope_index(grid: tuple[int, int, int], spg: float, frames: int, before: int,
                                        after: int) -> None:
    cfg = _model().config
    body = [VISION_START, cfg.audio_start_token_id]
    for kind, n in omni_av_interleave(grid, spg, _conv_tokens(frames)):
        body += [cfg.video_token_id if kind == "video" else cfg.audio_token_id] * n
    ids = [TEXT] * before + body + [cfg.audio_end_token_id, VISION_END] + [TEXT] * after
    theirs, _ = Mixin.get_rope_index(
        _model(), input_ids=torch.tensor([ids]), video_grid_thw=torch.tensor([list(grid)]),
        attention_mask=torch.ones(1, len(ids), dtype=torch.long), use_audio_in_video=True,
        audio_seqlens=torch.tensor([frames]), second_per_grids=torch.tensor([spg]))
    ours = omni_av_positions(grid, spg, frames, text_before=before, text_after=after)
    assert ours.shape == (3, len(ids))
    np.testing.assert_array_equal(ours, theirs[:, 0, :].numpy())
