"""Video token counts: the refs' computed tables and parity with the HF Qwen-VL video processors."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from mmcurate.tokenizers.patch import PatchScheme, video_token_count, video_token_plan
from mmcurate.tokenizers.qwen_vl_video import qwen_timestamp_token_count

Q2, Q3 = PatchScheme.QWEN2_VL, PatchScheme.QWEN3_VL

# (total_frames, fps, H, W) of the refs' Table C/D/D2 videos
VIDEOS = [(60, 30, 480, 640), (300, 30, 720, 1280), (1800, 30, 720, 1280), (7500, 25, 1080, 1920),
          (18000, 30, 360, 640), (108000, 30, 720, 1280), (24, 24, 224, 224)]
# per video: (frames, H', W', total placeholder tokens)
TABLE_C = [(4, 476, 644, 782), (20, 560, 1008, 7200), (120, 560, 1008, 43200), (600, 392, 728, 109200),
           (768, 364, 644, 114816), (768, 336, 644, 105984), (4, 336, 336, 288)]  # Qwen2.5-VL, qwen-vl-utils 0.0.14
TABLE_D = [(4, 480, 640, 600), (20, 704, 1280, 8800), (120, 320, 608, 11400), (600, 128, 256, 9600),
           (768, 128, 224, 10752), (768, 128, 224, 10752), (4, 224, 224, 98)]  # Qwen3-VL, transformers 5.23
TABLE_D2 = [(4, 480, 640, 600), (20, 640, 1152, 7200), (120, 640, 1152, 43200), (600, 448, 832, 109200),
            (768, 352, 640, 84480), (768, 384, 736, 105984), (4, 384, 384, 288)]  # Qwen3-VL, qwen-vl-utils
FIRST_TIMESTAMPS = ["<0.3 seconds> <1.6 seconds>", "<0.3 seconds> <1.3 seconds> <2.4 seconds>",
                    "<0.2 seconds> <1.2 seconds> <2.3 seconds>", "<0.3 seconds> <1.3 seconds> <2.3 seconds>",
                    "<0.4 seconds> <2.0 seconds> <3.5 seconds>", "<2.4 seconds> <11.7 seconds> <21.1 seconds>",
                    "<0.2 seconds> <0.8 seconds>"]


@pytest.mark.parametrize(
    "scheme,impl,table",
    [(Q2, "qwen_vl_utils", TABLE_C), (Q3, "transformers", TABLE_D), (Q3, "qwen_vl_utils", TABLE_D2)],
    ids=["table_c", "table_d", "table_d2"],
)
def test_reference_tables(scheme: PatchScheme, impl: str, table: list) -> None:
    for video, expected, stamps in zip(VIDEOS, table, FIRST_TIMESTAMPS, strict=True):
        plan = video_token_plan(*video, scheme, impl=impl)
        assert (plan.frames, *plan.resized, plan.media_tokens) == expected, video
        if scheme is Q3:
            rendered = " ".join(f"<{t:.1f} seconds>" for t in plan.timestamps[: stamps.count("<")])
            assert rendered == stamps
            assert plan.special_tokens == 2 * plan.grid[0]  # transformers >= 5.25: no outer pair
            kept = video_token_plan(*video, scheme, impl=impl, keep_outer_wrapper=True)  # 5.0-5.24
            assert kept.special_tokens == plan.special_tokens + 2 and kept.tokens == plan.tokens + 2
            assert plan.text_tokens == sum(qwen_timestamp_token_count(f"<{t:.1f} seconds>") for t in plan.timestamps)
        else:
            assert plan.special_tokens == 2 and plan.text_tokens == 0
        assert video_token_count(*video, scheme, impl=impl) == plan.tokens


def test_timestamp_token_rule() -> None:
    assert qwen_timestamp_token_count("<0.3 seconds>") == 6
    assert qwen_timestamp_token_count("<1234.5 seconds>") == 9
    with pytest.raises(ValueError):
        qwen_timestamp_token_count("0.3s")
    plan = video_token_plan(300, 30, 64, 64, Q3, timestamp_token_counter=len, keep_outer_wrapper=False)
    assert plan.text_tokens == sum(len(f"<{t:.1f} seconds>") for t in plan.timestamps)
    assert plan.special_tokens == 2 * plan.grid[0]


def test_timestamp_rule_matches_qwen2_pretokenizer() -> None:
    """Byte-level BPE with Qwen2's pre-tokenizer regex and ' seconds' as one entry gives our counts.

    The real vocabulary cannot be downloaded; this checks the splitting rules the count relies on.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers

    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    word, merges = "Ġ", []
    for ch in "seconds":
        merges.append((word, ch))
        word += ch
        vocab[word] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    for t in [0.0, 0.26, 1.6, 9.95, 12.5, 99.9, 123.4, 3599.9]:
        text = f"<{t:.1f} seconds>"
        assert len(tok.encode(text).ids) == qwen_timestamp_token_count(text), text


def test_too_short_and_no_video_scheme() -> None:
    for scheme in (Q2, Q3):
        for impl in ("transformers", "qwen_vl_utils"):
            with pytest.raises(ValueError):
                video_token_plan(1, 30, 64, 64, scheme, impl=impl)
    with pytest.raises(ValueError):
        video_token_plan(100, 30, 64, 64, PatchScheme.CLIP_336)
    assert video_token_plan(3, 30, 64, 64, Q3).grid[0] == 2  # 3 frames, padded to 4 by patchify
    assert video_token_plan(6, 30, 64, 64, Q2, sample_frames=False).frames == 6


