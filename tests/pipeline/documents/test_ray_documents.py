"""Ray == local for the document filters: same node removals, scores and drops."""

import json

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.filters.document_level import DocumentFilter
from mmcurate.filters.document_nodes import DocumentNodeFilter
from mmcurate.pipeline.documents.warc_build import write_warc
from mmcurate.pipeline.documents.warc_reader import WarcReader
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas import sample as S
from mmcurate.tokenizers.interleaved_stage import InterleavedTokens

P = "The river runs through the old town and the bridge was built in the year of the great flood."


def test_ray_matches_local(ray_session, tmp_path):
    import ray

    from mmcurate.pipeline.ray_adapter import apply_stage

    pages = [(f"http://s.test/{i}.html", (f"<html><body><article><p>{P} {i}</p>" + "<p>ok</p>" * (i % 3)
              + (f"<img src='/i{i}.png'>" if i % 2 else "") + "</article></body></html>").encode(), "text/html")
             for i in range(12)]
    reader = WarcReader(path=str(write_warc(tmp_path / "c.warc.gz", pages)))
    table = reader.read_unit(WorkUnit("u0", 0, json.dumps(reader.plan()[0])))
    stages = [DocumentNodeFilter(), DocumentFilter(min_images=0), InterleavedTokens()]
    local = run_stages(stages, table)
    ds = ray.data.from_arrow(table).repartition(3)
    for stage in stages:
        ds = apply_stage(ds, stage)
    remote = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    remote = remote.take(pc.sort_indices(remote.column(S.SAMPLE_ID)))
    local = local.take(pc.sort_indices(local.column(S.SAMPLE_ID)))
    for col in ("doc_nodes", S.DROP_REASON, "doc_v1_words", "doc_nodes_v1_removed_texts", "doc_tokens_v1_spans"):
        assert remote.column(col).to_pylist() == local.column(col).to_pylist(), col
    assert local.column(S.STATUS).to_pylist().count("ok") == 12
