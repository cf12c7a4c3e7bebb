"""The image-text job: the config turned into readers, stages and a sink, in plain Python.

Reading the list below is reading the job. New stages (filters, dedup, tokenizers) are added here
explicitly as they land; nothing is looked up by name from the config.
"""

from __future__ import annotations

from typing import Any

from mmcurate.filters.clip_frames import ClipFrameScore
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.filters.ocr import OcrFilter
from mmcurate.filters.tmars import TMarsFilter
from mmcurate.filters.video import VideoDurationFilter, VideoMotionFilter, VideoResolutionFilter
from mmcurate.jobs.config import (
    ClipConfig,
    ConfigError,
    DownloadConfig,
    FiltersConfig,
    InputConfig,
    JobConfig,
    VideoConfig,
    config_hash,
)
from mmcurate.jobs.mixture import mixture_stages
from mmcurate.pipeline.caption_clean import CaptionClean
from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.pipeline.dedup.job_pass import GlobalDedup
from mmcurate.pipeline.dedup.policy import KeepPolicy
from mmcurate.pipeline.execute import Pipeline
from mmcurate.pipeline.net.download_stage import Download
from mmcurate.pipeline.net.fetch import FetchPolicy
from mmcurate.pipeline.readers.base import Reader
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.pipeline.readers.webdataset_tar import WebDatasetReader
from mmcurate.pipeline.sinks.unit_writer import UnitWriter
from mmcurate.pipeline.stage import Stage
from mmcurate.pipeline.video.clip_stage import VideoClips
from mmcurate.pipeline.video.extract import ExtractParams

__all__ = ["build_reader", "fetch_policy", "video_stages", "filter_stages", "build_stages", "build_dedup", "build_pipeline"]


def build_reader(cfg: InputConfig) -> Reader:
    if cfg.kind == "folder":
        return FolderReader(path=cfg.path, unit_rows=cfg.unit_rows, max_file_bytes=cfg.max_file_bytes)
    if cfg.kind == "webdataset":
        return WebDatasetReader(path=cfg.path)
    return TableFileReader(
        path=cfg.path, format=cfg.kind, unit_rows=cfg.unit_rows, image_column=cfg.image_column,
        caption_column=cfg.caption_column, url_column=cfg.url_column, image_encoding=cfg.image_encoding,
        max_file_bytes=cfg.max_file_bytes,
    )


def fetch_policy(cfg: DownloadConfig) -> FetchPolicy:
    return FetchPolicy(
        connect_timeout=cfg.connect_timeout, read_timeout=cfg.read_timeout, total_timeout=cfg.total_timeout,
        max_bytes=cfg.max_bytes, max_retries=cfg.max_retries, max_redirects=cfg.max_redirects,
        max_workers=cfg.max_workers, per_host_limit=cfg.per_host_limit,
        allow_private_networks=cfg.allow_private_networks, allowed_networks=tuple(cfg.allowed_networks),
    )


def video_stages(v: VideoConfig) -> list[Stage]:
    """Clips and the video filters; rows without a video item pass through them untouched."""
    params = ExtractParams(fps=v.fps, min_frames=v.min_frames, max_frames=v.max_frames, uniform_n=v.uniform_n,
                           max_clip_s=v.max_clip_s, min_clip_s=v.min_clip_s, max_duration_s=v.max_duration_s,
                           max_pixels=v.max_pixels, encode_mp4=v.encode_mp4,
                           **({"pix_fmts": tuple(v.pix_fmts)} if v.pix_fmts is not None else {}))
    return [
        VideoClips(params=params, timeout_s=v.timeout_s),
        VideoDurationFilter(min_s=v.min_duration_s, max_s=v.max_duration_s),
        VideoResolutionFilter(min_short_side=v.min_short_side, max_aspect_ratio=v.max_aspect_ratio),
        VideoMotionFilter(min_motion=v.min_motion, min_clip_motion=v.min_clip_motion),
    ]


