"""Loss weights: the square-root formula, its normalisation, and the Ray path."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mmcurate.pipeline.mixture.loss_weights import add_loss_weights, loss_weights, ray_add_loss_weights


def test_sqrt_formula_and_mean_one() -> None:
    n = np.array([1, 4, 100, 0, 2500])
    w = loss_weights(n, "sqrt")
    c = n.sum() / (np.sqrt(n[n > 0])).sum()  # sum n / sum sqrt(n)
    np.testing.assert_allclose(w[n > 0], c / np.sqrt(n[n > 0]))
    assert w[3] == 0
    assert (w * n).sum() / n.sum() == pytest.approx(1.0)  # mean per-token weight is 1
    contrib = w * n  # each sample counts in proportion to sqrt(n)
    np.testing.assert_allclose(contrib[n > 0] / np.sqrt(n[n > 0]), c)


def test_token_and_sample_modes_and_repeats() -> None:
    n = np.array([10, 20, 30])
    np.testing.assert_allclose(loss_weights(n, "token"), 1.0)
    ws = loss_weights(n, "sample")
    np.testing.assert_allclose(ws * n, (ws * n)[0])  # equal per-sample contribution
    k = np.array([0, 1, 3])
    wk = loss_weights(n, "sqrt", repeats=k)
    assert (k * n * wk).sum() / (k * n).sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        loss_weights(n, "cube")  # type: ignore[arg-type]


def test_table_and_ray_agree(ray_session: str) -> None:
    import ray.data

    table = pa.table({"sample_id": [f"s{i}" for i in range(100)],
                      "tokens_supervised": pa.array(np.arange(100) * 7 + 1, pa.int64())})
    local = add_loss_weights(table, "sqrt").column("loss_weight").to_numpy()
    ds, scale = ray_add_loss_weights(ray.data.from_arrow([table.slice(0, 30), table.slice(30)]), "sqrt")
    got = pa.concat_tables(list(ds.iter_batches(batch_format="pyarrow", batch_size=None))).sort_by("sample_id").column("loss_weight").to_numpy()
    order = np.argsort([f"s{i}" for i in range(100)])
    np.testing.assert_allclose(got, local[order], rtol=1e-6)
