"""``token_records``: interleaved text + VQ image/frame-code sequences of the accepted samples.

An output step: it runs over the committed accepted shards after a ``vq_tokenize`` step wrote the
codes, tokenizes captions with the target tokenizer, and writes ``tokens/`` shards with their manifest.
Video frames come as VQ codes with their timestamps (``vq_clip_codes``), never the clips' JPEG bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow.dataset as pads

from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.schemas import sample as S

__all__ = ["TokenRecords"]


@dataclass(kw_only=True)
class TokenRecords(OutputPass):
    """Token records (text ids with VQ image codes between image markers) for Chameleon-style training."""

    name: ClassVar[str] = "token_records_v1"

    text_tokenizer: str | None = param(None, doc="a local tokenizer.json; null: the shipped caption BPE")
    vq_checkpoint: str = param("", doc="the VQ-VAE the codes came from; \"\": the shipped small checkpoint")

    def run(self, context: OutputContext) -> dict[str, Any]:
        from mmcurate.tokenizers.text import default_text_tokenizer, load_text_tokenizer
        from mmcurate.tokenizers.token_records import TokenLayout, token_records, write_token_shards
        from mmcurate.tokenizers.vqvae.checkpoint import read_metadata, shipped_small
        from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID

        shards = context.out_dir / "parquet"
        if not shards.exists() or not any(shards.glob("*.parquet")):
            return {"token_records": 0, "tokens": 0}
        tokenizer = load_text_tokenizer(self.text_tokenizer) if self.text_tokenizer else default_text_tokenizer()
        codebook = int(read_metadata(self.vq_checkpoint or shipped_small())["config"]["codebook_size"])
        layout = TokenLayout.from_tokenizer(tokenizer, codebook)
        columns = [S.SAMPLE_ID, S.CAPTION, VQ_CODES, VQ_GRID, VQ_CLIP_CODES]
        missing = [c for c in columns if c not in pads.dataset(shards, format="parquet").schema.names]
        if missing:
            raise KeyError(f"the accepted shards have no {missing}: put a vq_tokenize step before token_records")
        samples = pads.dataset(shards, format="parquet").to_table(columns=columns)
        records = token_records(samples.sort_by(S.SAMPLE_ID), tokenizer, layout)
        manifest = write_token_shards(records, context.out_dir / "tokens", layout,
                                      extra={"config_hash": context.config_hash})
        return {"token_records": manifest["rows"], "tokens": manifest["totals"]["n_tokens"]}
