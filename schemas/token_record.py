"""The token record: one training sequence per sample, as ``tokens/`` shards hold it (``token_record/v3``).

Written by :mod:`mmcurate.tokenizers.token_records` (captions, images, video clips, audio windows) and
:mod:`mmcurate.tokenizers.document_records` (interleaved documents); read by packing and by trainers
without mmcurate, so every field carries its documentation.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["TOKEN_RECORD_VERSION", "TOKEN_RECORD_SCHEMA", "SPAN_TYPE", "COUNTS"]

TOKEN_RECORD_VERSION = "token_record/v3"  # v2: video clips, n_video, n_timestamp; v3: audio spans, n_audio
# Per-record counts; the others add up to the first.
COUNTS = ("n_tokens", "n_text", "n_image", "n_video", "n_timestamp", "n_audio", "n_special")

SPAN_TYPE = pa.struct([
    pa.field("modality", pa.string(), metadata={"doc": "'text', 'image', 'video_frame', 'timestamp' or 'audio'"}),
    pa.field("start", pa.int32(), metadata={"doc": "first position in input_ids"}),
    pa.field("length", pa.int32(),
             metadata={"doc": "number of positions (image, video_frame: codes only; audio: placeholders only)"}),
    pa.field("media_index", pa.int32(), metadata={"doc": "index into the sample's media list; null for text"}),
    pa.field("clip_index", pa.int32(), metadata={"doc": "video_frame, timestamp: the clip's clip_index; else null"}),
    pa.field("timestamp", pa.float64(),
             metadata={"doc": "video_frame, timestamp: the frame's time; audio: the window's start; s on the "
                              "recording's timeline; else null"}),
    pa.field("end", pa.float64(), metadata={"doc": "audio: the window's end, s; else null"}),
])
TOKEN_RECORD_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False, metadata={"doc": "the sample's sample_id (sample/v1)"}),
    pa.field("input_ids", pa.list_(pa.int32()),
             metadata={"doc": "interleaved ids: text ids (caption, timestamps) < image_offset <= image and frame "
                              "code ids; markers and offsets in the manifest layout"}),
    pa.field("spans", pa.list_(SPAN_TYPE), metadata={"doc": "modality spans in sequence order"}),
    pa.field("image_grids", pa.list_(pa.struct([pa.field("h", pa.int32()), pa.field("w", pa.int32())])),
             metadata={"doc": "(h, w) code grid of each image and video_frame span, in span order"}),
    pa.field("n_tokens", pa.int32(), metadata={"doc": "len(input_ids) = n_text + n_image + n_video + n_timestamp "
                                                      "+ n_audio + n_special"}),
    pa.field("n_text", pa.int32(), metadata={"doc": "text-tokenizer ids of the caption"}),
    pa.field("n_image", pa.int32(), metadata={"doc": "image code ids (all images)"}),
    pa.field("n_video", pa.int32(), metadata={"doc": "video frame code ids (all tokenized frames of all clips)"}),
    pa.field("n_timestamp", pa.int32(), metadata={"doc": "text-tokenizer ids of the frame timestamps"}),
    pa.field("n_audio", pa.int32(), metadata={"doc": "audio placeholder positions (tokens_audio of all windows)"}),
    pa.field("n_special", pa.int32(),
             metadata={"doc": "marker tokens (image start/end around images and frames, video start/end, audio "
                              "start/end, end of text)"}),
], metadata={"mmcurate.schema": TOKEN_RECORD_VERSION})
