"""The mixture step of a job: from curated samples to packed training sequences.

Per sample (stages in the main pass, so the columns land in the shards): LLaVA-style instructions
(``synthesize_v1``, offline templates or an OpenAI-compatible endpoint) and token counts per modality
under the target model (``mixture_tokens_v1``). Then, over the committed accepted shards (set-level):
the budget balancer's hash-seeded repeat counts, per-sample loss weights (√-length by default), and
first-fit-decreasing packing into the context length, written to ``mixture/`` with a report; with VQ
tokens on, the interleaved text + image/video-frame-code token records go to ``tokens/``. The
set-level part reads only slim columns (id, modality, source, token counts: ~50 MB per million rows)
and runs in the driver with the same library functions Ray would call.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from mmcurate.jobs.config import MixtureConfig
from mmcurate.pipeline.atomic import atomic_write
from mmcurate.pipeline.mixture.budget import BudgetConfig, balance, budget_rows
from mmcurate.pipeline.mixture.loss_weights import add_loss_weights
from mmcurate.pipeline.mixture.pack_shards import write_pack_shards
from mmcurate.pipeline.mixture.packing import pack_table
from mmcurate.pipeline.stage import Stage
from mmcurate.pipeline.synthesis.chat_client import ChatConfig
from mmcurate.pipeline.synthesis.synthesize import SynthesizeInstructions
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import MODALITY, REPEATS, TOKENS_SUPERVISED, TOKENS_TOTAL
from mmcurate.tokenizers.scheme import PatchScheme
from mmcurate.tokenizers.token_count import CountTokens
from mmcurate.tokenizers.vqvae.stage import VQTokenize

__all__ = ["mixture_stages", "run_mixture"]


def mixture_stages(m: MixtureConfig) -> list[Stage]:
    if not m.enabled:
        return []
    stages: list[Stage] = []
    if m.synthesize:
        llm = (ChatConfig(base_url=m.llm_base_url, model=m.llm_model or "default", api_key_env=m.llm_api_key_env)
               if m.llm_base_url else None)
        stages.append(SynthesizeInstructions(llm=llm))
    stages.append(CountTokens(scheme=PatchScheme(m.scheme), caps={"video": m.video_token_cap}))
    if m.vq_tokenize:
        stages.append(VQTokenize(checkpoint=m.vq_checkpoint, num_gpus=m.vq_num_gpus,
                                 max_frames_per_clip=m.vq_max_frames_per_clip))
    return stages


def _slim_rows(out_dir: Path) -> pa.Table:
    columns = [S.SAMPLE_ID, S.SOURCE, MODALITY, TOKENS_TOTAL, TOKENS_SUPERVISED]
    return pads.dataset(out_dir / "parquet", format="parquet").to_table(columns=columns)


def _budget(m: MixtureConfig, rows: pa.Table) -> BudgetConfig:
    total = m.total_tokens or int(pc.sum(rows.column(TOKENS_TOTAL)).as_py() or 0)
    shares = m.modality_shares
    if not shares:  # no target: keep the natural mixture, so repeats are all 1
        sums = rows.group_by(MODALITY).aggregate([(TOKENS_TOTAL, "sum")]).to_pylist()
        natural = sum(r[f"{TOKENS_TOTAL}_sum"] or 0 for r in sums)
        shares = {r[MODALITY]: (r[f"{TOKENS_TOTAL}_sum"] or 0) / max(natural, 1) for r in sums}
    return BudgetConfig(total_tokens=max(total, 1), modality_shares=shares, max_repeats=m.max_repeats)


def write_token_records(m: MixtureConfig, out_dir: Path, config_hash: str) -> dict[str, Any]:
    """Interleaved text + image/frame-code sequences of the accepted samples, as ``tokens/`` shards."""
    from mmcurate.tokenizers.text import default_text_tokenizer, load_text_tokenizer
    from mmcurate.tokenizers.token_records import TokenLayout, token_records, write_token_shards
    from mmcurate.tokenizers.vqvae.checkpoint import read_metadata, shipped_small
    from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID

    tokenizer = load_text_tokenizer(m.text_tokenizer) if m.text_tokenizer else default_text_tokenizer()
    codebook = int(read_metadata(m.vq_checkpoint or shipped_small())["config"]["codebook_size"])
    layout = TokenLayout.from_tokenizer(tokenizer, codebook)
    # Video frames come as VQ codes with their timestamps (vq_clip_codes), never the clips' JPEG bytes.
    samples = pads.dataset(out_dir / "parquet", format="parquet").to_table(
        columns=[S.SAMPLE_ID, S.CAPTION, VQ_CODES, VQ_GRID, VQ_CLIP_CODES])
    records = token_records(samples.sort_by(S.SAMPLE_ID), tokenizer, layout)
    manifest = write_token_shards(records, out_dir / "tokens", layout, extra={"config_hash": config_hash})
    return {"token_records": manifest["rows"], "tokens": manifest["totals"]["n_tokens"]}


def run_mixture(m: MixtureConfig, out_dir: str | Path, config_hash: str) -> dict[str, Any]:
    """Balance, weight and pack the accepted samples of ``out_dir``; writes ``out_dir/mixture/``."""
    out = Path(out_dir)
    rows = _slim_rows(out)
    if rows.num_rows == 0:
        return {"samples": 0}
    balanced, report = balance(budget_rows(rows), _budget(m, rows))
    weighted = balanced.join(rows.select([S.SAMPLE_ID, TOKENS_SUPERVISED]), S.SAMPLE_ID).sort_by(S.SAMPLE_ID)
    weighted = add_loss_weights(weighted, mode=m.loss_weighting)
    packed = pack_table(weighted.filter(pc.greater(weighted.column(REPEATS), 0)), m.context)
    summary = write_pack_shards(packed, out / "mixture", config_hash=config_hash)
    body = json.dumps({"budget": report.to_pylist(), "packing": summary}, indent=2, sort_keys=True, default=str)
    atomic_write(out / "mixture" / "report.json", lambda fh: fh.write(body.encode() + b"\n"))
    result = {"samples": rows.num_rows, **{k: summary[k] for k in summary if k in ("packs", "efficiency", "rejected")}}
    if m.vq_tokenize:
        result |= write_token_records(m, out, config_hash)
    return result
