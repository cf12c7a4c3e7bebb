"""clip_keep_top decides one threshold for the pool and applies it batch by batch, the same in both modes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.filters.clip_keep_top import ClipKeepTop
from mmcurate.pipeline.marking import ok_mask
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas import sample as S
from mmcurate.schemas.sample import SAMPLE_SCHEMA
from mmcurate.schemas.table import to_table

COLUMN = "clip_score_v1_mean"


def _pool(n: int = 5_000) -> pa.Table:
    rng = np.random.default_rng(11)
    scores = rng.uniform(-0.2, 0.45, n)
    scores[::50] = np.nan  # no image: never counted, never cut
    return pa.table({S.SAMPLE_ID: [f"s{i:05d}" for i in range(n)],
                     COLUMN: pa.array(scores, pa.float64(), from_pandas=True)})


def _rows(pool: pa.Table) -> pa.Table:
    """The pool as sample rows still ok, in the engine's schema."""
    rows = [{S.SAMPLE_ID: i, S.STATUS: S.STATUS_OK} for i in pool.column(S.SAMPLE_ID).to_pylist()]
    return to_table(rows, SAMPLE_SCHEMA).append_column(COLUMN, pool.column(COLUMN))


def test_the_decision_is_one_threshold_and_cuts_exactly_the_rows_below_it() -> None:
    pool = _pool()
    step = ClipKeepTop(keep_fraction=0.3)
    decision = step.decide(pool)
    assert decision.num_rows == 1  # not a row per rejected sample
    scores = pool.column(COLUMN).to_numpy(zero_copy_only=False)
    scored = scores[~np.isnan(scores)]
    k = int(np.ceil(0.3 * scored.size))
    threshold = decision.column("threshold")[0].as_py()
    assert threshold == np.sort(scored)[::-1][k - 1]

    out = run_stages(step.apply_stages(decision), _rows(pool))
    kept = pc.filter(out.column(COLUMN), ok_mask(out)).to_numpy(zero_copy_only=False)
    assert int((~np.isnan(kept)).sum()) == k  # ties aside, exactly the top k scored rows stay
    assert int(np.isnan(kept).sum()) == int(np.isnan(scores).sum())  # unscored rows untouched
    rejected = out.filter(pc.invert(ok_mask(out))).to_pylist()
    assert {r[S.DROP_REASON] for r in rejected} == {"clip_keep_top_v1:below_top_fraction"}
    first = rejected[0]
    assert first[S.ERROR] == (f"{COLUMN} {first[COLUMN]:.4f} < {threshold:.4f} (top 0.3 of {scored.size})")
    assert step.survivors(pool, decision).num_rows == k + int(np.isnan(scores).sum())


def test_ray_takes_the_same_threshold_without_gathering_the_rows(ray_session: str) -> None:  # noqa: ARG001
    import ray

    pool = _pool()
    step = ClipKeepTop(keep_fraction=0.3)
    rows = ray.data.from_arrow([pool.slice(i, 700) for i in range(0, pool.num_rows, 700)]).materialize()
    assert step.decide_ray(rows).equals(step.decide(pool))


def test_a_pool_without_scores_cuts_nothing() -> None:
    pool = pa.table({S.SAMPLE_ID: ["a", "b"], COLUMN: pa.array([None, None], pa.float64())})
    step = ClipKeepTop()
    decision = step.decide(pool)
    assert step.apply_stages(decision) == [] and step.survivors(pool, decision).num_rows == 2
