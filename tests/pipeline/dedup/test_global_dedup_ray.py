"""The Ray layer finds duplicates split across blocks and workers, and agrees with the library."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from dedup_helpers import precision_recall, predicted_pairs, sample_table, true_pairs
from test_semdedup import embedding_table, planted_embeddings
from video_helpers import planted_video_signatures

from mmcurate.pipeline.dedup import global_dedup as G
from mmcurate.pipeline.dedup import ray_dedup as R
from mmcurate.pipeline.dedup.exact import PIXEL_SHA256, ExactHash
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE, MinHashSignature
from mmcurate.pipeline.dedup.phash import PHASH, PerceptualHash
from mmcurate.pipeline.dedup.policy import KeepPolicy
from mmcurate.pipeline.dedup.semdedup import SemDeDupConfig
from mmcurate.pipeline.runner import run_stages


def _two_blocks(table: pa.Table):
    """A Ray Dataset of two blocks holding alternate rows, so every duplicate group is split."""
    import ray

    even = table.take(np.arange(0, table.num_rows, 2))
    odd = table.take(np.arange(1, table.num_rows, 2))
    ds = ray.data.from_arrow([even, odd])
    assert ds.num_blocks() == 2
    return ds.repartition(2)  # two tasks, two workers on the 2-CPU test cluster


def _as_set(table: pa.Table) -> set[tuple[str, str, str]]:
    return {(r["sample_id"], r["duplicate_of"], r["dedup_method"]) for r in table.to_pylist()}


@pytest.fixture(scope="module")
def image_signatures(planted_images) -> tuple[pa.Table, dict[str, str]]:
    items, groups = planted_images
    hashed = run_stages([ExactHash(), PerceptualHash()], sample_table([(sid, data, None) for sid, data in items]))
    return G.signature_table(hashed, [PIXEL_SHA256, PHASH], KeepPolicy()), groups


def test_ray_phash_and_exact_match_library_across_blocks(ray_session, image_signatures) -> None:
    signatures, groups = image_signatures
    ray_phash = R.ray_phash_duplicates(_two_blocks(signatures), max_distance=10, num_partitions=2)
    assert _as_set(ray_phash) == _as_set(G.phash_duplicates(signatures, max_distance=10))
    precision, recall = precision_recall(predicted_pairs(ray_phash, list(groups)), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95
    # Exact: duplicate the first rows under new ids, in the other block, and find them.
    copies = signatures.slice(0, 3).set_column(0, signatures.schema.field(0), pa.array(["zz0", "zz1", "zz2"]))
    with_copies = pa.concat_tables([signatures, copies])
    ray_exact = R.ray_exact_duplicates(_two_blocks(with_copies), PIXEL_SHA256, num_partitions=2)
    assert _as_set(ray_exact) == _as_set(G.exact_duplicates(with_copies, PIXEL_SHA256))
    # camera.png is grey: its RGB PNG and its grey PNG are the same pixels, a true exact duplicate.
    assert {"zz0", "zz1", "zz2"} <= set(ray_exact.column("sample_id").to_pylist())


def test_ray_minhash_matches_library_across_blocks(ray_session, planted_texts) -> None:
    items, groups = planted_texts
    table = run_stages([MinHashSignature()], sample_table([(sid, None, text) for sid, text in items]))
    signatures = G.signature_table(table, [MINHASH_SIGNATURE, MINHASH_BANDS])
    ray_result = R.ray_minhash_duplicates(_two_blocks(signatures), threshold=0.7, num_partitions=2)
    assert _as_set(ray_result) == _as_set(G.minhash_duplicates(signatures, threshold=0.7))
    precision, recall = precision_recall(predicted_pairs(ray_result, list(groups)), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95


def test_ray_semdedup_across_blocks(ray_session) -> None:
    emb, ids, groups = planted_embeddings(n_base=1500, n_dup_bases=150, dim=32, seed=1)
    table = embedding_table(emb, ids)
    removals = R.ray_semantic_duplicates(_two_blocks(table), config=SemDeDupConfig(n_clusters=8, eps=0.05),
                                          num_partitions=2)
    precision, recall = precision_recall(predicted_pairs(removals, ids), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_ray_video_phash_matches_library_across_blocks(ray_session) -> None:
    signatures = planted_video_signatures(n=150, seed=4)
    ray_result = R.ray_video_phash_duplicates(_two_blocks(signatures), max_distance=8, num_partitions=2)
    assert ray_result.num_rows >= 40  # ~50 planted copies
    assert _as_set(ray_result) == _as_set(G.video_phash_duplicates(signatures, max_distance=8))
