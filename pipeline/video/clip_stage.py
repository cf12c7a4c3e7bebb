"""``VideoClips`` (``video_clips_v1``): each ok video sample -> its scene clips, on the same row.

The pipeline contract is one row out per row in, so the stage does not emit clip rows: it writes a
``clips`` list (start/end, source frame range, sampled frame timestamps, JPEG frames, frame size,
sampling rate, motion, optional MP4) and a ``video_probe`` struct on the video's own row, and updates
the media item's ``width``/``height``/``n_frames``. A writer turns the list into one record per clip
with :func:`mmcurate.pipeline.sinks.explode.explode_clips`.

Each video is decoded in a sandbox subprocess (:mod:`.sandbox`), so a crashing or hanging decoder
costs one row, never the worker. Rows without a video media item pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.media_rows import rows_with_media_kind
from mmcurate.pipeline.stage import Reject, Resources, RowStage
from mmcurate.pipeline.video.extract import Extraction, ExtractParams, extract_clips
from mmcurate.pipeline.video.probe import VideoSource
from mmcurate.pipeline.video.sandbox import run_sandboxed
from mmcurate.schemas import sample as S
from mmcurate.schemas.video import CLIPS, CLIPS_FIELD, VIDEO_PROBE, VIDEO_PROBE_FIELD

__all__ = ["REJECT_REASONS", "VideoClips"]

# The closed set of codes this stage records (as ``video_clips_v1:<code>``).
REJECT_REASONS: tuple[str, ...] = (
    "empty",  # zero bytes
    "truncated",  # video magic bytes but will not open (moov missing), no decodable frame, or cut
    #               mid-stream with keep_partial=False
    "not_a_video",  # HTML, text, images, garbage: no video magic and FFmpeg finds no video
    "no_video_stream",  # a real media container with audio only
    "unsupported_codec",  # codec outside the allow-list, or no decoder in this PyAV wheel
    "too_large",  # width x height over max_pixels (from the header, before decode), or out of memory
    "too_long",  # decoded timestamps run past max_duration_s
    "decode_timeout",  # the sandbox watchdog killed the decode
    "decoder_crash",  # the decoder process died (signal) on every attempt (2 by default)
    "no_clips",  # decoded fine, but every clip was shorter than min_clip_s
)

# Flags (non-fatal notes) this stage appends to the row's ``flags``.
FLAG_TRUNCATED = "video_truncated"
FLAG_VFR = "video_vfr"


@dataclass(kw_only=True)
class VideoClips(RowStage):
    """Cut each video into scene clips with sampled frames (config: ``params`` plus sandbox limits)."""

    name: ClassVar[str] = "video_clips_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA, S.FLAGS)
    writes: ClassVar[tuple[pa.Field, ...]] = (VIDEO_PROBE_FIELD, CLIPS_FIELD)
    # One CPU: the stage itself waits; the sandbox child decodes with ``params.threads`` threads.
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)

    batch_size: int = 1  # rows carry JPEG frames: small batches keep Arrow blocks small
    params: ExtractParams = field(default_factory=ExtractParams)
    timeout_s: float = 300.0  # per video, wall clock, including the sandbox start-up
    crash_retries: int = 1  # a second crash rejects the sample as decoder_crash
    max_memory_bytes: int | None = 4 * 1024**3  # address-space cap of the decode child
    # The function run in the sandbox; swap only for tests or another decoder. Must pickle by reference.
    extract_fn: Callable[[VideoSource, ExtractParams], Extraction] = extract_clips

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.timeout_s <= 0:
            raise ValueError(f"VideoClips.timeout_s must be > 0, got {self.timeout_s}")
        if self.crash_retries < 0:
            raise ValueError(f"VideoClips.crash_retries must be >= 0, got {self.crash_retries}")

    def extract(self, data: VideoSource) -> Extraction:
        """Probe and clip one video in the sandbox (library entry point); raises ``Reject``."""
        if isinstance(data, bytes) and not data:
            raise Reject("empty", "0 bytes")
        return run_sandboxed(
            self.extract_fn, data, self.params, timeout_s=self.timeout_s, crash_retries=self.crash_retries,
            max_memory_bytes=self.max_memory_bytes,
        )

    def applies_to(self, batch: pa.Table) -> pa.Array:
        """Rows holding a video item; image rows never leave Arrow in this stage."""
        return pa.array(rows_with_media_kind(batch, ("video",)))

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = list(row.get(S.MEDIA) or [])
        index = next((i for i, m in enumerate(media) if m and m.get("kind") == "video"), None)
        if index is None:
            return {}
        item = media[index]
        result = self.extract(item.get("bytes") or b"")
        probe = result.probe
        if not result.clips:
            raise Reject("no_clips", f"{probe.duration_s:.2f} s decoded, no clip >= {self.params.min_clip_s} s")
        media[index] = {
            **item,
            "width": probe.display_width,
            "height": probe.display_height,
            "n_frames": probe.n_frames,
            "ops": [*(item.get("ops") or []), "video_clips"],
        }
        flags = list(row.get(S.FLAGS) or [])
        flags += [f for f, on in ((FLAG_TRUNCATED, probe.truncated), (FLAG_VFR, probe.vfr)) if on and f not in flags]
        return {
            S.MEDIA: media,
            S.FLAGS: flags,
            VIDEO_PROBE: probe.to_row(),
            CLIPS: [clip.to_row() for clip in result.clips],
        }
