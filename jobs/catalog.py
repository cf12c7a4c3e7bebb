"""The one table from step names to components: what ``use:`` in a job file can name.

Job files never carry import or class paths; a name resolves here, to a component whose own dataclass
fields are its parameters. Modules are imported only when a step is used (or listed), so naming a
Tesseract filter does not load torch. Inputs resolve the same way through ``INPUTS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from mmcurate.jobs.typed import describe_params
from mmcurate.pipeline.filter import Filter
from mmcurate.pipeline.passes import OutputPass, Pass

__all__ = ["STEPS", "INPUTS", "TABLE_KINDS", "step_class", "input_class", "kind_of", "describe_steps", "stage_name"]

M = "mmcurate."
# name -> (module, class). Grouped as a job reads: fetch and decode, clean, filter, dedup, tokenize, mix.
STEPS: dict[str, tuple[str, str]] = {
    "download": ("pipeline.net.download_stage", "Download"),
    "image_decode": ("pipeline.decode_image", "ImageDecode"),
    "caption_clean": ("pipeline.caption_clean", "CaptionClean"),
    "video_clips": ("pipeline.video.clip_stage", "VideoClips"),
    "audio_decode": ("pipeline.audio.decode_stage", "AudioDecode"),
    "audio_segments": ("pipeline.audio.segment_stage", "AudioSegments"),
    "audio_transcribe": ("pipeline.audio.asr_stage", "AudioTranscribe"),
    "doc_image_fetch": ("pipeline.documents.fetch_images", "DocumentImageFetch"),
    "doc_image_decode": ("pipeline.documents.decode", "DocumentImageDecode"),
    # filters: score, then decide
    "image_size": ("filters.basic", "ImageSizeFilter"),
    "aspect_ratio": ("filters.basic", "AspectRatioFilter"),
    "caption_length": ("filters.basic", "CaptionLengthFilter"),
    "word_count": ("filters.basic", "WordCountFilter"),
    "unique_words": ("filters.basic", "UniqueWordsFilter"),
    "caption_language": ("filters.caption_language", "CaptionLanguageFilter"),
    "boilerplate_caption": ("filters.boilerplate", "BoilerplateCaptionFilter"),
    "caption_is_ocr": ("filters.caption_ocr", "CaptionIsOcrFilter"),
    "clip_score": ("filters.clip_score", "ClipScoreFilter"),
    "clip_score_cut": ("filters.clip_quantile", "ClipScoreCut"),
    "clip_frames": ("filters.clip_frames", "ClipFrameScore"),
    "ocr": ("filters.ocr", "OcrFilter"),
    "tmars": ("filters.tmars", "TMarsFilter"),
    "video_duration": ("filters.video", "VideoDurationFilter"),
    "video_resolution": ("filters.video", "VideoResolutionFilter"),
    "video_motion": ("filters.video", "VideoMotionFilter"),
    "audio_duration": ("filters.audio_level", "AudioDurationFilter"),
    "audio_loudness": ("filters.audio_level", "AudioLoudnessFilter"),
    "audio_clipping": ("filters.audio_level", "AudioClippingFilter"),
    "audio_silence": ("filters.audio_level", "AudioSilenceFilter"),
    "audio_speech": ("filters.audio_speech", "AudioSpeechFilter"),
    "audio_snr": ("filters.audio_speech", "AudioSnrFilter"),
    "audio_bandwidth": ("filters.audio_speech", "AudioBandwidthFilter"),
    "audio_transcript_check": ("filters.audio_transcript", "TranscriptAgreementFilter"),
    "doc_node_filter": ("filters.document_nodes", "DocumentNodeFilter"),
    "doc_filter": ("filters.document_level", "DocumentFilter"),
    "doc_clip": ("filters.document_clip", "DocumentClipFilter"),
    # set-level passes
    "dedup": ("pipeline.dedup.passes", "Dedup"),
    "exact_dedup": ("pipeline.dedup.passes", "ExactDedup"),
    "phash_dedup": ("pipeline.dedup.passes", "PhashDedup"),
    "video_phash_dedup": ("pipeline.dedup.passes", "VideoPhashDedup"),
    "minhash_dedup": ("pipeline.dedup.passes", "MinHashDedup"),
    "semantic_dedup": ("pipeline.dedup.passes", "SemanticDedup"),
    "audio_dedup": ("pipeline.dedup.audio_pass", "AudioDedup"),
    "clip_keep_top": ("filters.clip_keep_top", "ClipKeepTop"),
    "doc_frequent_images": ("pipeline.documents.frequent_pass", "DocFrequentImages"),
    "doc_image_dedup": ("pipeline.documents.image_dedup_pass", "DocImageDedup"),
    # instructions and tokens
    "synthesize": ("pipeline.synthesis.synthesize", "SynthesizeInstructions"),
    "count_tokens": ("tokenizers.token_count", "CountTokens"),
    "patch_tokens": ("tokenizers.patch_stage", "PatchTokenCount"),
    "vq_tokenize": ("tokenizers.vqvae.stage", "VQTokenize"),
    "doc_tokens": ("tokenizers.interleaved_stage", "InterleavedTokens"),
    # over the accepted output
    "balance": ("pipeline.mixture.passes", "Balance"),
    "pack": ("pipeline.mixture.passes", "Pack"),
    "token_records": ("tokenizers.records_pass", "TokenRecords"),
    "obelics_export": ("pipeline.documents.obelics_export", "ObelicsExport"),
}

TABLE_KINDS = ("parquet", "jsonl", "json", "csv", "tsv")
INPUTS: dict[str, tuple[str, str]] = {
    "folder": ("pipeline.readers.folder", "FolderReader"),
    "webdataset": ("pipeline.readers.webdataset_tar", "WebDatasetReader"),
    **{kind: ("pipeline.readers.table_file", "TableFileReader") for kind in TABLE_KINDS},
    "warc": ("pipeline.documents.warc_reader", "WarcReader"),
    "html_folder": ("pipeline.documents.html_folder", "HtmlFolderReader"),
    "obelics": ("pipeline.documents.obelics", "ObelicsReader"),
    "mmc4": ("pipeline.documents.mmc4", "Mmc4Reader"),
}


def _load(entry: tuple[str, str]) -> type:
    module, name = entry
    return getattr(importlib.import_module(M + module), name)


def step_class(name: str) -> type:
    return _load(STEPS[name])


def input_class(kind: str) -> type:
    return _load(INPUTS[kind])


def kind_of(cls: type) -> str:
    """``output`` (after the shards), ``pass`` (set-level), ``filter`` (score, then decide) or ``stage``."""
    if issubclass(cls, OutputPass):
        return "output"
    if issubclass(cls, Pass):
        return "pass"
    return "filter" if issubclass(cls, Filter) else "stage"


def stage_name(use: str) -> str | None:
    """The versioned name a step's columns and reject reasons carry (``ocr`` -> ``ocr_v1``)."""
    return step_class(use).name if use in STEPS else None


@dataclass(frozen=True)
class StepInfo:
    name: str
    kind: str
    cls: str
    stage: str
    doc: str
    params: dict[str, dict[str, Any]]


def describe_steps() -> list[StepInfo]:
    """Every step, with its kind, class, one-line doc and parameters (type, default, doc)."""
    out = []
    for name in STEPS:
        cls = step_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        out.append(StepInfo(name, kind_of(cls), cls.__name__, cls.name, doc, describe_params(cls)))
    return out