def _model_fields(c: ClipConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {"num_gpus": c.num_gpus, "num_cpus": c.num_cpus, "draft_gap": c.draft_gap}
    if c.arch is not None:
        if c.checkpoint is None:
            raise ConfigError("filters.clip.checkpoint is required with filters.clip.arch (nothing is downloaded)")
        fields |= {"arch": c.arch, "checkpoint": c.checkpoint, "model_config": c.model_config,
                   "tokenizer_path": c.tokenizer_path}
    return fields


def filter_stages(f: FiltersConfig) -> list[Stage]:
    """CLIP on images and on video clips, then OCR and T-MARS, as configured."""
    stages: list[Stage] = []
    model = _model_fields(f.clip)
    if f.clip.enabled:
        stages.append(ClipScoreFilter(min_score=f.clip.min_score, write_embedding=f.clip.write_embedding,
                                      batch_size=f.clip.batch_size, require_image=False, **model))
        stages.append(ClipFrameScore(min_score=f.clip.video_min_score, min_clip_score=f.clip.video_min_clip_score,
                                     **model))
    if f.ocr.enabled:
        stages.append(OcrFilter(backend=f.ocr.backend, max_text_area=f.ocr.max_text_area, min_words=f.ocr.min_words))
        if f.ocr.tmars:
            stages.append(TMarsFilter(min_masked_score=f.ocr.tmars_min_masked_score, **model))
    return stages


def build_stages(cfg: JobConfig) -> list[Stage]:
    d, c = cfg.decode, cfg.caption
    # Downloading only exists for URL lists; rows that already carry media pass through it untouched.
    download: list[Stage] = [Download(policy=fetch_policy(cfg.download), batch_size=cfg.download.batch_size)] if any(
        i.url_column for i in cfg.inputs) else []
    return download + [  # dedup signatures see the stages before the video ones: see build_dedup
        ImageDecode(formats=tuple(d.formats), max_pixels=d.max_pixels, min_side=d.min_side,
                    max_aspect=d.max_aspect, jpeg_quality=d.jpeg_quality),
        CaptionClean(require=c.require, min_chars=c.min_chars, max_chars=c.max_chars, strip_html=c.strip_html),
        *video_stages(cfg.video),
        *filter_stages(cfg.filters),
        *mixture_stages(cfg.mixture),
    ]


def build_dedup(cfg: JobConfig, stages: list[Stage]) -> GlobalDedup | None:
    """Dedup sees rows after download, decode and caption cleaning: the stages before the video ones."""
    d = cfg.dedup
    if not d.enabled:
        return None
    prefix = next(i for i, stage in enumerate(stages) if isinstance(stage, VideoClips))
    clip = None
    if d.semantic_eps is not None or d.keep == "clip_score":  # the pass needs CLIP scores / embeddings
        clip = ClipScoreFilter(write_embedding=True, require_image=False, batch_size=cfg.filters.clip.batch_size,
                               **_model_fields(cfg.filters.clip))
    policy = KeepPolicy(rule="score", score_column="clip_score_v1_mean") if d.keep == "clip_score" else \
        KeepPolicy(rule=d.keep)
    return GlobalDedup(prefix=prefix, exact=d.exact, phash_max_distance=d.phash_max_distance,
                       video_phash_max_distance=d.video_phash_max_distance,
                       minhash_threshold=d.minhash_threshold, policy=policy,
                       merge_captions=d.merge_captions, semantic_eps=d.semantic_eps,
                       semantic_clusters=d.semantic_clusters, clip=clip)


def build_pipeline(cfg: JobConfig) -> Pipeline:
    writer = UnitWriter(out_dir=cfg.output, formats=tuple(cfg.shards.formats), max_rows=cfg.shards.max_rows,
                        max_bytes=cfg.shards.max_bytes, config_hash=config_hash(cfg))
    stages = build_stages(cfg)
    return Pipeline(readers=[build_reader(i) for i in cfg.inputs], stages=stages, writer=writer,
                    dedup=build_dedup(cfg, stages))
