"""Connected components over duplicate pairs: the step every dedup method ends with.

Each method (exact hash, perceptual hash, MinHash, SemDeDup) produces *edges* between rows it thinks
are the same item; a duplicate cluster is a connected component of that graph. Two edge builders
live here because every method needs one of them:

* :func:`star_edges` — rows that share a key (same sha256, same LSH band) are joined to the first
  row of their group: ``m - 1`` edges instead of ``m·(m-1)/2``, and the components are the same.
* :func:`pair_edges_within_groups` — every pair inside each group, for methods that must verify a
  candidate pair (Hamming distance, estimated Jaccard) before accepting it.

:func:`connected_components` is a vectorised union–find (min-label propagation with pointer jumping,
all in numpy), so a few million edges take well under a second and no Python loop runs per edge. It
runs where the edges are gathered (the driver, after Ray has done the grouping): edges are the rare
event, one per duplicate, so they are far fewer than rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

__all__ = ["connected_components", "star_edges", "pair_edges_within_groups", "components_from_id_pairs"]

_CHUNK_PAIRS = 1 << 22  # candidate pairs generated (and verified) per step of pair_edges_within_groups


def connected_components(n: int, edges: np.ndarray) -> np.ndarray:
    """Component label per node ``0..n-1``: the smallest node index in its component.

    ``edges`` is an ``(m, 2)`` integer array of node indices (any order, duplicates allowed).
    """
    labels = np.arange(n, dtype=np.int64)
    if n == 0 or len(edges) == 0:
        return labels
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    a, b = edges[:, 0], edges[:, 1]
    # Invariant labels[i] <= i, so hooking a root onto the smaller root never makes a cycle.
    while True:
        while True:  # pointer jumping: every node points at its root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)


def _group_bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable sort order of ``keys`` plus the start and end offset of each run of equal keys."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if len(sorted_keys) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return order, empty, empty
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    ends = np.concatenate([change, [len(sorted_keys)]]).astype(np.int64)
    return order, starts, ends


def star_edges(keys: np.ndarray, nodes: np.ndarray | None = None) -> np.ndarray:
    """Edges joining every row to the first row (in input order) with the same key.

    ``keys`` is a 1-D array (integers, or fixed-width bytes/strings); ``nodes`` maps row positions to
    node indices (default: the positions themselves). Rows with a unique key give no edge.
    """
    keys = np.asarray(keys)
    nodes = np.arange(len(keys), dtype=np.int64) if nodes is None else np.asarray(nodes, dtype=np.int64)
    order, starts, ends = _group_bounds(keys)
    sizes = ends - starts
    first = np.repeat(order[starts], sizes)
    member = order
    keep = member != first
    return np.stack([nodes[first[keep]], nodes[member[keep]]], axis=1)


def pair_edges_within_groups(
    keys: np.ndarray, max_group: int = 5000, keep: Callable[[np.ndarray], np.ndarray] | None = None
) -> np.ndarray:
    """All ``(i, j)`` row pairs, ``i < j`` in input order, that share a key (and pass ``keep``).

    Groups larger than ``max_group`` (a degenerate band such as all-zero hashes of blank images) are
    truncated to their first ``max_group`` rows, so one pathological key cannot produce 10^9 pairs;
    such rows are usually caught by the exact-hash method anyway.

    ``keep`` maps a ``(m, 2)`` chunk of candidate pairs to a boolean mask and is applied chunk by
    chunk as pairs are generated, so only verified pairs are ever held at once: on 1M pHashes at
    distance 4 a band yields ~60M candidates (1 GB of index pairs) but a few thousand verified ones.
    """
    order, starts, ends = _group_bounds(np.asarray(keys))
    sizes = ends - starts
    parts: list[np.ndarray] = []
    multi = np.flatnonzero(sizes > 1)
    capped = np.minimum(sizes[multi], max_group)
    # Vectorise by group size: all groups of size s share one triu index pattern. Chunks of groups
    # bound a step's candidates to ~4M pairs whatever the size distribution.
    for size in np.unique(capped):
        size_starts = starts[multi][capped == size]
        iu, ju = np.triu_indices(int(size), k=1)
        step = max(1, _CHUNK_PAIRS // len(iu))
        for lo in range(0, len(size_starts), step):
            group_starts = size_starts[lo : lo + step]
            # The stable sort lists a group's rows in input order, so iu < ju already gives i < j.
            pairs = np.stack([order[group_starts[:, None] + iu[None, :]].ravel(),
                              order[group_starts[:, None] + ju[None, :]].ravel()], axis=1)
            parts.append(pairs if keep is None else pairs[keep(pairs)])
    if not parts:
        return np.zeros((0, 2), dtype=np.int64)
    return np.concatenate(parts).astype(np.int64)


def components_from_id_pairs(left: Sequence[str] | pa.Array, right: Sequence[str] | pa.Array) -> pa.Table:
    """``sample_id, cluster_id`` for every id that appears in a pair (string ids, as Ray returns them).

    ``cluster_id`` is the smallest sample_id of the component, so it is stable across runs and
    independent of the order the pairs arrived in.
    """
    left_np = np.asarray(pa.array(left, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    right_np = np.asarray(pa.array(right, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    ids, inverse = np.unique(np.concatenate([left_np, right_np]).astype(str), return_inverse=True)
    edges = inverse.reshape(2, -1).T
    labels = connected_components(len(ids), edges)
    # np.unique sorts ids, so the smallest index in a component is also its smallest sample_id.
    return pa.table({"sample_id": pa.array(ids, pa.string()), "cluster_id": pa.array(ids[labels], pa.string())})
