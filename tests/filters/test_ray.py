"""The filters as Ray stages: same rows, scores and drops as `run_stage`; the global threshold on Ray."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mmcurate.filters.basic import WordCountFilter
from mmcurate.filters.caption_language import CaptionLanguageFilter
from mmcurate.filters.clip_quantile import score_threshold, threshold_from_array
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas import sample as S


def _collect(ds) -> pa.Table:
    import ray

    table = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    return table.take(pc.sort_indices(table.column(S.SAMPLE_ID)))


# The language filter loads its bundled model lazily, once per worker process: checked here on Ray tasks.
@pytest.mark.parametrize("stage", [ClipScoreFilter(min_score=0.3), WordCountFilter(min_words=4),
                                   CaptionLanguageFilter(min_confidence=0.3)], ids=lambda s: s.name)
def test_ray_stage_matches_run_stage(ray_session, stage, make_rows, make_table):
    import ray

    from mmcurate.pipeline.ray_adapter import apply_stage

    scenes = [make_scene(4_000_000_000 + i) for i in range(24)]
    rows = make_rows([([s.image], s.caption if i % 3 else scenes[(i + 5) % 24].caption) for i, s in enumerate(scenes)])
    table = make_table(rows)
    local = run_stage(stage, table)
    remote = _collect(apply_stage(ray.data.from_arrow(table).repartition(3), stage))
    local = local.take(pc.sort_indices(local.column(S.SAMPLE_ID)))
    assert remote.column(S.DROP_REASON).to_pylist() == local.column(S.DROP_REASON).to_pylist()
    for field in stage.writes:
        a, b = remote.column(field.name), local.column(field.name)
        if pa.types.is_list(field.type):  # batch composition differs: compare values, not bits
            a, b = pc.list_flatten(a), pc.list_flatten(b)
        assert a.to_pylist() == pytest.approx(b.to_pylist(), abs=1e-5)


def test_threshold_over_a_ray_dataset_is_exact(ray_session):
    import ray

    rng = np.random.default_rng(1)
    scores = rng.normal(0.25, 0.1, 20_000).clip(-1, 1)
    ds = ray.data.from_arrow(pa.table({"clip_score_v1_mean": scores})).repartition(4)
    # max_collect=50 forces several histogram-refinement passes before the final exact pick.
    assert score_threshold(ds, keep_fraction=0.3, max_collect=50) == threshold_from_array(scores, 0.3)
