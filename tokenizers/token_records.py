"""Token records: one interleaved mixed-modal token sequence per sample, written as Parquet shards.

Early-fusion models (Chameleon, §4.1/§5.2 of the tokenization refs) train on one id space: text ids
from the LLM tokenizer, image code ids shifted past the text vocabulary, and marker tokens around each
image. This module builds that sequence from a sample's caption, its ``vq_codes`` and its
``vq_clip_codes`` (both written by :class:`~mmcurate.tokenizers.vqvae.stage.VQTokenize`), records which
positions belong to which modality, and writes shards any Arrow reader can load (``pyarrow`` alone, no
mmcurate) plus a JSON manifest.

Sequence of a sample (``image_first=True``, the captioning order; ``False`` puts the text first)::

    media items in media order, then text ids, then <|endoftext|>
    image item:  <|image_start|> c_0+off ... c_{hw-1}+off <|image_end|>
    video item:  per clip, in clip order:
                 <|video_start|> [timestamp ids, <|image_start|> codes+off <|image_end|>] per frame <|video_end|>
    audio item:  per window (``audio_windows``), in window order, else the whole recording:
                 <|audio_bos|> <|AUDIO|> x tokens_audio <|audio_eos|>

Audio reaches an omni model as a waveform its audio encoder embeds; the LLM sequence holds
``tokens_audio`` placeholder positions for it (Qwen2.5-Omni's ``<|AUDIO|>``), counted trainer-exact by
``count_tokens`` per window, so a record's length is the length the trainer sees. A soundtrack's windows
follow its video's clips. Audio markers the tokenizer lacks are appended after the image codes, so the ids
of text, image markers and codes stay those of ``token_record/v2``.

``off = TokenLayout.image_offset``. A frame's timestamp is plain text, Qwen3-VL style (``<0.5 seconds>``,
seconds on the video's timeline, rendered by :func:`~mmcurate.tokenizers.qwen_vl_video.qwen_timestamp_text`)
encoded with the text tokenizer, so its ids are ordinary text ids. Markers come from the text tokenizer
when it has them (the shipped caption BPE does); a target tokenizer without them gets them appended right
after its vocabulary, and the image codes follow those. The layout is stored in the manifest so ids can
be mapped back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mmcurate.schemas import sample as S
from mmcurate.schemas.audio import AUDIO_PROBE
from mmcurate.schemas.document import DOC_NODES
from mmcurate.schemas.token_record import COUNTS, TOKEN_RECORD_SCHEMA
from mmcurate.tokenizers.audio_spans import AudioSpan, audio_spans
from mmcurate.tokenizers.qwen_vl_video import QWEN_TIMESTAMP_FORMAT, qwen_timestamp_text
from mmcurate.tokenizers.text import encode_texts
from mmcurate.tokenizers.token_count import AUDIO_WINDOWS, TOKENS_AUDIO
from mmcurate.tokenizers.token_shards import write_token_manifest, write_token_shard
from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["MARKERS", "AUDIO_MARKERS", "TokenLayout", "ClipCodes", "timestamp_encoder", "build_record",
           "token_records", "write_token_shards"]

# Appended in this order to a tokenizer that lacks them: the v1 markers keep their ids.
MARKERS = {"eos": "<|endoftext|>", "image_start": "<|image_start|>", "image_end": "<|image_end|>",
           "video_start": "<|video_start|>", "video_end": "<|video_end|>"}
# Qwen-Omni's names; ids the tokenizer lacks go after the image codes (see TokenLayout.audio_offset).
AUDIO_MARKERS = {"audio_start": "<|audio_bos|>", "audio_end": "<|audio_eos|>", "audio_pad": "<|AUDIO|>"}


@dataclass(frozen=True)
class TokenLayout:
    """How text ids, markers and image codes share one vocabulary."""

    text_vocab_size: int
    codebook_size: int
    image_offset: int
    special_ids: dict[str, int] = field(default_factory=dict)  # keys of MARKERS and AUDIO_MARKERS
    appended: tuple[str, ...] = ()  # markers the text tokenizer lacked, appended after its vocabulary
    appended_after_codes: tuple[str, ...] = ()  # audio markers it lacked, appended after the image codes

    @property
    def audio_offset(self) -> int:
        """The first id after the image codes."""
        return self.image_offset + self.codebook_size

    @property
    def vocab_size(self) -> int:
        return self.audio_offset + len(self.appended_after_codes)

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer, codebook_size: int) -> TokenLayout:
        text_vocab = tokenizer.get_vocab_size(with_added_tokens=True)
        ids: dict[str, int] = {}
        appended: list[str] = []
        for key, token in MARKERS.items():
            tid = tokenizer.token_to_id(token)
            if tid is None:
                tid = text_vocab + len(appended)
                appended.append(token)
            ids[key] = tid
        image_offset = text_vocab + len(appended)
        after_codes: list[str] = []
        for key, token in AUDIO_MARKERS.items():
            tid = tokenizer.token_to_id(token)
            if tid is None:
                tid = image_offset + codebook_size + len(after_codes)
                after_codes.append(token)
            ids[key] = tid
        return cls(text_vocab, codebook_size, image_offset, ids, tuple(appended), tuple(after_codes))

    def to_dict(self) -> dict[str, Any]:
        # The timestamp format lets a reader tell what a 'timestamp' span's text ids decode to.
        return {**asdict(self), "appended": list(self.appended),
                "appended_after_codes": list(self.appended_after_codes), "vocab_size": self.vocab_size,
                "timestamp_format": QWEN_TIMESTAMP_FORMAT}


@dataclass(frozen=True)
class ClipCodes:
    """The tokenized frames of one video clip (one ``vq_clip_codes`` entry)."""

    media_index: int | None
    clip_index: int
    frame_ts: Sequence[float]
    codes: Sequence[Sequence[int] | None]  # None: the frame did not decode (the row is then rejected)
    grid_h: int
    grid_w: int

    @classmethod
    def from_row(cls, entry: dict[str, Any]) -> ClipCodes:
        grid = entry["grid"] or {"h": 0, "w": 0}
        return cls(entry["media_index"], entry["clip_index"], entry["frame_ts"] or [], entry["codes"] or [],
                   grid["h"], grid["w"])


def timestamp_encoder(tokenizer: Tokenizer) -> Callable[[float], list[int]]:
    """Text ids of a frame's rendered timestamp, cached: the same few strings recur across samples."""
    cache: dict[str, list[int]] = {}

    def encode(seconds: float) -> list[int]:
        text = qwen_timestamp_text(seconds)
        if text not in cache:
            cache[text] = list(tokenizer.encode(text, add_special_tokens=False).ids)
        return cache[text]

    return encode


