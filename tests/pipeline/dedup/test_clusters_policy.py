"""Connected components and the keep policy, on hand-checked graphs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dedup_helpers import media_item, sample_table

from mmcurate.pipeline.dedup.clusters import connected_components, pair_edges_within_groups, star_edges
from mmcurate.pipeline.dedup.global_dedup import signature_table
from mmcurate.pipeline.dedup.policy import PRIORITY, KeepPolicy, keep_mask, removal_table


def test_connected_components_merges_chains_in_any_order() -> None:
    edges = np.array([[5, 4], [2, 3], [1, 3], [0, 2], [7, 8], [8, 6]])
    labels = connected_components(9, edges)
    assert labels.tolist() == [0, 0, 0, 0, 4, 4, 6, 6, 6]


def test_connected_components_matches_scipy_on_random_graph() -> None:
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components as scipy_cc

    rng = np.random.default_rng(0)
    n = 5000
    edges = rng.integers(0, n, size=(3000, 2))
    labels = connected_components(n, edges)
    count, ref = scipy_cc(sp.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)), directed=False)
    assert len(np.unique(labels)) == count
    # Same partition: each of our labels maps to exactly one scipy label.
    assert len({(a, b) for a, b in zip(labels, ref)}) == count


def test_edge_builders() -> None:
    keys = np.array([5, 3, 5, 3, 7, 5])
    assert sorted(map(tuple, star_edges(keys).tolist())) == [(0, 2), (0, 5), (1, 3)]
    assert sorted(map(tuple, pair_edges_within_groups(keys).tolist())) == [(0, 2), (0, 5), (1, 3), (2, 5)]


def test_pair_edges_are_verified_chunk_by_chunk(monkeypatch) -> None:
    import mmcurate.pipeline.dedup.clusters as clusters

    rng = np.random.default_rng(0)
    keys = rng.integers(0, 30, 400)
    everything = {tuple(p) for p in pair_edges_within_groups(keys).tolist()}
    assert all(i < j and keys[i] == keys[j] for i, j in everything)
    monkeypatch.setattr(clusters, "_CHUNK_PAIRS", 7)  # many chunks per group size
    even = pair_edges_within_groups(keys, keep=lambda pairs: (pairs.sum(axis=1) % 2) == 0)
    assert {tuple(p) for p in even.tolist()} == {p for p in everything if sum(p) % 2 == 0}


def test_policy_rules_choose_the_right_member() -> None:
    ids = np.array(["c", "a", "b", "d"])
    labels = np.array([0, 0, 0, 3])
    first = removal_table(ids, labels, np.zeros(4), "m", KeepPolicy())
    assert sorted(first.to_pylist(), key=lambda r: r["sample_id"]) == [
        {"sample_id": "b", "duplicate_of": "a", "dedup_method": "m"},
        {"sample_id": "c", "duplicate_of": "a", "dedup_method": "m"},
    ]
    scored = removal_table(ids, labels, np.array([0.1, 0.2, 0.9, 0.0]), "m", KeepPolicy(rule="score", score_column="s"))
    assert {r["sample_id"]: r["duplicate_of"] for r in scored.to_pylist()} == {"a": "b", "c": "b"}
    mask = keep_mask(pa.array(["a", "b", "c", "d"]), scored)
    assert mask.to_pylist() == [False, True, False, True]


def test_area_and_score_priorities_from_sample_rows() -> None:
    table = sample_table([("x", b"1", None), ("y", b"2", None), ("z", None, None)])
    media = pa.array([[dict(media_item(b"1"), width=10, height=10)],
                      [dict(media_item(b"2"), width=20, height=10), dict(media_item(b"3"), width=1, height=1)],
                      []], table.schema.field("media").type)
    table = table.set_column(table.schema.get_field_index("media"), "media", media)
    assert KeepPolicy(rule="area").priority(table).to_pylist() == [100.0, 201.0, 0.0]
    scored = table.append_column("clip_score", pa.array([0.3, None, 0.1], pa.float32()))
    sig = signature_table(scored, ["clip_score"], KeepPolicy(rule="score", score_column="clip_score"))
    assert sig.column(PRIORITY).to_pylist()[1] == float("-inf")
