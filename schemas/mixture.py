"""The Arrow columns the mixture stages and set-level functions write, defined once.

These are stage-declared columns (merged into the sample schema through ``Stage.writes``), like the
video columns in :mod:`mmcurate.schemas.video`. Conversations are stored as JSON *text* in
typed string columns: a trainer's loader reads LLaVA JSON or OpenAI messages verbatim, and Arrow never
has to infer a nested type from a model's answer.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "OCR_TEXTS",
    "CLIPS",
    "INSTRUCT_LLAVA",
    "INSTRUCT_MESSAGES",
    "INSTRUCT_BACKEND",
    "TOKENS_TEXT",
    "TOKENS_SUPERVISED",
    "TOKENS_TOTAL",
    "MODALITY",
    "REPEATS",
    "LOSS_WEIGHT",
    "INSTRUCT_FIELDS",
    "TOKEN_FIELDS",
    "MODALITY_IMAGE_TEXT",
    "MODALITY_VIDEO",
    "MODALITY_AUDIO",
    "MODALITY_TEXT",
    "MODALITY_INSTRUCTION",
    "MODALITY_DOCUMENT",
]

# Columns other stages write that we read when present (optional inputs).
OCR_TEXTS = "ocr_v1_texts"  # list<string>, one text per media item (filters/ocr.py)
CLIPS = "clips"  # list<clip struct> with frame_ts, start_s, end_s (schemas/video.py)

INSTRUCT_LLAVA = "synthesize_v1_llava"
INSTRUCT_MESSAGES = "synthesize_v1_messages"
INSTRUCT_BACKEND = "synthesize_v1_backend"

TOKENS_TEXT = "tokens_text"
TOKENS_SUPERVISED = "tokens_supervised"
TOKENS_TOTAL = "tokens_total"
MODALITY = "modality"
REPEATS = "repeats"
LOSS_WEIGHT = "loss_weight"

MODALITY_IMAGE_TEXT = "image_text"
MODALITY_VIDEO = "video"
MODALITY_AUDIO = "audio"
MODALITY_TEXT = "text"
MODALITY_INSTRUCTION = "instruction"
MODALITY_DOCUMENT = "document"  # an interleaved web document (doc_tokens): text and images in reading order

INSTRUCT_FIELDS: tuple[pa.Field, ...] = (
    pa.field(INSTRUCT_LLAVA, pa.string(), metadata={
        "doc": "JSON array of LLaVA records {id, task, image|video, conversations:[{from: human|gpt, value}]}; "
               "'<image>' opens the first human turn once per media item"}),
    pa.field(INSTRUCT_MESSAGES, pa.string(), metadata={
        "doc": "JSON array of {task, messages:[{role: user|assistant, content}]} (OpenAI chat format); media "
               "are {'type': 'image'|'video'} content parts, as HF chat templates expect"}),
    pa.field(INSTRUCT_BACKEND, pa.string(), metadata={"doc": "'template' or 'llm:<model>'"}),
)

TOKEN_FIELDS: tuple[pa.Field, ...] = (
    pa.field(TOKENS_TEXT, pa.int64(), metadata={"doc": "text tokens (conversation or caption, chat-template overhead included)"}),
    pa.field(TOKENS_SUPERVISED, pa.int64(), metadata={"doc": "tokens with a loss: gpt turns, or the caption"}),
    pa.field(TOKENS_TOTAL, pa.int64(), metadata={
        "doc": "text + image + video + audio tokens: the packed length (a document's: all its context windows)"}),
    pa.field(MODALITY, pa.string(), metadata={"doc": "mixture group: image_text, video, audio, document, text or instruction"}),
)
