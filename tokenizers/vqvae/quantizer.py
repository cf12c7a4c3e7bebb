"""The vector quantiser: l2-normalised low-dimensional codes with dead-code restarts.

Why this recipe (tokenization refs §4.2, §4.6): a plain VQ-VAE codebook collapses to a few hundred
used entries. LlamaGen fixes most of it with two choices copied here — the encoder output is projected
to ``code_dim`` = 8 dimensions and both it and the codebook are l2-normalised, so the nearest neighbour
is a cosine argmax on a low-dimensional sphere where every code is reachable (97 % usage at 16,384).
Jukebox-style restarts catch the rest: a code whose EMA hit rate falls below ``dead_code_threshold``
times the uniform rate is moved onto a random encoder output of the current batch.

Loss (VQ-VAE, textbook form, not taming's legacy β placement):
``codebook = mean((sg[z] - e)^2)`` + ``β * mean((z - sg[e])^2)``, straight-through gradients to z.
Under DDP the hit counts are all-reduced and restarted rows are broadcast from rank 0, so every rank
keeps an identical codebook.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

__all__ = ["QuantizerOutput", "VectorQuantizer"]


@dataclass
class QuantizerOutput:
    """What one quantiser call returns (tensors; ``indices`` is ``(B, h, w)`` int64)."""

    z_q: torch.Tensor
    indices: torch.Tensor
    codebook_loss: torch.Tensor
    commit_loss: torch.Tensor


def _dist_ready() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class VectorQuantizer(nn.Module):
    """Nearest-code lookup for ``(B, code_dim, h, w)`` latents against a ``codebook_size`` table."""

    def __init__(self, codebook_size: int, code_dim: int, *, beta: float = 0.25, l2_norm: bool = True,
                 dead_code_threshold: float = 0.05, usage_decay: float = 0.99) -> None:
        super().__init__()
        self.codebook_size = codebook_size
        self.code_dim = code_dim
        self.beta = beta
        self.l2_norm = l2_norm
        self.dead_code_threshold = dead_code_threshold
        self.usage_decay = usage_decay
        self.embedding = nn.Embedding(codebook_size, code_dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / codebook_size, 1.0 / codebook_size)
        # EMA of hits per code per step; starts at 0 and is seeded with the uniform rate on the first step.
        self.register_buffer("usage", torch.zeros(codebook_size), persistent=True)
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long), persistent=True)

    def codebook(self) -> torch.Tensor:
        """The lookup table as used for search and decoding (normalised when ``l2_norm``)."""
        w = self.embedding.weight.float()
        return F.normalize(w, dim=1) if self.l2_norm else w

    def lookup(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row of ``flat`` (``(N, code_dim)``, already normalised)."""
        book = self.codebook()
        if self.l2_norm:  # unit vectors: nearest in l2 == largest dot product
            return torch.argmax(flat @ book.t(), dim=1)
        dist2 = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ book.t() + book.pow(2).sum(1)[None]
        return torch.argmin(dist2, dim=1)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        b, c, h, w = z.shape
        z = z.float()  # the search and the losses in fp32, also under bf16 autocast
        flat = z.permute(0, 2, 3, 1).reshape(-1, c)
        if self.l2_norm:
            flat = F.normalize(flat, dim=1)
        idx = self.lookup(flat)
        q = self.codebook()[idx]
        codebook_loss = F.mse_loss(q, flat.detach())
        commit_loss = self.beta * F.mse_loss(flat, q.detach())
        if self.training:
            self._track_and_restart(idx, flat.detach())
        q = flat + (q - flat).detach()  # straight-through estimator
        z_q = q.view(b, h, w, c).permute(0, 3, 1, 2).contiguous()
        return QuantizerOutput(z_q, idx.view(b, h, w), codebook_loss, commit_loss)

    @torch.no_grad()
    def _track_and_restart(self, idx: torch.Tensor, flat: torch.Tensor) -> None:
        counts = torch.bincount(idx, minlength=self.codebook_size).float()
        n = torch.tensor([float(idx.numel())], device=counts.device)
        if _dist_ready():
            dist.all_reduce(counts)
            dist.all_reduce(n)
        uniform = float(n.item()) / self.codebook_size
        if float(self.usage.sum()) == 0.0:
            self.usage.fill_(uniform)
        self.usage.mul_(self.usage_decay).add_(counts, alpha=1.0 - self.usage_decay)
        dead = self.usage < self.dead_code_threshold * uniform
        n_dead = int(dead.sum())
        if n_dead == 0:
            return
        # Random encoder outputs of this batch (with a little noise so two restarts never coincide).
        pick = torch.randint(0, flat.shape[0], (n_dead,), device=flat.device)
        fresh = flat[pick] + 0.01 * torch.randn(n_dead, flat.shape[1], device=flat.device)
        weight = self.embedding.weight
        weight.data[dead] = fresh.to(weight.dtype)
        if _dist_ready():
            dist.broadcast(weight.data, src=0)
        self.usage[dead] = uniform  # give a restarted code a full window before it can die again
        self.restarts += n_dead