def build_record(sample_id: str, text_ids: Sequence[int], images: Sequence[tuple[Sequence[int], int, int, int]],
                 layout: TokenLayout, image_first: bool = True, clips: Sequence[ClipCodes] = (),
                 timestamp_ids: Callable[[float], Sequence[int]] | None = None,
                 audio: Sequence[AudioSpan] = ()) -> dict[str, Any]:
    """One record; ``images`` are ``(codes, grid_h, grid_w, media_index)``, ``clips`` in clip order,
    ``timestamp_ids`` (see :func:`timestamp_encoder`) gives a frame time's text ids (needed with clips), and
    ``audio`` the windows in time order (after the video item they belong to, when they share its index)."""
    if clips and timestamp_ids is None:
        raise ValueError(f"{sample_id}: video clips need timestamp_ids")
    ids: list[int] = []
    spans: list[dict[str, Any]] = []
    grids: list[dict[str, int]] = []
    sp = layout.special_ids
    counts = dict.fromkeys(COUNTS[1:], 0)

    def mark(key: str) -> None:
        ids.append(sp[key])
        counts["n_special"] += 1

    def span(modality: str, values: Sequence[int], media_index: int | None = None, clip_index: int | None = None,
             timestamp: float | None = None, end: float | None = None) -> None:
        spans.append({"modality": modality, "start": len(ids), "length": len(values), "media_index": media_index,
                      "clip_index": clip_index, "timestamp": timestamp, "end": end})
        ids.extend(int(v) for v in values)

    def codes_span(modality: str, codes: Sequence[int] | None, h: int, w: int, media_index: int | None,
                   clip_index: int | None = None, timestamp: float | None = None) -> None:
        if codes is None or len(codes) != h * w:
            where = f"media[{media_index}]" + ("" if clip_index is None else f" clip {clip_index} at {timestamp} s")
            raise ValueError(f"{sample_id}: {where} has {len(codes or [])} codes for a {h}x{w} grid")
        mark("image_start")
        span(modality, [layout.image_offset + int(c) for c in codes], media_index, clip_index, timestamp)
        mark("image_end")
        grids.append({"h": h, "w": w})
        counts["n_video" if modality == "video_frame" else "n_image"] += len(codes)

    def add_clip(clip: ClipCodes) -> None:
        if len(clip.frame_ts) != len(clip.codes):
            raise ValueError(f"{sample_id}: clip {clip.clip_index} has {len(clip.codes)} frames, "
                             f"{len(clip.frame_ts)} timestamps")
        mark("video_start")
        for t, codes in zip(clip.frame_ts, clip.codes):
            stamp = timestamp_ids(t)  # type: ignore[misc]  # checked above
            span("timestamp", stamp, clip.media_index, clip.clip_index, t)
            counts["n_timestamp"] += len(stamp)
            codes_span("video_frame", codes, clip.grid_h, clip.grid_w, clip.media_index, clip.clip_index, t)
        mark("video_end")

    def add_audio(window: AudioSpan) -> None:
        if window.tokens < 1:
            raise ValueError(f"{sample_id}: audio window {window.start_s}-{window.end_s} s has {window.tokens} tokens")
        mark("audio_start")
        span("audio", [sp["audio_pad"]] * window.tokens, window.media_index, None, window.start_s, window.end_s)
        counts["n_audio"] += window.tokens
        mark("audio_end")

    def add_media() -> None:
        # Media order (stable: clips keep clip order, then a soundtrack's windows); no media index goes last.
        Item = tuple[Sequence[int], int, int, int] | ClipCodes | AudioSpan
        items: list[tuple[int, Item]] = [(i[3], i) for i in images]
        items += [(sys.maxsize if c.media_index is None else c.media_index, c) for c in clips]
        items += [(sys.maxsize if a.media_index is None else a.media_index, a) for a in audio]
        for _, item in sorted(items, key=lambda kv: kv[0]):
            if isinstance(item, ClipCodes):
                add_clip(item)
            elif isinstance(item, AudioSpan):
                add_audio(item)
            else:
                codes, h, w, media_index = item
                codes_span("image", codes, h, w, media_index)

    def add_text() -> None:
        if text_ids:
            span("text", text_ids)
            counts["n_text"] += len(text_ids)

    for part in ((add_media, add_text) if image_first else (add_text, add_media)):
        part()
    mark("eos")
    return {"sample_id": sample_id, "input_ids": ids, "spans": spans, "image_grids": grids, "n_tokens": len(ids),
            **counts}


