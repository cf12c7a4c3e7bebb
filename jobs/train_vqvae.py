"""``mmcurate train-vqvae``: train the VQ-VAE image tokenizer on curated shards with Ray Train.

Thin job: parse arguments into a :class:`~mmcurate.tokenizers.vqvae.train.TrainConfig`, start or join
Ray, call :func:`~mmcurate.tokenizers.vqvae.train.train`, print the held-out report. ``--builtin-data``
first writes the download-free training set (scikit-image photo crops + procedural scenes, held-out
photos apart) as curated-format Parquet shards and trains on those; it is how the shipped
``tokenizers/assets/vqvae_small`` checkpoint was made::

    mmcurate train-vqvae --builtin-data /tmp/vq_data --out tokenizers/assets/vqvae_small \\
        --codebook-size 512 --steps 3000 --threads 1 --fp16 --eval-every 500

On a GPU cluster: ``--shards s3-or-local-folder --workers 8 --gpu --address auto``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

__all__ = ["main", "build_parser"]

log = logging.getLogger("mmcurate.train_vqvae")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmcurate train-vqvae", description=__doc__.splitlines()[0])
    data = p.add_argument_group("data")
    data.add_argument("--shards", nargs="*", default=[], help="curated Parquet shards or folders")
    data.add_argument("--heldout", nargs="*", default=[], help="held-out shards (default: every 20th image)")
    data.add_argument("--builtin-data", metavar="DIR", help="write built-in train/heldout shards here and use them")
    data.add_argument("--builtin-train", type=int, default=1500, help="built-in training images")
    data.add_argument("--builtin-heldout", type=int, default=48, help="built-in held-out images")
    model = p.add_argument_group("model")
    model.add_argument("--resolution", type=int, default=128, help="tokenize-stage resolution saved in the config")
    model.add_argument("--downsample", type=int, choices=(8, 16), default=8)
    model.add_argument("--base-channels", type=int, default=16)
    model.add_argument("--channel-mult", default="1,2,4,4", help="comma list, one per level (len-1 = log2 f)")
    model.add_argument("--z-channels", type=int, default=64)
    model.add_argument("--codebook-size", type=int, default=8192)
    model.add_argument("--code-dim", type=int, default=8)
    run = p.add_argument_group("training")
    run.add_argument("--out", required=True, help="checkpoint stem: writes STEM.safetensors and STEM.json")
    run.add_argument("--steps", type=int, default=800)
    run.add_argument("--batch-size", type=int, default=32, help="per worker")
    run.add_argument("--crop", type=int, default=32)
    run.add_argument("--lr", type=float, default=2e-3)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--threads", type=int, default=1, help="torch threads (= CPUs) per worker")
    run.add_argument("--workers", type=int, default=1, help="Ray Train workers (one GPU each with --gpu)")
    run.add_argument("--gpu", action="store_true")
    run.add_argument("--eval-every", type=int, default=0)
    run.add_argument("--fp16", action="store_true", help="store the final weights in float16 (half the size)")
    run.add_argument("--address", help="Ray cluster address; default: start Ray locally")
    run.add_argument("--storage-path", help="Ray Train run folder (default: a temporary one)")
    run.add_argument("--no-ray", action="store_true", help="run the same loop in-process (debugging)")
    return p


def _builtin_shards(root: Path, n_train: int, n_heldout: int, seed: int) -> tuple[list[str], list[str]]:
    from mmcurate.tokenizers.vqvae.data import builtin_items, write_image_shards

    train_dir, held_dir = root / "train", root / "heldout"
    if not train_dir.exists():
        write_image_shards(train_dir, builtin_items("train", n_train, 96, seed), source="builtin_train")
    if not held_dir.exists():
        write_image_shards(held_dir, builtin_items("heldout", n_heldout, 128, seed), source="builtin_heldout")
    return [str(train_dir)], [str(held_dir)]


def main(argv: list[str] | None = None) -> int:
    from mmcurate.tokenizers.vqvae.config import VQConfig
    from mmcurate.tokenizers.vqvae.train import TrainConfig, train

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    started = time.time()
    shards, heldout = list(args.shards), list(args.heldout)
    if args.builtin_data:
        b_train, b_held = _builtin_shards(Path(args.builtin_data), args.builtin_train, args.builtin_heldout, args.seed)
        shards, heldout = shards + b_train, heldout or b_held
    if not shards:
        print("mmcurate train-vqvae: error: give --shards or --builtin-data", file=sys.stderr)
        return 2
    model = VQConfig(resolution=args.resolution, downsample=args.downsample, base_channels=args.base_channels,
                     channel_mult=tuple(int(m) for m in args.channel_mult.split(",")),
                     z_channels=args.z_channels, codebook_size=args.codebook_size, code_dim=args.code_dim)
    cfg = TrainConfig(model=model, shards=shards, heldout=heldout, out=Path(args.out), steps=args.steps,
                      batch_size=args.batch_size, crop=args.crop, lr=args.lr, seed=args.seed,
                      threads=args.threads, num_workers=args.workers, use_gpu=args.gpu,
                      eval_every=args.eval_every, storage_path=Path(args.storage_path) if args.storage_path else None,
                      metadata={"command": "mmcurate train-vqvae " + shlex.join(argv), "fp16": args.fp16})
    if not args.no_ray:
        from mmcurate.pipeline.ray_session import init_ray

        init_ray(address=args.address, num_cpus=None if args.address else max(os.cpu_count() or 1,
                                                                                args.workers * args.threads))
    metrics = train(cfg, use_ray=not args.no_ray)
    metrics["total_wall_s"] = time.time() - started
    print(json.dumps({"out": str(cfg.out), **metrics}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
