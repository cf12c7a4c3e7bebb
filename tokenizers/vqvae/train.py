"""Training a VQ-VAE on curated shards with Ray Train (one GPU, many GPUs, or CPU workers).

:func:`train` builds a ``ray.train.torch.TorchTrainer`` whose workers each run :func:`fit_worker`: read
their share of the shards' images into memory (every ``world``-th image), draw random crops and flips,
and optimise ``MSE(x, x̂) + codebook + β·commitment`` with Adam, bf16 autocast on GPU, DDP via
``prepare_model``. At every evaluation point rank 0 scores the held-out images (PSNR, SSIM, codebook
usage, perplexity, see :mod:`.metrics`) and reports a checkpoint directory holding the model in
safetensors + JSON; the best-known final checkpoint is copied to ``out``. ``use_ray=False`` runs the
very same loop in-process (a debugging aid; the CLI and the shipped checkpoint use Ray Train).

Images stay in worker RAM (``store_resolution`` px, uint8): a tokenizer's training set for this project
is a few hundred thousand curated images at most per worker (≈ 7 GB at 96 px for 250k). Streaming via
``ray.train.get_dataset_shard`` is the step to take beyond that.

No perceptual or adversarial loss: both need pretrained weights we cannot download; reconstruction is
MSE only, so PSNR is the honest headline metric and textures come out soft.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from mmcurate.tokenizers.vqvae.checkpoint import load_checkpoint, save_checkpoint
from mmcurate.tokenizers.vqvae.config import VQConfig
from mmcurate.tokenizers.vqvae.data import read_shard_pixels
from mmcurate.tokenizers.vqvae.metrics import code_perplexity, codebook_usage, psnr, ssim
from mmcurate.tokenizers.vqvae.model import VQVAE

__all__ = ["TrainConfig", "evaluate", "fit_worker", "train"]

log = logging.getLogger(__name__)
CKPT_STEM = "vqvae"  # file stem inside every reported checkpoint directory


@dataclass(kw_only=True)
class TrainConfig:
    """Everything one training run needs; ``model`` is the architecture that gets saved."""

    model: VQConfig
    shards: list[str]
    heldout: list[str] = field(default_factory=list)  # held-out shards; empty: every 20th training image
    out: Path
    steps: int = 800
    batch_size: int = 32
    crop: int = 32  # training crop side (the net is fully convolutional; eval runs at eval_resolution)
    store_resolution: int = 96  # images are kept in RAM at this side and cropped from
    eval_resolution: int = 128
    max_heldout: int = 48
    lr: float = 2e-3
    warmup: int = 40
    seed: int = 0
    threads: int = 1
    num_workers: int = 1
    use_gpu: bool = False
    eval_every: int = 0  # 0: evaluate and checkpoint only at the end
    storage_path: Path | None = None  # Ray Train run folder; default: a temporary directory
    metadata: dict[str, Any] = field(default_factory=dict)  # copied into the checkpoint JSON

    def __post_init__(self) -> None:
        if self.crop % self.model.downsample or self.eval_resolution % self.model.downsample:
            raise ValueError(f"crop and eval_resolution must be multiples of {self.model.downsample}")
        if self.crop > self.store_resolution:
            raise ValueError("crop must not exceed store_resolution")
        self.out = Path(self.out)


def _to_input(pixels: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 ``(B, H, W, 3)`` to float ``(B, 3, H, W)`` in ``[-1, 1]``."""
    return pixels.to(device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


@torch.no_grad()
def evaluate(model: VQVAE, pixels: np.ndarray, batch_size: int = 16,
             device: torch.device | str = "cpu") -> dict[str, float]:
    """Held-out reconstruction and codebook metrics over uint8 ``(N, H, W, 3)`` images."""
    module = getattr(model, "module", model)
    was_training = module.training
    module.eval()
    p_all, s_all, codes = [], [], []
    device = torch.device(device)
    for start in range(0, len(pixels), batch_size):
        x = _to_input(torch.from_numpy(pixels[start:start + batch_size]), device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            rec, q = module(x)
        a, b = (x + 1) / 2, ((rec.float().clamp(-1, 1)) + 1) / 2
        p_all.append(psnr(a, b).cpu())
        s_all.append(ssim(a, b).cpu())
        codes.append(q.indices.flatten().cpu())
    module.train(was_training)
    idx = torch.cat(codes)
    k = module.cfg.codebook_size
    return {"psnr": float(torch.cat(p_all).mean()), "ssim": float(torch.cat(s_all).mean()),
            "usage": codebook_usage(idx, k), "perplexity": code_perplexity(idx, k),
            "heldout_images": float(len(pixels)), "heldout_tokens": float(idx.numel())}


def _lr(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))  # cosine to 10 %


def _batch(pool: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    n, side = pool.shape[0], pool.shape[1]
    idx = torch.randint(0, n, (cfg.batch_size,), generator=gen)
    ys = torch.randint(0, side - cfg.crop + 1, (cfg.batch_size,), generator=gen)
    xs = torch.randint(0, side - cfg.crop + 1, (cfg.batch_size,), generator=gen)
    flips = torch.rand(cfg.batch_size, generator=gen) < 0.5
    crops = [pool[i, y:y + cfg.crop, x:x + cfg.crop] for i, y, x in zip(idx.tolist(), ys.tolist(), xs.tolist())]
    out = torch.stack(crops)
    out[flips] = out[flips].flip(2)
    return out


def _heldout_pixels(cfg: TrainConfig) -> np.ndarray:
    if cfg.heldout:
        return read_shard_pixels(cfg.heldout, cfg.eval_resolution, limit=cfg.max_heldout)
    return read_shard_pixels(cfg.shards, cfg.eval_resolution, holdout_every=20, heldout=True, limit=cfg.max_heldout)


Report = Callable[[dict[str, float], Path | None], None]


def fit_worker(cfg: TrainConfig, rank: int, world: int, device: torch.device,
               wrap: Callable[[torch.nn.Module], torch.nn.Module], report: Report) -> dict[str, float]:
    """The training loop of one worker; ``wrap`` applies DDP, ``report`` hands metrics/checkpoints on."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    pool = torch.from_numpy(read_shard_pixels(cfg.shards, cfg.store_resolution, rank, world,
                                              holdout_every=0 if cfg.heldout else 20))
    if len(pool) == 0:
        raise ValueError(f"rank {rank}: no training images in {cfg.shards}")
    heldout = _heldout_pixels(cfg) if rank == 0 else None
    log.info("rank %d/%d: %d training images, device %s", rank, world, len(pool), device)
    model = VQVAE(cfg.model).to(device)
    net = wrap(model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + rank)
    use_bf16 = device.type == "cuda"
    start, metrics = time.time(), {}
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        x = _to_input(_batch(pool, cfg, gen), device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            rec, q = net(x)
        rec_loss = F.mse_loss(rec.float(), x)
        loss = rec_loss + q.codebook_loss + q.commit_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last = step == cfg.steps - 1
        if step % 50 == 0 or last:
            log.info("step %d loss %.4f rec %.4f commit %.4f restarts %d (%.0fs)", step, loss.item(),
                     rec_loss.item(), q.commit_loss.item(), int(model.quantizer.restarts), time.time() - start)
        if last or (cfg.eval_every and (step + 1) % cfg.eval_every == 0):
            metrics = {"step": float(step + 1), "train_rec_mse": rec_loss.item(), "wall_s": time.time() - start,
                       "restarts": float(model.quantizer.restarts)}
            if heldout is None:
                report(metrics, None)
                continue
            metrics.update(evaluate(model, heldout, device=device))
            with tempfile.TemporaryDirectory() as tmp:
                save_checkpoint(model, Path(tmp) / CKPT_STEM, {**cfg.metadata, "heldout": metrics})
                report(metrics, Path(tmp))
    return metrics


def _ray_loop(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    cfg: TrainConfig = config["cfg"]
    ctx = ray.train.get_context()

    def report(metrics: dict[str, float], ckpt_dir: Path | None) -> None:
        ckpt = ray.train.Checkpoint.from_directory(str(ckpt_dir)) if ckpt_dir else None
        ray.train.report(metrics, checkpoint=ckpt)

    fit_worker(cfg, ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device(),
               ray.train.torch.prepare_model, report)


def _copy_out(src_dir: Path, out: Path, metrics: dict[str, float], cfg: TrainConfig) -> None:
    model = load_checkpoint(src_dir / CKPT_STEM)
    save_checkpoint(model, out, {**cfg.metadata, "heldout": metrics},
                    dtype=torch.float16 if cfg.metadata.get("fp16") else torch.float32)


def train(cfg: TrainConfig, use_ray: bool = True) -> dict[str, float]:
    """Train, write ``cfg.out`` (``.safetensors`` + ``.json``), return the final held-out metrics."""
    if not use_ray:
        saved: dict[str, Any] = {}

        def report(metrics: dict[str, float], ckpt_dir: Path | None) -> None:
            if ckpt_dir is not None:
                _copy_out(ckpt_dir, cfg.out, metrics, cfg)
                saved.update(metrics)

        fit_worker(cfg, 0, 1, torch.device("cuda" if cfg.use_gpu else "cpu"), lambda m: m, report)
        return saved

    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    storage = Path(cfg.storage_path or tempfile.mkdtemp(prefix="vqvae-train-")).resolve()
    trainer = TorchTrainer(
        _ray_loop,
        train_loop_config={"cfg": dataclasses.replace(cfg)},
        scaling_config=ScalingConfig(num_workers=cfg.num_workers, use_gpu=cfg.use_gpu,
                                     resources_per_worker={"CPU": cfg.threads, **({"GPU": 1} if cfg.use_gpu else {})}),
        run_config=RunConfig(name=f"vqvae-{int(time.time())}", storage_path=str(storage)),
    )
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError(f"Ray Train finished without a checkpoint (error: {result.error})")
    metrics = {k: float(v) for k, v in result.metrics.items() if isinstance(v, (int, float))}
    with result.checkpoint.as_directory() as ckpt_dir:
        _copy_out(Path(ckpt_dir), cfg.out, metrics, cfg)
    return metrics
