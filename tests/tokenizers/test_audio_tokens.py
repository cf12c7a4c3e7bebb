"""Audio token counts == transformers' processors (Qwen2-Audio, Qwen2.5-Omni, Qwen3-Omni), incl. cuts.

The processors' own ``_process_audio`` runs unbound on a namespace holding a real ``WhisperFeatureExtractor``
built from the hub ``preprocessor_config.json`` values (128 mel bins; chunk_length 30 for Qwen2-Audio,
300 for the Omni models), so the count comes from the feature extractor's real attention mask. That path
costs a mel spectrogram per call, so it covers boundary durations; the >= 1,000 durations per scheme
check against the processors' own per-length counters (``_get_num_audio_tokens``), which the boundary
test proves equal to the mask path (Qwen2-Audio shares Qwen2.5-Omni's padding and formula at 30 s).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
from transformers import WhisperFeatureExtractor
from transformers.models.qwen2_5_omni.processing_qwen2_5_omni import Qwen2_5OmniProcessor
from transformers.models.qwen2_audio.processing_qwen2_audio import Qwen2AudioProcessor
from transformers.models.qwen3_omni_moe.processing_qwen3_omni_moe import Qwen3OmniMoeProcessor

from mmcurate.tokenizers.audio import audio_tokens, omni_av_interleave

RATE = 16000
FE = {30: WhisperFeatureExtractor(feature_size=128, chunk_length=30),
      300: WhisperFeatureExtractor(feature_size=128, chunk_length=300)}


def _ns(chunk: int, **extra: object) -> types.SimpleNamespace:
    return types.SimpleNamespace(feature_extractor=FE[chunk], audio_token="<|AUDIO|>",
                                 replace_audio_token=lambda inputs, audio_idx, **kw: "", **extra)


def _processor_count(scheme: str, n: int) -> int:
    x = np.zeros(n, dtype=np.float32)
    if scheme == "qwen2_audio":
        out, _ = Qwen2AudioProcessor._process_audio(_ns(30), [x], sampling_rate=RATE, return_attention_mask=True)
    elif scheme == "qwen2_5_omni":
        out, _ = Qwen2_5OmniProcessor._process_audio(_ns(300), [x], sampling_rate=RATE, return_attention_mask=True)
    else:  # the processor's class audio_kwargs: padding=True, truncation=False
        out, _ = Qwen3OmniMoeProcessor._process_audio(_ns(300, n_window=50), [x], sampling_rate=RATE, padding=True,
                                                      truncation=False, return_attention_mask=True)
    return int(out["num_audio_tokens"][0])


# Sample counts at the hop grid, the 30 s cut and past it. Each Qwen2.5-Omni call pads to 300 s (~1.2 s
# of mel on 2 cores), so that scheme gets the few lengths where it could differ from Qwen2-Audio's path.
BOUNDARIES = [1600, 1601, 1760, 16000, 16001, 16159, 16161, 479_999, 480_000, 480_001, 720_017]
LENGTHS = {"qwen2_audio": BOUNDARIES, "qwen2_5_omni": [1601, 16161, 480_001, 4_800_001],
           "qwen3_omni": [*BOUNDARIES, 4_800_161]}


@pytest.mark.parametrize("scheme", ["qwen2_audio", "qwen2_5_omni", "qwen3_omni"])
def test_counts_equal_the_processors_mask_path_at_boundaries(scheme: str) -> None:
    lengths = LENGTHS[scheme]
    assert [audio_tokens(n, scheme).tokens for n in lengths] == [_processor_count(scheme, n) for n in lengths]


def _durations(k: int = 1200) -> list[int]:
    """k sample counts log-spaced over 0.1 s .. 20 min, jittered off the hop grid, plus exact cuts."""
    rng = np.random.default_rng(7)
    base = np.geomspace(0.1 * RATE, 1200 * RATE, k).astype(np.int64) + rng.integers(0, 160, k)
    return sorted({int(n) for n in base} | {480_000, 480_001, 4_800_000, 4_800_001, 1200 * RATE})


def test_counts_equal_the_processors_own_counters_on_1200_durations() -> None:
    lengths = _durations()
    assert len(lengths) >= 1000
    q25, q2a, q3 = _ns(300), _ns(30), _ns(300, n_window=50)
    for n in lengths:
        assert audio_tokens(n, "qwen2_5_omni").tokens == Qwen2_5OmniProcessor._get_num_audio_tokens(q25, n), n
        assert audio_tokens(n, "qwen2_audio").tokens == Qwen2_5OmniProcessor._get_num_audio_tokens(q2a, n), n
        assert audio_tokens(n, "qwen3_omni").tokens == Qwen3OmniMoeProcessor._get_num_audio_tokens(q3, n), n


def test_long_audio_is_cut_where_the_processor_cuts() -> None:
    minute = 60 * RATE
    assert audio_tokens(minute, "qwen2_audio").kept_s == 30.0 and audio_tokens(minute, "qwen2_audio").tokens == 750
    assert audio_tokens(10 * minute, "qwen2_5_omni").kept_s == 300.0
    assert audio_tokens(20 * minute, "qwen3_omni").kept_s == 1200.0  # never cut: 13 tokens per second
    assert audio_tokens(20 * minute, "qwen3_omni").tokens == 1200 * 13


@pytest.mark.parametrize("t,h,w,spg,audio", [(2, 4, 4, 2.0, 100), (6, 8, 6, 1.0, 149), (1, 2, 2, 2.0, 7),
                                            (10, 4, 8, 0.5, 125), (3, 6, 6, 2.0, 400)])
def test_audio_in_video_runs_equal_the_processors_placeholder(t: int, h: int, w: int, spg: float, audio: int) -> None:
    ns = types.SimpleNamespace(video_processor=types.SimpleNamespace(merge_size=2), audio_bos_token="B",
                               audio_eos_token="E", video_token="V", audio_token="A")
    ns.get_chunked_index = lambda idx, per: Qwen2_5OmniProcessor.get_chunked_index(ns, idx, per)
    text = Qwen2_5OmniProcessor.replace_video_with_audio_token(
        ns, {"video_grid_thw": [np.array([t, h, w])], "video_second_per_grid": [spg]}, 0,
        {"num_audio_tokens": [audio]}, 0, position_id_per_seconds=25, seconds_per_chunk=2.0)
    ours = "B" + "".join(("V" if kind == "video" else "A") * n for kind, n in
                         omni_av_interleave((t, h, w), spg, audio)) + "E"
    assert ours == text
