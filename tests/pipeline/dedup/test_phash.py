"""Perceptual hash on real photos: variants match, distinct photos do not; banding is exact."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from dedup_helpers import precision_recall, predicted_pairs, sample_table, true_pairs

from mmcurate.pipeline.dedup.global_dedup import phash_duplicates, signature_table
from mmcurate.pipeline.dedup.phash import PHASH, PerceptualHash, hamming, near_duplicate_pairs
from mmcurate.pipeline.runner import run_stage


def test_banded_search_equals_brute_force() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2**63, size=300, dtype=np.uint64) * np.uint64(2)
    flips = np.zeros(300, np.uint64)
    for i in range(300):  # near copies with 0..12 flipped bits
        for bit in rng.choice(64, size=rng.integers(0, 13), replace=False):
            flips[i] |= np.uint64(1) << np.uint64(bit)
    hashes = np.concatenate([base, base ^ flips])
    for d in (0, 4, 10):
        got = {tuple(p) for p in near_duplicate_pairs(hashes, d).tolist()}
        i, j = np.triu_indices(len(hashes), k=1)
        close = hamming(hashes[i], hashes[j]) <= d
        assert got == set(zip(i[close].tolist(), j[close].tolist()))


def test_phash_precision_recall_on_planted_photos(planted_images) -> None:
    items, groups = planted_images
    hashed = run_stage(PerceptualHash(), sample_table([(sid, data, None) for sid, data in items]))
    assert hashed.column(PHASH).null_count == 0
    assert hashed.schema.field(PHASH).type == pa.uint64()
    removals = phash_duplicates(signature_table(hashed, [PHASH]), max_distance=10)
    precision, recall = precision_recall(predicted_pairs(removals, list(groups)), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
