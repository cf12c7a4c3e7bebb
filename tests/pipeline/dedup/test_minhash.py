"""MinHash: bit-identical to datasketch, and finds edited copies of real texts."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from dedup_helpers import precision_recall, predicted_pairs, sample_table, true_pairs

from mmcurate.pipeline.dedup.global_dedup import minhash_duplicates, signature_table
from mmcurate.pipeline.dedup.minhash import MINHASH_BANDS, MINHASH_SIGNATURE, MinHasher, MinHashSignature, word_shingles
from mmcurate.pipeline.runner import run_stage


@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
def test_signatures_equal_datasketch(planted_texts, scheme: str) -> None:
    texts = [t for _, t in planted_texts[0][:60]] + ["", "one", "Two words.", None]
    hasher = MinHasher(num_perm=64, seed=7, ngram=3, bands=8, scheme=scheme)
    ours, valid = hasher.signatures(texts)
    for text, sig, ok in zip(texts, ours, valid):
        reference = MinHash(num_perm=64, seed=7, scheme=scheme)
        for shingle in word_shingles(text, 3):
            reference.update(shingle)
        assert np.array_equal(reference.hashvalues.astype(np.uint32), sig)
        assert ok == bool(word_shingles(text, 3))
    reference_a, reference_b = MinHash(num_perm=64, seed=7, scheme=scheme).permutations
    assert np.array_equal(hasher.permutations[0], reference_a) and np.array_equal(hasher.permutations[1], reference_b)


def test_band_keys_agree_exactly_when_bands_agree() -> None:
    hasher = MinHasher(num_perm=16, bands=4)
    sigs = np.arange(48, dtype=np.uint32).reshape(3, 16)
    sigs[1, :4] = sigs[0, :4]  # row 1 shares band 0 with row 0 only
    keys = hasher.band_keys(sigs)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    assert len(np.unique(keys)) == 12 - 1


def test_minhash_precision_recall_on_edited_texts(planted_texts) -> None:
    items, groups = planted_texts
    table = run_stage(MinHashSignature(), sample_table([(sid, None, text) for sid, text in items]))
    assert table.schema.field(MINHASH_SIGNATURE).type.value_type.bit_width == 32
    assert len(table.column(MINHASH_BANDS)[0]) == 16
    removals = minhash_duplicates(signature_table(table, [MINHASH_SIGNATURE, MINHASH_BANDS]), threshold=0.7)
    precision, recall = precision_recall(predicted_pairs(removals, list(groups)), true_pairs(groups))
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_empty_captions_are_not_duplicates_of_each_other() -> None:
    table = run_stage(MinHashSignature(), sample_table([("a", None, ""), ("b", None, None), ("c", None, "!!")]))
    assert table.column(MINHASH_SIGNATURE).null_count == 3
    assert minhash_duplicates(signature_table(table, [MINHASH_SIGNATURE, MINHASH_BANDS])).num_rows == 0
