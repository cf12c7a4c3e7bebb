"""Per-sample token counts per modality under the target model (``mixture_tokens_v1``).

The budget balancer and the packer work on lengths, so this row stage writes them once: vision tokens
from :mod:`mmcurate.tokenizers.patch` (trainer-exact, wrappers included), text tokens from a pluggable
:class:`~.text_tokens.TextTokenCounter`. When :class:`PatchTokenCount` already ran, its
``tokens_image``/``tokens_video`` are reused; otherwise they are computed here with the same code.
Video comes from ``clips`` when present (each clip's sampled ``frame_ts`` at its ``sample_fps``,
``sample_frames=False``: the frames are already chosen), else from the media items at ``video_fps``.

Text is the synthesized conversation (``synthesize_v1_llava``) when present, else the caption; the
supervised tokens are the gpt turns, or the whole caption for captioning data. ``turn_overhead`` adds
the chat template's per-turn tokens (Qwen's ``<|im_start|>role\\n ... <|im_end|>\\n`` is 5).

Audio (``tokens_audio``) is counted when ``AudioDecode`` ran (``audio_probe``), trainer-exact under
``audio_scheme`` (:func:`mmcurate.tokenizers.audio.audio_tokens`: Qwen2-Audio, Qwen2.5-Omni or Qwen3-Omni,
each processor's own cut and padding): one audio per ``AudioSegments`` window when ``audio_windows``
exist (each window reaches the trainer as its own clip), else the whole decoded recording.

An interleaved document (``doc_tokens`` ran) is counted from its own token sequence: its text and image
tokens are ``doc_tokens_v1_text`` and ``doc_tokens_v1_image`` (the target tokenizer's ids and the image
placeholders in reading order), all text supervised, and its modality is ``document``; ``pack`` then
places each of its context windows (``doc_tokens_v1_windows``) as its own sequence.

``modality`` (the mixture group): ``instruction`` when ``label_instructions`` and conversations
exist, else ``document``, ``video``, ``audio``, ``image_text`` or ``text``. Per-sample ``caps`` ({modality or "total": max
tokens}, e.g. ``{"video": 16384}``) reject a row with ``mixture_tokens_v1:over_cap``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S
from mmcurate.schemas.audio import AUDIO_PROBE
from mmcurate.schemas.mixture import (
    CLIPS,
    INSTRUCT_LLAVA,
    MODALITY,
    MODALITY_AUDIO,
    MODALITY_DOCUMENT,
    MODALITY_IMAGE_TEXT,
    MODALITY_INSTRUCTION,
    MODALITY_TEXT,
    MODALITY_VIDEO,
    TOKEN_FIELDS,
    TOKENS_SUPERVISED,
    TOKENS_TEXT,
    TOKENS_TOTAL,
)
from mmcurate.tokenizers.audio import RATE, SCHEMES, audio_tokens
from mmcurate.tokenizers.patch import video_token_count
from mmcurate.tokenizers.patch_stage import TOKENS_IMAGE, TOKENS_VIDEO, PatchTokenCount
from mmcurate.tokenizers.scheme import PatchScheme
from mmcurate.tokenizers.text_count import HeuristicCounter, TextTokenCounter

__all__ = ["CountTokens", "TOKENS_AUDIO", "AUDIO_WINDOWS"]

_IMAGE_MARK = "<image>"
_AUDIO_MARK = "<audio>"  # speech QA's placeholder (synthesis); its tokens are tokens_audio, not text
TOKENS_AUDIO = "tokens_audio"
AUDIO_WINDOWS = "audio_windows"  # AudioSegments' column (pipeline/audio/segment_stage.py)
DOC_TEXT, DOC_IMAGE = "doc_tokens_v1_text", "doc_tokens_v1_image"  # InterleavedTokens' columns


@dataclass(kw_only=True)
class CountTokens(RowStage):
    """Write ``tokens_text``, ``tokens_supervised``, ``tokens_total``, ``modality`` (+ image/video counts)."""

    name: ClassVar[str] = "mixture_tokens_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA, S.CAPTION)  # + synthesize_v1_llava, clips, tokens_* if present
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(TOKENS_IMAGE, pa.int64(), metadata={"doc": "LLM tokens of all image items (0 if none)"}),
        pa.field(TOKENS_VIDEO, pa.int64(), metadata={"doc": "LLM tokens of all video items or clips (0 if none)"}),
        pa.field(TOKENS_AUDIO, pa.int64(), metadata={
            "doc": "audio placeholder tokens under audio_scheme, summed over audio_windows (0 if no audio)"}),
        *TOKEN_FIELDS,
    )

    scheme: PatchScheme = PatchScheme.QWEN2_VL
    image_overrides: dict[str, Any] = field(default_factory=dict)
    video_overrides: dict[str, Any] = field(default_factory=dict)
    video_fps: float | None = None
    text_counter: TextTokenCounter = field(default_factory=HeuristicCounter)
    turn_overhead: int = 5
    caps: dict[str, int] = field(default_factory=dict)
    label_instructions: bool = True
    audio_scheme: str = param("qwen2_5_omni", doc="whose processor counts audio tokens (its cut and padding)",
                              choices=tuple(SCHEMES))

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.scheme, str):
            self.scheme = PatchScheme(self.scheme)
        bad = {k: v for k, v in self.caps.items() if v < 1}
        if bad:
            raise ValueError(f"caps must be >= 1 token, got {bad}")
        self._patch_stage()  # validates the scheme overrides at construction

    def _patch_stage(self) -> PatchTokenCount:
        # Built lazily: attributes starting with "_" do not travel when Ray pickles the stage.
        if getattr(self, "_patch", None) is None:
            self._patch = PatchTokenCount(scheme=self.scheme, image_overrides=self.image_overrides,
                                          video_overrides=self.video_overrides, video_fps=self.video_fps)
        return self._patch

    def _media_tokens(self, row: dict[str, Any]) -> tuple[int, int]:
        image, video = row.get(TOKENS_IMAGE), row.get(TOKENS_VIDEO)
        clips = row.get(CLIPS)
        if clips:
            video = 0
            for clip in clips:
                n = len(clip.get("frame_ts") or [])
                if n and clip.get("width") and clip.get("height") and clip.get("sample_fps"):
                    try:
                        video += video_token_count(n, clip["sample_fps"], clip["height"], clip["width"], self.scheme,
                                                   **{"sample_frames": False, **self.video_overrides})
                    except ValueError as exc:
                        raise Reject("untokenizable", f"clip {clip.get('clip_index')}: {exc}") from None
        if image is None or video is None:
            counted = self._patch_stage().process_row(row)  # raises Reject(not_decoded | untokenizable)
            image = counted[TOKENS_IMAGE] if image is None else image
            video = counted[TOKENS_VIDEO] if video is None else video
        if video is None:
            has_video = any(m and m.get("kind") == "video" for m in row.get(S.MEDIA) or [])
            if has_video:
                raise Reject("video_uncounted", "video items need video_fps or a clips column to be counted")
            video = 0
        return int(image), int(video)

    def _audio_tokens(self, row: dict[str, Any]) -> tuple[int, list[dict[str, Any]] | None]:
        """The row's audio tokens, and its windows with each window's own count filled in (the
        ``windows/`` records carry it; one scheme counts both, so they always sum up)."""
        probe = row.get(AUDIO_PROBE)
        if not probe:
            return 0, None
        rate = probe["sample_rate"]
        windows = row.get(AUDIO_WINDOWS)
        # The same sample arithmetic explode_windows cuts with, then the processor's 16 kHz resample.
        lengths = ([int(round(w["end_s"] * rate)) - int(round(w["start_s"] * rate)) for w in windows] if windows
                   else [probe["n_samples"]])
        scale = RATE / rate
        counts = [audio_tokens(int(round(n * scale)), self.audio_scheme).tokens for n in lengths]
        counted = [{**w, "tokens_audio": c} for w, c in zip(windows, counts)] if windows else None
        return sum(counts), counted

    def _text_tokens(self, row: dict[str, Any]) -> tuple[int, int, bool]:
        raw = row.get(INSTRUCT_LLAVA)
        if raw:
            turns = [t for rec in json.loads(raw) for t in rec["conversations"]]
            texts = [t["value"].replace(_IMAGE_MARK, "").replace(_AUDIO_MARK, "").strip() for t in turns]
            counts = self.text_counter.count(texts)
            total = sum(counts) + self.turn_overhead * len(turns)
            supervised = sum(c + self.turn_overhead for c, t in zip(counts, turns) if t["from"] == "gpt")
            return total, supervised, True
        caption = row.get(S.CAPTION) or ""
        (n,) = self.text_counter.count([caption])
        return n + (self.turn_overhead if caption else 0), n, False

    def _document_counts(self, row: dict[str, Any]) -> dict[str, Any]:
        text, image = int(row[DOC_TEXT]), int(row[DOC_IMAGE] or 0)
        self._check_caps([("image", image), ("text", text), ("total", text + image), (MODALITY_DOCUMENT, text + image)])
        return {TOKENS_IMAGE: image, TOKENS_VIDEO: 0, TOKENS_AUDIO: 0, TOKENS_TEXT: text, TOKENS_SUPERVISED: text,
                TOKENS_TOTAL: text + image, MODALITY: MODALITY_DOCUMENT}

    def _check_caps(self, counts: list[tuple[str, int]]) -> None:
        # Pairs, not a dict: the "video" cap applies to video tokens and the "video" modality cap to totals.
        for key, value in counts:
            cap = self.caps.get(key)
            if cap is not None and value > cap:
                raise Reject("over_cap", f"{key} tokens {value} > cap {cap}")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        if row.get(DOC_TEXT) is not None:
            return self._document_counts(row)
        image, video = self._media_tokens(row)
        audio, windows = self._audio_tokens(row)
        text, supervised, instructed = self._text_tokens(row)
        if instructed and self.label_instructions:
            modality = MODALITY_INSTRUCTION
        else:
            modality = (MODALITY_VIDEO if video else MODALITY_AUDIO if audio else
                        MODALITY_IMAGE_TEXT if image else MODALITY_TEXT)
        total = text + image + video + audio
        self._check_caps([("image", image), ("video", video), ("audio", audio), ("text", text), ("total", total),
                          (modality, total)])
        counts = {TOKENS_IMAGE: image, TOKENS_VIDEO: video, TOKENS_AUDIO: audio, TOKENS_TEXT: text,
                  TOKENS_SUPERVISED: supervised, TOKENS_TOTAL: total, MODALITY: modality}
        return {**counts, AUDIO_WINDOWS: windows} if windows is not None else counts
