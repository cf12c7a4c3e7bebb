"""mmcurate.filters: score-then-decide filter stages for image-text (and video) samples.

Every filter is a :class:`mmcurate.pipeline.filter.Filter`: it writes its score columns under a
versioned name and marks failing rows ``<name>:<reason>``. The public classes are listed here and
imported lazily (PEP 562 ``__getattr__``), so ``import mmcurate.filters`` stays cheap: torch and
open_clip load only when a CLIP filter is first touched, Tesseract only with ``OcrFilter``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ClipScoreFilter", "ClipScoreCut", "OcrFilter", "MaskedClipScoreFilter", "TMarsFilter", "ClipFrameScore",
    "ImageSizeFilter", "AspectRatioFilter", "CaptionLengthFilter", "WordCountFilter", "UniqueWordsFilter",
    "CaptionLanguageFilter", "BoilerplateCaptionFilter", "CaptionIsOcrFilter",
    "VideoDurationFilter", "VideoResolutionFilter", "VideoMotionFilter",
]

# Public name -> the module that defines it (relative to this package).
_HOME = {
    "ClipScoreFilter": "clip_score",
    "ClipScoreCut": "clip_quantile",
    "OcrFilter": "ocr",
    "MaskedClipScoreFilter": "tmars",
    "TMarsFilter": "tmars",
    "ClipFrameScore": "clip_frames",
    "ImageSizeFilter": "basic",
    "AspectRatioFilter": "basic",
    "CaptionLengthFilter": "basic",
    "WordCountFilter": "basic",
    "UniqueWordsFilter": "basic",
    "CaptionLanguageFilter": "caption_language",
    "BoilerplateCaptionFilter": "boilerplate",
    "CaptionIsOcrFilter": "caption_ocr",
    "VideoDurationFilter": "video",
    "VideoResolutionFilter": "video",
    "VideoMotionFilter": "video",
}

if TYPE_CHECKING:  # for type checkers and IDEs only; at run time the names resolve in __getattr__
    from mmcurate.filters.basic import AspectRatioFilter, CaptionLengthFilter, ImageSizeFilter, UniqueWordsFilter, WordCountFilter
    from mmcurate.filters.boilerplate import BoilerplateCaptionFilter
    from mmcurate.filters.caption_language import CaptionLanguageFilter
    from mmcurate.filters.caption_ocr import CaptionIsOcrFilter
    from mmcurate.filters.clip_frames import ClipFrameScore
    from mmcurate.filters.clip_quantile import ClipScoreCut
    from mmcurate.filters.clip_score import ClipScoreFilter
    from mmcurate.filters.ocr import OcrFilter
    from mmcurate.filters.tmars import MaskedClipScoreFilter, TMarsFilter
    from mmcurate.filters.video import VideoDurationFilter, VideoMotionFilter, VideoResolutionFilter


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