def token_records(table: pa.Table, tokenizer: Tokenizer, layout: TokenLayout, image_first: bool = True) -> pa.Table:
    """Token records of the ``ok`` rows of a sample table: VQ codes of images and video clips
    (``VQTokenize``), audio placeholders per window (``CountTokens``), the caption's text ids; a document
    (``doc_nodes``) as its text and image codes in reading order (:mod:`.document_records`).

    ``media`` may hold only each item's ``kind`` (what the audio needs), so the bytes need not be read."""
    from mmcurate.tokenizers.document_records import document_record

    rows = table.select([c for c in (S.SAMPLE_ID, S.CAPTION, S.STATUS, S.MEDIA, VQ_CODES, VQ_GRID, VQ_CLIP_CODES,
                                     AUDIO_WINDOWS, TOKENS_AUDIO, AUDIO_PROBE, DOC_NODES)
                         if c in table.column_names]).to_pylist()
    rows = [r for r in rows if r.get(S.STATUS, S.STATUS_OK) == S.STATUS_OK]
    texts = encode_texts(tokenizer, [r.get(S.CAPTION) for r in rows])
    stamps = timestamp_encoder(tokenizer)
    out = []
    for row, text_ids in zip(rows, texts):
        if row.get(DOC_NODES) is not None:
            out.append(document_record(row, tokenizer, layout))
            continue
        images = [(codes, g["h"], g["w"], i) for i, (codes, g) in
                  enumerate(zip(row.get(VQ_CODES) or [], row.get(VQ_GRID) or [])) if codes is not None]
        clips = [ClipCodes.from_row(c) for c in row.get(VQ_CLIP_CODES) or [] if c is not None]
        out.append(build_record(row[S.SAMPLE_ID], text_ids, images, layout, image_first, clips, stamps,
                                audio_spans(row)))
    return pa.Table.from_pylist(out, schema=TOKEN_RECORD_SCHEMA)


def write_token_shards(records: pa.Table, out_dir: str | Path, layout: TokenLayout, rows_per_shard: int = 10_000,
                       prefix: str = "tokens", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``records`` as ``<prefix>-NNNNN.parquet`` shards and ``manifest.json``; returns the manifest."""
    out = str(out_dir)
    shards = [write_token_shard(records.slice(start, rows_per_shard), out, f"{prefix}-{n:05d}.parquet")
              for n, start in enumerate(range(0, max(records.num_rows, 1), rows_per_shard))]
    return write_token_manifest(out, layout.to_dict(), shards, extra)
