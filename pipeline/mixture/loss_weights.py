"""Per-sample loss weights: square-root length normalisation or plain per-token averaging.

With plain token averaging a sample counts in proportion to its supervised tokens ``n``, so long
answers (detailed descriptions, dense OCR) dominate and short ones (captions, VQA) barely register;
with per-sample averaging a 3-token answer counts as much as a 3,000-token one. Square-root
reweighting sits between: it is InternVL's ``square`` loss reduction (InternVL2.5 report;
``internvl_chat_finetune.py::len2weight``) and the closest public formula for Qwen3-VL's
"square-root reweighting" (its report gives no formula). Exact formulas, for sample ``i`` with
``n_i`` supervised tokens (``tokens_supervised``), repeated ``k_i`` times by the balancer:

* ``token``:  ``w_i = 1`` — every supervised token counts the same.
* ``sqrt``:   ``w_i = c / sqrt(n_i)``; sample ``i`` then contributes ``w_i * n_i = c * sqrt(n_i)``.
* ``sample``: ``w_i = c / n_i`` — every sample counts the same.

``w_i`` is the *per-token* weight to put on each of the sample's supervised tokens (0 when ``n_i`` is
0). ``c`` normalises so the mean per-token weight over the dataset is 1::

    sum_i k_i * n_i * w_i = sum_i k_i * n_i    =>    c = sum_i k_i n_i / sum_i k_i n_i * raw_i

which keeps the loss scale (and the learning rate tuned for it) of plain token averaging. A trainer
then uses ``loss = sum_t w_t * CE_t / sum_t w_t`` within a batch, as InternVL does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pyarrow as pa

from mmcurate.schemas.mixture import LOSS_WEIGHT, REPEATS, TOKENS_SUPERVISED

if TYPE_CHECKING:
    import ray.data

__all__ = ["Mode", "raw_weights", "loss_weights", "add_loss_weights", "weight_sums", "weight_scale",
           "ray_add_loss_weights"]

Mode = Literal["sqrt", "token", "sample"]


def raw_weights(n: np.ndarray, mode: Mode) -> np.ndarray:
    """Un-normalised per-token weights (InternVL ``len2weight``); 0 where ``n`` is 0."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    pos = n > 0
    if mode == "token":
        out[pos] = 1.0
    elif mode == "sqrt":
        out[pos] = 1.0 / np.sqrt(n[pos])
    elif mode == "sample":
        out[pos] = 1.0 / n[pos]
    else:
        raise ValueError(f"mode must be 'sqrt', 'token' or 'sample', got {mode!r}")
    return out


def _sums(n: np.ndarray, k: np.ndarray, mode: Mode) -> tuple[float, float]:
    n = np.asarray(n, dtype=np.float64)
    return float((k * n).sum()), float((k * n * raw_weights(n, mode)).sum())


def weight_scale(tokens: float, weighted: float) -> float:
    """``c`` from the dataset's sums (0 when nothing is supervised)."""
    return tokens / weighted if weighted else 0.0


def loss_weights(n: np.ndarray, mode: Mode = "sqrt", repeats: np.ndarray | None = None) -> np.ndarray:
    """Normalised per-token weights for supervised-token counts ``n`` (see the module docstring)."""
    k = np.ones(len(n)) if repeats is None else np.asarray(repeats, dtype=np.float64)
    tokens, weighted = _sums(n, k, mode)
    return raw_weights(n, mode) * weight_scale(tokens, weighted)


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).fill_null(0).to_numpy().astype(np.float64)


def add_loss_weights(table: pa.Table, mode: Mode = "sqrt", scale: float | None = None) -> pa.Table:
    """``table`` plus ``loss_weight`` (float32) from ``tokens_supervised`` (and ``repeats`` if present).

    ``scale`` is ``c`` when it was computed elsewhere (over the whole dataset, by the Ray function).
    """
    n = _column(table, TOKENS_SUPERVISED)
    if scale is None:
        k = _column(table, REPEATS) if REPEATS in table.column_names else np.ones(len(n))
        tokens, weighted = _sums(n, k, mode)
        scale = weight_scale(tokens, weighted)
    w = raw_weights(n, mode) * scale
    return table.append_column(pa.field(LOSS_WEIGHT, pa.float32(), metadata={
        "doc": f"per-token loss weight ({mode}), mean 1 over the dataset's supervised tokens"}),
        pa.array(w, pa.float32()))


def weight_sums(batch: pa.Table, mode: Mode) -> tuple[float, float]:
    """``(sum k n, sum k n raw)`` of a part of the dataset: summed over the parts, they give ``c``."""
    n = _column(batch, TOKENS_SUPERVISED)
    k = _column(batch, REPEATS) if REPEATS in batch.column_names else np.ones(len(n))
    return _sums(n, k, mode)


def _partial_sums(batch: pa.Table, mode: Mode) -> pa.Table:
    tokens, weighted = weight_sums(batch, mode)
    return pa.table({"tokens": [tokens], "weighted": [weighted]})


def ray_add_loss_weights(ds: ray.data.Dataset, mode: Mode = "sqrt") -> tuple[ray.data.Dataset, float]:
    """Ray mode: one pass of per-block sums for ``c``, then a map adds ``loss_weight``; returns (ds, c)."""
    sums = ds.map_batches(_partial_sums, batch_format="pyarrow", batch_size=None, fn_kwargs={"mode": mode})
    parts = [b for b in sums.iter_batches(batch_format="pyarrow", batch_size=None)]
    tokens = sum(sum(b.column("tokens").to_pylist()) for b in parts)
    weighted = sum(sum(b.column("weighted").to_pylist()) for b in parts)
    scale = weight_scale(tokens, weighted)
    return ds.map_batches(add_loss_weights, batch_format="pyarrow", batch_size=None,
                          fn_kwargs={"mode": mode, "scale": scale}), scale