def _capture_resize(monkeypatch, proc):
    """Make the base-class pixel resize record the target size and skip the pixels."""
    base = next(c for c in type(proc).__mro__[1:] if "resize" in c.__dict__)
    seen: list[tuple[int, int]] = []

    def fake_resize(self, image, size, **kwargs):
        seen.append((size.height, size.width))
        return image

    monkeypatch.setattr(base, "resize", fake_resize)
    return seen


TOTALS = [1, 2, 3, 4, 5, 7, 8, 24, 59, 61, 300, 1799, 7500, 18000, 108000]
RATES = [1.0, 10.0, 23.976, 25.0, 30.0, 60.0]
FRAME_SIZES = [(1, 1), (10, 1000), (48, 64), (240, 320), (360, 640), (720, 1280), (1080, 1920), (2160, 3840),
               (1000, 10), (30, 5000), (5, 1100)]


@pytest.mark.parametrize("scheme", [Q2, Q3])
def test_hf_video_processor_parity(scheme: PatchScheme, monkeypatch) -> None:
    """~1000 videos through HF's own sample_frames + resize (pixels skipped): frames, size, timestamps."""
    import torch
    from transformers import Qwen2VLVideoProcessor, Qwen3VLVideoProcessor
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor
    from transformers.video_utils import VideoMetadata

    if scheme is Q2:  # the budgets of the reference loader (see qwen_vl_video docstring)
        proc = Qwen2VLVideoProcessor(do_sample_frames=True, fps=2, cap_pixels_per_frame=True)
    else:  # Qwen3-VL hub video_preprocessor_config.json
        proc = Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824}, fps=2)
    seen = _capture_resize(monkeypatch, proc)
    factor = proc.patch_size * proc.merge_size
    counted = failed = 0
    for total in TOTALS:
        for fps in RATES:
            for h, w in FRAME_SIZES:
                try:
                    idx = proc.sample_frames(VideoMetadata(total_num_frames=total, fps=fps))
                    n = len(idx)
                    video = torch.zeros((1, 1, 1, 1, 1), dtype=torch.uint8).expand(1, n, 3, h, w)
                    proc.resize(video, size=proc.size, resample=proc.resample, factor=factor,
                                temporal_factor=proc.temporal_patch_size,
                                cap_pixels_per_frame=proc.cap_pixels_per_frame)
                except (ValueError, ZeroDivisionError):  # Qwen2 divides by zero below 2 frames
                    with pytest.raises(ValueError):
                        video_token_plan(total, fps, h, w, scheme)
                    failed += 1
                    continue
                plan = video_token_plan(total, fps, h, w, scheme)
                assert (plan.frames, plan.resized) == (n, seen[-1]), (total, fps, h, w)
                assert plan.grid[0] == math.ceil(n / proc.temporal_patch_size)
                if scheme is Q3:
                    stamps = Qwen3VLProcessor._calculate_timestamps(None, np.asarray(idx), fps, 2)
                    assert [f"{t:.1f}" for t in plan.timestamps] == [f"{t:.1f}" for t in stamps]
                counted += 1
    assert counted > 500 and failed > 20


def test_hf_processors_end_to_end(fake_tokenizer, count_id) -> None:
    """Full HF processors on small synthetic videos: grid, pads, wrappers and Qwen3 timestamp text."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLProcessor, Qwen2VLVideoProcessor, Qwen3VLVideoProcessor
    from transformers.models.qwen3_vl.processing_qwen3_vl import Qwen3VLProcessor
    from transformers.video_utils import VideoMetadata

    cases = [(60, 30.0, 48, 64), (90, 30.0, 40, 50), (7, 10.0, 30, 200), (150, 25.0, 64, 48)]
    q2 = Qwen2VLProcessor(image_processor=Qwen2VLImageProcessor(), tokenizer=fake_tokenizer,
                          video_processor=Qwen2VLVideoProcessor(do_sample_frames=True, fps=2, cap_pixels_per_frame=True))
    q3 = Qwen3VLProcessor(image_processor=Qwen2VLImageProcessor(patch_size=16), tokenizer=fake_tokenizer,
                          video_processor=Qwen3VLVideoProcessor(size={"shortest_edge": 4096, "longest_edge": 25165824},
                                                                fps=2, cap_pixels_per_frame=False))
    text = "<|vision_start|><|video_pad|><|vision_end|>"
    for total, fps, h, w in cases:
        video = np.full((total, h, w, 3), 100, np.uint8)
        meta = VideoMetadata(total_num_frames=total, fps=fps)
        for scheme, proc in ((Q2, q2), (Q3, q3)):
            plan = video_token_plan(total, fps, h, w, scheme)
            out = proc(text=[text], videos=[video], video_metadata=[meta], return_metadata=True)
            assert tuple(out["video_grid_thw"][0].tolist()) == plan.patch_grid, (scheme, total)
            ids = out["input_ids"][0]
            assert count_id(ids, "<|video_pad|>") == plan.media_tokens
            wrappers = count_id(ids, "<|vision_start|>") + count_id(ids, "<|vision_end|>")
            assert wrappers == plan.special_tokens  # Qwen3: per group (5.25 collapses the template's outer pair)
            if scheme is Q3:
                vout = proc.video_processor(videos=[video], video_metadata=[meta], return_metadata=True)
                placeholder = proc.replace_video_token(vout, 0)
                assert re.findall(r"<[\d.]+ seconds>", placeholder) == [f"<{t:.1f} seconds>" for t in plan.timestamps]
