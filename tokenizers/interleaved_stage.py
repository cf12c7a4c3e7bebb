"""The interleaved-token stage: per document, ids + modality spans + context windows (columns).

Text goes through the target LLM's ``tokenizer.json`` (default: the shipped caption BPE, for tests and
demos); images cost their exact placeholder count under ``scheme`` and are written as
``image_token_id`` repeated (the trainer's processor swaps in pixel features). A document whose image
cannot fit ``context`` is rejected ``image_exceeds_context`` with the token count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, document_rows
from mmcurate.tokenizers.interleaved import ImageTooLong, interleave, windows
from mmcurate.tokenizers.scheme import PatchScheme

__all__ = ["InterleavedTokens"]

SPAN_TYPE = pa.struct([pa.field("modality", pa.string()), pa.field("start", pa.int32()),
                       pa.field("length", pa.int32()), pa.field("node", pa.int32())])
WINDOW_TYPE = pa.struct([pa.field("start", pa.int32()), pa.field("end", pa.int32())])


@dataclass(kw_only=True)
class InterleavedTokens(RowStage):
    name: ClassVar[str] = "doc_tokens_v1"
    reads: ClassVar[tuple[str, ...]] = (DOC_NODES, S.MEDIA)
    row_columns: ClassVar[tuple[str, ...] | None] = (DOC_NODES, S.MEDIA)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field("doc_tokens_v1_ids", pa.list_(pa.int32()), metadata={"doc": "token ids in reading order"}),
        pa.field("doc_tokens_v1_spans", pa.list_(SPAN_TYPE), metadata={"doc": "one span per live node"}),
        pa.field("doc_tokens_v1_windows", pa.list_(WINDOW_TYPE), metadata={"doc": "context windows [start, end)"}),
        pa.field("doc_tokens_v1_text", pa.int32(), metadata={"doc": "text tokens"}),
        pa.field("doc_tokens_v1_image", pa.int32(), metadata={"doc": "image tokens"}),
    )

    scheme: str = param("qwen2_vl", doc="patch scheme for image token counts",
                        choices=("qwen2_vl", "qwen3_vl"))
    context: int = param(4096, doc="window length in tokens", ge=16)
    tokenizer_path: str | None = param(None, doc="tokenizer.json of the target LLM; None: shipped caption BPE")
    image_token_id: int = param(-1, doc="id written for each image placeholder token")

    def setup(self) -> None:
        from mmcurate.tokenizers.text import default_text_tokenizer, load_text_tokenizer

        self._tok = load_text_tokenizer(self.tokenizer_path) if self.tokenizer_path else default_text_tokenizer()

    def _image_tokens(self, height: int, width: int) -> int:
        from mmcurate.tokenizers.qwen_vl import qwen_image_plan

        return qwen_image_plan(height, width, PatchScheme(self.scheme)).tokens


    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        return document_rows(batch)
    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        self.ensure_setup()
        encode = lambda texts: [e.ids for e in self._tok.encode_batch(list(texts))]  # noqa: E731
        ids, spans = interleave(row[DOC_NODES], row[S.MEDIA], encode, self._image_tokens, self.image_token_id)
        try:
            wins = windows(spans, self.context)
        except ImageTooLong as exc:
            raise Reject("image_exceeds_context", str(exc)) from exc
        image = sum(s["length"] for s in spans if s["modality"] == "image")
        return {"doc_tokens_v1_ids": ids, "doc_tokens_v1_spans": spans,
                "doc_tokens_v1_windows": [{"start": a, "end": b} for a, b in wins],
                "doc_tokens_v1_text": len(ids) - image, "doc_tokens_v1_image": image}
