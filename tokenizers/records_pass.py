"""``token_records``: interleaved text + VQ image/frame-code sequences of the accepted samples.

An output step: it runs over the committed accepted shards after a ``vq_tokenize`` step wrote the
codes, tokenizes captions with the target tokenizer, and writes ``tokens/`` shards with their manifest:
one token shard per accepted shard, built and written before the next is read.
Video frames come as VQ codes with their timestamps (``vq_clip_codes``), never the clips' JPEG bytes;
audio as ``tokens_audio`` placeholders per window (``count_tokens``), never the waveform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline import fs
from mmcurate.pipeline.mixture.accepted import accepted_shards
from mmcurate.pipeline.out_files import parquet_leaf_paths, parquet_schema, read_parquet
from mmcurate.pipeline.params import param
from mmcurate.pipeline.passes import OutputContext, OutputPass
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES

__all__ = ["TokenRecords", "read_record_columns"]


_AUDIO = ("audio_windows", "tokens_audio", "audio_probe")  # count_tokens' and audio_decode's columns


def _read(location: str, columns: list[str]) -> pa.Table:
    """``columns`` and the media items' kinds alone: the nested leaf, so no media bytes are read."""
    leaves = parquet_leaf_paths(location)
    kind = next(p for p in leaves if p.startswith(f"{S.MEDIA}.") and p.endswith(".kind"))
    return read_parquet(location, [*columns, kind])


def read_record_columns(location: str) -> pa.Table:
    """The columns token records are built from; a one-line ``KeyError`` naming the missing step when
    images or video have no VQ codes, or decoded audio has no token counts."""
    from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID

    names = set(parquet_schema(location).names)
    vq = [c for c in (VQ_CODES, VQ_GRID, VQ_CLIP_CODES) if c in names]
    columns = [S.SAMPLE_ID, S.CAPTION, *vq, *(c for c in (*_AUDIO, DOC_NODES) if c in names)]
    table = _read(location, columns)
    items = pc.list_flatten(table.column(S.MEDIA).combine_chunks())
    kinds = set(pc.unique(pc.struct_field(items, "kind")).to_pylist())
    if kinds & {"image", "video"} and len(vq) < 2:
        raise KeyError(f"the accepted shards have {sorted(kinds & {'image', 'video'})} items but no "
                       f"{[VQ_CODES, VQ_GRID]}: put a vq_tokenize step before token_records")
    if "audio_probe" in names and "tokens_audio" not in names:
        raise KeyError("the accepted shards have decoded audio but no tokens_audio: put a count_tokens step "
                       "before token_records")
    return table


@dataclass(kw_only=True)
class TokenRecords(OutputPass):
    """Token records (text ids, VQ image codes between image markers, audio placeholders per window) for
    early-fusion training."""

    name: ClassVar[str] = "token_records_v1"

    text_tokenizer: str | None = param(None, doc="a local tokenizer.json; null: the shipped caption BPE")
    vq_checkpoint: str = param("", doc="the VQ-VAE the codes came from; \"\": the shipped small checkpoint")

    def run(self, context: OutputContext) -> dict[str, Any]:
        from mmcurate.tokenizers.text import default_text_tokenizer, load_text_tokenizer
        from mmcurate.tokenizers.token_records import TokenLayout, token_records
        from mmcurate.tokenizers.token_shards import write_token_manifest, write_token_shard
        from mmcurate.tokenizers.vqvae.checkpoint import read_metadata, shipped_small

        shards = accepted_shards(context.out_dir)
        if not shards:
            return {"token_records": 0, "tokens": 0}
        tokenizer = load_text_tokenizer(self.text_tokenizer) if self.text_tokenizer else default_text_tokenizer()
        codebook = int(read_metadata(self.vq_checkpoint or shipped_small())["config"]["codebook_size"])
        layout = TokenLayout.from_tokenizer(tokenizer, codebook)
        out = fs.join(context.out_dir, "tokens")
        entries = []
        for index, location in enumerate(shards):  # one accepted shard's records in memory at a time
            samples = read_record_columns(location)
            records = token_records(samples.sort_by(S.SAMPLE_ID), tokenizer, layout)
            entries.append(write_token_shard(records, out, f"tokens-{index:05d}.parquet",
                                             source=fs.relative_to(location, context.out_dir)))
        manifest = write_token_manifest(out, layout.to_dict(), entries, extra={"config_hash": context.config_hash})
        return {"token_records": manifest["rows"], "tokens": manifest["totals"]["n_tokens"]}
