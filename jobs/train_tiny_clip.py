"""Train the bundled tiny CLIP on procedurally generated scenes (CPU, minutes).

No pretrained CLIP can be downloaded in our environments, yet the CLIP-score, T-MARS and dedup stages
need a model whose scores mean something in tests and demos. This job trains a ~3.8 M parameter
open_clip model (config ``filters/assets/tiny_clip.json``: 64 px ViT, 4 layers; 3-layer text tower
on open_clip's own BPE tokenizer, so no hub access) with the standard symmetric contrastive loss on
:mod:`mmcurate.pipeline.generate.shapes`. Scenes are drawn on the fly from step-derived seeds, so every step
sees fresh data and a rerun reproduces the same weights (up to CPU float non-determinism).
Held-out scenes use a disjoint seed range.

    .venv/bin/python jobs/train_tiny_clip.py --steps 600 --batch-size 128 --threads 2

Writes ``filters/assets/tiny_clip.safetensors`` (fp16) and prints held-out metrics.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mmcurate.filters.clip_model import TINY_CLIP_ARCH, TINY_CLIP_CONFIG, TINY_CLIP_WEIGHTS, load_clip
from mmcurate.pipeline.generate.shapes import WORDS, make_scene, scene_batch

__all__ = ["TrainConfig", "evaluate", "train"]

HELD_OUT_SEED = 1_000_000_000  # training seeds are step * batch + i, far below this


@dataclass(kw_only=True)
class TrainConfig:
    steps: int = 600
    batch_size: int = 128
    lr: float = 1e-3
    warmup: int = 40
    weight_decay: float = 0.05
    threads: int = 2
    seed: int = 0
    eval_every: int = 100
    word_fraction: float = 0.0  # share of each batch forced to printed-word scenes (reading is learnt last)
    init: str = ""  # start from these weights (a second, reading-focused phase) instead of random init
    out: Path = TINY_CLIP_WEIGHTS


def _pixels(scenes: list, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    # Same arithmetic as open_clip's eval transform for an image already at the model's size.
    arr = np.stack([np.asarray(s.image, dtype=np.uint8) for s in scenes])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - mean) / std


@torch.no_grad()
def evaluate(model: torch.nn.Module, tokenizer, n: int = 512, first_seed: int = HELD_OUT_SEED) -> dict[str, float]:
    """Held-out metrics: image->text top-1 among ``n`` captions, matched-beats-shuffled rate, score gap."""
    model.eval()
    mean, std = _norm(model)
    scenes = scene_batch(first_seed, n)
    img = F.normalize(model.encode_image(_pixels(scenes, mean, std)), dim=-1)
    txt = F.normalize(model.encode_text(tokenizer([s.caption for s in scenes])), dim=-1)
    sim = img @ txt.T
    matched = sim.diag()
    shuffled = sim[torch.arange(n), torch.roll(torch.arange(n), 1)]
    differs = torch.tensor([scenes[i].caption != scenes[(i + 1) % n].caption for i in range(n)])
    word_scenes = [make_scene(first_seed + 10 * n + i, kind="word") for i in range(min(n, 200))]
    w_img = F.normalize(model.encode_image(_pixels(word_scenes, mean, std)), dim=-1)
    w_txt = F.normalize(model.encode_text(tokenizer([f"the word {w}" for w in WORDS])), dim=-1)
    read = (w_img @ w_txt.T).argmax(dim=1)
    model.train()
    return {
        "word_read_acc": float(np.mean([WORDS[k] == s.word for k, s in zip(read.tolist(), word_scenes)])),
        "top1_i2t": (sim.argmax(dim=1) == torch.arange(n)).float().mean().item(),
        "matched_gt_mismatched": (matched > shuffled)[differs].float().mean().item(),
        "mean_matched": matched.mean().item(),
        "mean_mismatched": shuffled[differs].mean().item(),
    }


def _norm(model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.visual.preprocess_cfg
    return torch.tensor(cfg["mean"]).view(1, 3, 1, 1), torch.tensor(cfg["std"]).view(1, 3, 1, 1)


def train(cfg: TrainConfig) -> dict[str, float]:
    """Train from scratch and save fp16 safetensors to ``cfg.out``; returns the final held-out metrics."""
    from safetensors.torch import save_file

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_clip(TINY_CLIP_ARCH, checkpoint=cfg.init or None, model_config=TINY_CLIP_CONFIG)
    model.train()
    mean, std = _norm(model)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=cfg.lr
    )
    t0 = time.time()
    for step in range(cfg.steps):
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        first = cfg.seed * 10**8 + step * cfg.batch_size
        n_word = int(cfg.word_fraction * cfg.batch_size)
        scenes = [make_scene(first + i, kind="word") for i in range(n_word)]
        scenes += scene_batch(first + n_word, cfg.batch_size - n_word)
        img_f, txt_f, scale = model(_pixels(scenes, mean, std), tokenizer([s.caption for s in scenes]))[:3]
        logits = scale * img_f @ txt_f.T
        # Identical captions in one batch are true positives: target the caption's first occurrence set.
        caps = [s.caption for s in scenes]
        same = torch.tensor([[a == b for b in caps] for a in caps], dtype=torch.float32)
        target = same / same.sum(dim=1, keepdim=True)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            m = evaluate(model, tokenizer, n=256)
            print(f"step {step + 1} loss {loss.item():.3f} lr {lr:.2e} {time.time() - t0:.0f}s "
                  + " ".join(f"{k} {v:.3f}" for k, v in m.items()), flush=True)
    final = evaluate(model, tokenizer, n=512)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(cfg.out), metadata={"arch": TINY_CLIP_ARCH, "steps": str(cfg.steps)})
    print(f"saved {cfg.out} ({cfg.out.stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f}s; held-out (512): "
          + " ".join(f"{k} {v:.3f}" for k, v in final.items()), flush=True)
    return final


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(TrainConfig()).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    train(TrainConfig(**vars(p.parse_args(argv))))


if __name__ == "__main__":
    main()
