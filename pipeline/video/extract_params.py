"""The extraction config and results: plain, picklable values (they cross the decode sandbox)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mmcurate.pipeline.video import frames as F
from mmcurate.pipeline.video.probe import (
    VideoProbe,
)

__all__ = ["DEFAULT_CODECS", "DEFAULT_PIX_FMTS", "ExtractParams", "ExtractedClip", "Extraction"]

# Codecs we decode in production (FFmpeg canonical names). Anything else (ffv1, prores, rawvideo, a
# codec the wheel cannot decode) is `unsupported_codec`: rare in web video and a common fuzzing vector.
DEFAULT_CODECS = ("h264", "hevc", "vp8", "vp9", "av1", "mpeg1video", "mpeg2video", "mpeg4", "mjpeg")
# Decoded pixel formats we accept: 8-bit 4:2:0 / 4:2:2 / 4:4:4 (and their full-range "j" and
# semi-planar forms), grey, and 10-bit 4:2:0 (HDR web video: AV1, VP9 profile 2, HEVC Main 10).
# High-bit-depth 4:2:2 / 4:4:4 are studio intermediates, not web video (bad-input matrix V12).
DEFAULT_PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21",
                    "gray", "yuv420p10le")


@dataclass(frozen=True)
class ExtractParams:
    """The extraction config (a plain, picklable value: it travels to the sandbox)."""

    codecs: tuple[str, ...] | None = DEFAULT_CODECS  # None: any codec the wheel decodes
    pix_fmts: tuple[str, ...] | None = DEFAULT_PIX_FMTS  # None: any pixel format
    max_pixels: int = 7680 * 4320  # 8K UHD; judged from the header before any decode
    max_duration_s: float = 3600.0
    keep_partial: bool = True  # truncated mid-stream: keep the decoded part (flagged) or reject
    cut_threshold: float = 30.0
    cut_adaptive_ratio: float = 3.0
    min_scene_frames: int = 3
    max_clip_s: float | None = 10.0
    min_clip_s: float = 1.0
    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    frame_factor: int = 2
    uniform_n: int | None = None  # sample exactly N frames per clip instead of by fps
    frame_max_pixels: int = F.QWEN_VIDEO_MAX_PIXELS
    jpeg_quality: int = 90
    encode_mp4: bool = False
    threads: int = 1  # decoder threads; one per sandbox keeps Ray's CPU accounting honest

    def __post_init__(self) -> None:
        checks = {
            "fps > 0": self.fps > 0,
            "1 <= min_frames <= max_frames": 1 <= self.min_frames <= self.max_frames,
            "frame_factor >= 1": self.frame_factor >= 1,
            "min_clip_s >= 0": self.min_clip_s >= 0,
            "max_clip_s > min_clip_s": self.max_clip_s is None or self.max_clip_s > self.min_clip_s,
            "uniform_n >= 1": self.uniform_n is None or self.uniform_n >= 1,
            "max_pixels, frame_max_pixels >= 4": min(self.max_pixels, self.frame_max_pixels) >= 4,
            "max_duration_s > 0": self.max_duration_s > 0,
            "1 <= jpeg_quality <= 95": 1 <= self.jpeg_quality <= 95,
            "threads >= 0": self.threads >= 0,
        }
        failed = [k for k, ok in checks.items() if not ok]
        if failed:
            raise ValueError(f"ExtractParams: need {', '.join(failed)}")


@dataclass
class ExtractedClip:
    """One clip; ``to_row`` gives the ``clips`` struct value (see :data:`.columns.CLIP_TYPE`)."""

    clip_index: int
    start_s: float
    end_s: float
    start_frame: int
    n_frames: int
    start_reason: str
    frame_ts: list[float]
    frames: list[bytes] = field(default_factory=list)
    width: int = 0
    height: int = 0
    sample_fps: float = 0.0
    motion: float | None = None
    mp4: bytes | None = None

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extraction:
    """What the sandbox returns: the probe and the clips."""

    probe: VideoProbe
    clips: list[ExtractedClip]
