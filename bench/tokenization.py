"""Tokenization benchmark (not a test): patch-token counting vs transformers, and VQ encode images/s.

(a) Qwen2-VL patch-token counts from image sizes only (metadata, no pixels), one core:
    ``mmcurate.tokenizers.patch.image_token_count`` vs the baseline a trainer would call — the HF
    processor's own sizing helper ``transformers...qwen2_vl.image_processing_qwen2_vl.smart_resize`` plus
    the merge arithmetic (``h*w/14²/4 + 2`` wrapper tokens) — on the same random sizes, counts checked equal.
(b) ``VQTokenize.encode_pixels`` at 256² (preprocessed uint8 pixels, so decode/resize is excluded) with the
    shipped ``vqvae_small`` architecture: CPU fp32 (``--threads``) and, if available, CUDA bf16.

    .venv/bin/python bench/tokenize.py --n 200000 --vq-images 32 --threads 1
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib ``tokenize`` (which linecache/inspect import): drop the script's own
# folder from sys.path (kept as a guard; the file was renamed from tokenize.py, which shadowed it).
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


def bench_patch(n: int, seed: int = 0) -> None:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    from mmcurate.tokenizers.patch import PatchScheme, image_token_count

    rng = np.random.default_rng(seed)
    sizes = list(zip(rng.integers(28, 4096, n).tolist(), rng.integers(28, 4096, n).tolist()))
    min_px, max_px = 3136, 12845056  # Qwen2-VL hub preprocessor_config.json (see tokenizers/qwen_vl.py)

    def baseline(h: int, w: int) -> int:
        rh, rw = smart_resize(h, w, factor=28, min_pixels=min_px, max_pixels=max_px)
        return (rh // 14) * (rw // 14) // 4 + 2

    ours_fn = image_token_count
    scheme = PatchScheme.QWEN2_VL
    t = time.perf_counter()
    ours = [ours_fn(h, w, scheme) for h, w in sizes]
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ref = [baseline(h, w) for h, w in sizes]
    t_ref = time.perf_counter() - t
    mismatches = sum(a != b for a, b in zip(ours, ref))
    print(f"(a) patch-token count, {n:,} sizes, 1 core, Qwen2-VL")
    print(f"    mmcurate image_token_count   {n / t_ours:12,.0f} images/s")
    print(f"    transformers smart_resize    {n / t_ref:12,.0f} images/s")
    print(f"    ratio (ours / baseline)      {t_ref / t_ours:12.2f}x   mismatches: {mismatches}")


def bench_vq(images: int, threads: int, resolution: int = 256) -> None:
    import torch

    from mmcurate.tokenizers.vqvae.stage import VQTokenize

    pixels = np.random.default_rng(0).integers(0, 256, (images, resolution, resolution, 3), dtype=np.uint8)
    print(f"(b) VQ encode at {resolution}² (shipped vqvae_small architecture)")
    devices = [("cpu", 0.0)] + ([("cuda", 1.0)] if torch.cuda.is_available() else [])
    for device, gpus in devices:
        stage = VQTokenize(resolution=resolution, device=device, num_gpus=gpus, threads=threads,
                           encode_batch_size=min(images, 16 if device == "cpu" else 256))
        stage.ensure_setup()
        stage.encode_pixels(pixels[: min(4, images)])  # warm-up
        reps = 1 if device == "cpu" else 5
        t = time.perf_counter()
        for _ in range(reps):
            stage.encode_pixels(pixels)
        if device == "cuda":
            torch.cuda.synchronize()
        dt = (time.perf_counter() - t) / reps
        grid = resolution // stage._model.cfg.downsample
        print(f"    {device:4s} ({'bf16' if device == 'cuda' else f'fp32, {threads} thread(s)'})"
              f"  {images / dt:10,.1f} images/s  ({grid}x{grid} codes each)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200_000, help="image sizes for the patch-count benchmark")
    p.add_argument("--vq-images", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    bench_patch(args.n)
    bench_vq(args.vq_images, args.threads)


if __name__ == "__main__":
    main()
