"""CLIP-score throughput: the ``clip_score_v1`` filter stage vs a bare open_clip loop, side by side.

The stage is timed end to end the way a pipeline runs it: an Arrow table of encoded JPEGs and captions
through :func:`mmcurate.pipeline.runner.run_stage` (bytes to PIL, open_clip's eval transform, tokenize,
both towers, cosines, the decision, the reject bookkeeping). The bare loop is what a person writes with
open_clip and nothing else, over the *same* images already decoded and preprocessed to a pixel tensor
outside the timed region: tokenize, ``encode_image``, ``encode_text``, normalise, dot. So the ratio
(stage / bare) charges the stage for everything it does beyond the model, decode and transform included.
A third column times the bare loop from decoded PIL images (preprocess inside), to show how much of the
gap is JPEG decode and the transform, which no CLIP filter avoids. The stage cuts caption tokens to the
longest caption of the batch (CLIP's causal text tower makes trailing padding inert), which plain
open_clip does not; a last line times the bare loop with that same cut, so "stage / bare trimmed" is the
stage's overhead alone at equal model work.

Runs alternate (stage, bare, stage, ...) and the best of ``--repeats`` is kept, so a shared machine
slows both sides alike. Models: the bundled tiny CLIP (64 px) and, with ``--vit``, open_clip's ViT-B-32
with random weights (``create_model('ViT-B-32', pretrained=None)``: same compute as the real one).

One torch thread by default: on a shared 2-core machine two OpenMP threads that lose their core spin at
barriers (the tiny model ran 6x slower with 2 threads than with 1 under load).

    .venv/bin/python bench/clip_score.py --n 64 --batch 32 --threads 1 --repeats 2 --vit
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import torch
from PIL import Image

from mmcurate.filters.clip_model import ClipEmbedder
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.filters.media import image_item
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table


def make_table(n: int, side: int) -> pa.Table:
    """``n`` generated scenes at ``side`` px as JPEG media rows (web images are JPEG, not raw pixels)."""
    rows = []
    for i in range(n):
        s = make_scene(7_000_000_000 + i, size=side)
        rows.append({S.SAMPLE_ID: f"b{i}", S.SOURCE: "bench", S.LOCATOR: str(i), S.UNIT_ID: "u", S.UNIT_INDEX: i,
                     S.UNIT_ROWS: n, S.STATUS: S.STATUS_OK, S.MEDIA: [image_item(s.image, "JPEG")],
                     S.CAPTION: s.caption})
    return to_table(rows, S.SAMPLE_SCHEMA)


def bare_loop(model: torch.nn.Module, tokenizer: Callable, pixels: torch.Tensor, captions: list[str],
              batch: int, encode_text: Callable | None = None) -> np.ndarray:
    """The plain open_clip recipe over preprocessed pixels: both towers, normalise, row-wise dot."""
    out = []
    encode_text = encode_text or model.encode_text
    with torch.inference_mode():
        for i in range(0, len(captions), batch):
            img = model.encode_image(pixels[i : i + batch])
            txt = encode_text(tokenizer(captions[i : i + batch]))
            img = img / img.norm(dim=-1, keepdim=True)
            txt = txt / txt.norm(dim=-1, keepdim=True)
            out.append((img * txt).sum(-1).numpy())
    return np.concatenate(out)


def bench_model(label: str, stage: ClipScoreFilter, table: pa.Table, batch: int, repeats: int) -> None:
    stage.ensure_setup()
    emb: ClipEmbedder = stage._embedder  # type: ignore[assignment]
    captions = table.column(S.CAPTION).to_pylist()
    pils = [Image.open(io.BytesIO(m[0]["bytes"])).convert("RGB") for m in table.column(S.MEDIA).to_pylist()]
    pixels = torch.stack([emb.transform(im) for im in pils])

    gap = stage.draft_gap

    def stage_run(draft_gap: float | None = gap) -> np.ndarray:
        stage.draft_gap = draft_gap
        return np.array(run_stage(stage, table).column("clip_score_v1_mean").to_pylist(), np.float32)

    def stage_full_run() -> np.ndarray:
        return stage_run(None)

    def bare_run() -> np.ndarray:
        return bare_loop(emb.model, emb.tokenizer, pixels, captions, batch)

    def bare_pil_run() -> np.ndarray:
        return bare_loop(emb.model, emb.tokenizer, torch.stack([emb.transform(im) for im in pils]), captions, batch)

    def bare_trim_run() -> np.ndarray:  # same model work as the stage: captions cut to their longest length
        return bare_loop(emb.model, emb.tokenize, pixels, captions, batch, emb._encode_text)

    runs = {"stage": stage_run, "stage full decode": stage_full_run, "bare": bare_run, "bare+preprocess": bare_pil_run, "bare trimmed": bare_trim_run}
    best = {k: float("inf") for k in runs}
    results: dict[str, np.ndarray] = {}
    for k, fn in runs.items():  # warm-up: first-call allocations, lazy imports
        results[k] = fn()
    for _ in range(repeats):
        for k, fn in runs.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    n = table.num_rows
    rate = {k: n / v for k, v in best.items()}
    diff = float(np.abs(results["stage"] - results["bare"]).max())
    diff_full = float(np.abs(results["stage full decode"] - results["bare"]).max())
    print(f"{label:24s} stage {rate['stage']:8.1f} img/s | bare open_clip {rate['bare']:8.1f} img/s | "
          f"bare+preprocess {rate['bare+preprocess']:8.1f} img/s | ratio stage/bare {rate['stage'] / rate['bare']:.2f}"
          f" | max |score diff| {diff:.1e}", flush=True)
    print(f"{'':24s} stage with full-size decode (draft_gap=None) {rate['stage full decode']:8.1f} img/s | ratio "
          f"{rate['stage full decode'] / rate['bare']:.2f} | max |score diff| {diff_full:.1e} (draft_gap={gap})",
          flush=True)
    print(f"{'':24s} bare with trimmed text tokens {rate['bare trimmed']:8.1f} img/s | "
          f"ratio stage/bare-trimmed {rate['stage'] / rate['bare trimmed']:.2f} (the stage's overhead alone)", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256, help="images per run")
    p.add_argument("--batch", type=int, default=64, help="stage batch_size and bare-loop batch")
    p.add_argument("--side", type=int, default=256, help="source image side, px")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (both sides)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--vit", action="store_true", help="also ViT-B-32 with random weights")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    table = make_table(args.n, args.side)
    print(f"{args.n} JPEG images at {args.side}px, batch {args.batch}, {args.threads} torch threads, "
          f"best of {args.repeats}", flush=True)
    bench_model("tiny_clip (bundled)", ClipScoreFilter(batch_size=args.batch, device="cpu"), table, args.batch,
                args.repeats)
    if args.vit:
        import open_clip

        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
        stage = ClipScoreFilter(batch_size=args.batch, arch="ViT-B-32", model_config=None, device="cpu")
        stage._embedder = ClipEmbedder(model, open_clip.get_tokenizer("ViT-B-32"), "cpu", args.batch)
        stage._ready = True  # random weights, no checkpoint file: the same compute as the real model
        bench_model("ViT-B-32 (random init)", stage, table, args.batch, args.repeats)


if __name__ == "__main__":
    main()
