"""Typed job configuration: dataclasses loaded from YAML, unknown keys rejected by name.

The config is data only; :mod:`mmcurate.jobs.image_text` turns it into readers and stages explicitly
in Python. ``config_hash`` covers everything that can change the output bytes and nothing else (not
the output path, not where Ray runs), so the same job resumes from any machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["InputConfig", "DownloadConfig", "DecodeConfig", "VideoConfig", "CaptionConfig", "DedupConfig",
           "ClipConfig", "OcrConfig", "FiltersConfig", "MixtureConfig", "ShardConfig", "RayConfig", "JobConfig",
           "ConfigError", "load_config", "config_from_dict", "config_hash"]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the offending key."""


@dataclass(kw_only=True)
class InputConfig:
    kind: Literal["folder", "parquet", "jsonl", "csv", "tsv", "webdataset"] = "folder"
    path: str
    unit_rows: int = 500
    image_column: str = "image"
    caption_column: str = "caption"
    url_column: str | None = None
    image_encoding: Literal["auto", "path", "base64"] = "auto"
    max_file_bytes: int = 64 * 1024**2


@dataclass(kw_only=True)
class DownloadConfig:
    """For inputs with a ``url_column``: see :class:`mmcurate.pipeline.net.fetch.FetchPolicy`."""

    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_bytes: int = 32 * 1024**2
    max_retries: int = 2
    max_redirects: int = 5
    max_workers: int = 32
    per_host_limit: int = 4
    # URLs per download batch. A batch ends with its slowest URL (a 5xx in retry back-off holds it
    # ~1.5 s), so bigger batches overlap those waits: a 2,000-URL failure mix ran 3x faster at 250
    # than at 64. Bodies of a batch are held together: at most batch_size x max_bytes, typically ~100 KB each.
    batch_size: int = 256
    allow_private_networks: bool = False
    allowed_networks: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class DecodeConfig:
    formats: list[str] = field(default_factory=lambda: ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
    max_pixels: int = 50_000_000
    min_side: int = 16
    max_aspect: float = 20.0
    jpeg_quality: int = 95


@dataclass(kw_only=True)
class VideoConfig:
    """Video samples: clip splitting, frame sampling, sandbox limits and the three video filters."""

    fps: float = 2.0
    min_frames: int = 4
    max_frames: int = 768
    uniform_n: int | None = None
    max_clip_s: float | None = 10.0
    min_clip_s: float = 1.0
    max_duration_s: float = 3600.0
    max_pixels: int = 7680 * 4320
    encode_mp4: bool = False
    pix_fmts: list[str] | None = None  # decoded pixel formats accepted; null: the built-in web-video list
    timeout_s: float = 300.0
    min_duration_s: float = 2.0
    min_short_side: int = 144
    max_aspect_ratio: float = 3.0
    min_motion: float = 1.0
    min_clip_motion: float | None = None  # also remove single clips under this motion; null: judge whole videos only


@dataclass(kw_only=True)
class DedupConfig:
    """Dedup across the whole input (a signature pass before shards are written)."""

    enabled: bool = True
    exact: bool = True                   # identical decoded pixels (catches re-encodes of the same image)
    phash_max_distance: int | None = 4   # perceptual near-duplicates within this many of 64 bits; null: off
    video_phash_max_distance: int | None = 8  # videos: mean bits apart of frame pHashes at 0.5 s, 1.5 s, ...; null: off
    minhash_threshold: float | None = None  # caption near-duplicates at this estimated Jaccard; null: off
    keep: Literal["first", "area", "clip_score"] = "first"  # survivor: lowest sample_id, largest image, best CLIP score
    semantic_eps: float | None = None    # SemDeDup on CLIP image embeddings: duplicates at cosine >= 1 - eps; null: off
    semantic_clusters: int = 1000        # k-means clusters (fewer on small inputs: at least 40 points each)
    merge_captions: bool = False  # same image (exact/pHash), other captions: the kept row lists them all in `captions`


@dataclass(kw_only=True)
class ClipConfig:
    """CLIP score (open_clip). No arch/checkpoint: the bundled tiny CLIP trained on generated scenes."""

    enabled: bool = True
    arch: str | None = None            # e.g. ViT-B-32, ViT-SO400M-14-SigLIP
    checkpoint: str | None = None      # local .safetensors / .pt: nothing is downloaded
    model_config: str | None = None    # JSON for architectures open_clip does not ship
    tokenizer_path: str | None = None  # local HF tokenizer folder (SigLIP-style models)
    min_score: float | None = None     # drop images below this cosine (LAION used 0.28 with ViT-B/32); null: score only
    video_min_score: float | None = None  # same for the mean over a video's clips
    video_min_clip_score: float | None = None  # remove single video clips scoring below this; null: keep all
    write_embedding: bool = False      # keep float16 image embeddings (for embedding dedup)
    draft_gap: float | None = 2.0      # JPEG decoded at >= draft_gap x the model's input side; null: full size
    batch_size: int = 256
    num_gpus: float = 0.0
    num_cpus: float = 1.0


@dataclass(kw_only=True)
class OcrConfig:
    """Text in images (Tesseract through its C API, or PP-OCRv4), and T-MARS on top of it."""

    enabled: bool = False
    backend: Literal["tesseract", "rapidocr"] = "tesseract"
    max_text_area: float | None = None   # drop text-dominated images above this area fraction
    min_words: int | None = None         # keep only text-rich images (OCR-focused sets)
    tmars: bool = False                  # re-score CLIP with text boxes masked (needs clip enabled)
    tmars_min_masked_score: float | None = None


@dataclass(kw_only=True)
class FiltersConfig:
    clip: ClipConfig = field(default_factory=ClipConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)


@dataclass(kw_only=True)
class MixtureConfig:
    """Instructions, token counts under a target model, then (after shards) balance, loss weights, packs."""

    enabled: bool = True
    scheme: Literal["clip_336", "qwen2_vl", "qwen3_vl", "llava_onevision"] = "qwen2_vl"
    synthesize: bool = True                  # LLaVA-style instructions from offline templates
    llm_base_url: str | None = None          # an OpenAI-compatible endpoint instead of templates
    llm_model: str | None = None
    llm_api_key_env: str = "MMCURATE_LLM_API_KEY"
    video_token_cap: int = 16384             # a video's tokens above this: rejected (over_cap)
    total_tokens: int | None = None          # budget; null: the natural total
    modality_shares: dict[str, float] | None = None  # e.g. {image_text: 0.55, video: 0.25, instruction: 0.2}
    max_repeats: int = 4
    loss_weighting: Literal["sqrt", "token", "sample"] = "sqrt"
    context: int = 8192                      # pack length; longer samples are rejected (pack_v1:too_long)
    vq_tokenize: bool = False                # discrete image codes with the VQ-VAE (Chameleon-style)
    vq_checkpoint: str = ""                  # "" = the shipped small checkpoint; or a local .safetensors stem
    vq_num_gpus: float = 0.0                 # > 0: a GPU actor pool, bf16
    vq_max_frames_per_clip: int | None = 8   # video frames VQ-tokenized per clip, spread evenly; null: all
    text_tokenizer: str | None = None        # a local tokenizer.json for token records; null: the shipped caption BPE


@dataclass(kw_only=True)
class CaptionConfig:
    require: bool = True
    min_chars: int = 1
    max_chars: int = 4000
    strip_html: bool = True


@dataclass(kw_only=True)
class ShardConfig:
    formats: list[str] = field(default_factory=lambda: ["webdataset", "parquet", "arrow"])
    max_rows: int = 1000
    max_bytes: int = 512 * 1024**2


@dataclass(kw_only=True)
class RayConfig:
    address: str | None = None
    num_cpus: int | None = None
    object_store_memory: int | None = None


@dataclass(kw_only=True)
class JobConfig:
    inputs: list[InputConfig]
    output: str = "out"
    seed: int = 0
    download: DownloadConfig = field(default_factory=DownloadConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    video: VideoConfig = field(default_factory=VideoConfig)
    caption: CaptionConfig = field(default_factory=CaptionConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    filters: FiltersConfig = field(default_factory=FiltersConfig)
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    shards: ShardConfig = field(default_factory=ShardConfig)
    ray: RayConfig = field(default_factory=RayConfig)


# Keys that say where and how to run, not what to produce.
_EXECUTION_ONLY = ("output", "ray")


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _convert(args[0], value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
        key_type, value_type = typing.get_args(tp)
        return {_convert(key_type, k, where): _convert(value_type, v, f"{where}.{k}") for k, v in value.items()}
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key {'.'.join(filter(None, [where, unknown[0]]))!r}; "
                          f"known keys here: {sorted(names)}")
    kwargs = {k: _convert(hints[k], v, f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def config_from_dict(data: dict[str, Any]) -> JobConfig:
    return _build(JobConfig, data, "")


def load_config(path: str | Path, overrides: list[str] | None = None) -> JobConfig:
    from mmcurate.jobs.config_overrides import apply_overrides  # it raises our ConfigError: import here

    data = yaml.safe_load(Path(path).read_text()) or {}
    return config_from_dict(apply_overrides(data, overrides or []))


def config_hash(config: JobConfig) -> str:
    """Hash of the output-defining part of the config (inputs by resolved path)."""
    data = dataclasses.asdict(config)
    for key in _EXECUTION_ONLY:
        data.pop(key)
    for item in data["inputs"]:
        item["path"] = str(Path(item["path"]).resolve())
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
