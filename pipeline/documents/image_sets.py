"""Set-level document algorithms: frequent-image removal and MMC4 image-to-sentence assignment.

``frequent_images`` is the counting half of OBELICS' rule (drop images that occur in more than 10
documents: logos, icons, buttons); it works on a plain (doc id, image key) table so the lead can run
it as a set-level pass over the whole dataset and apply the result with ``remove_images``.
``assign_images`` is MMC4's assignment: each image to a distinct sentence maximising total similarity
(``scipy.optimize.linear_sum_assignment`` on the image x sentence similarity matrix, e.g. CLIP).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.schemas.document import KIND_IMAGE

__all__ = ["frequent_images", "remove_images", "assign_images", "image_key", "REASON_FREQUENT"]

REASON_FREQUENT = "doc_frequent_images_v1:frequent_image"


def image_key(url: str | None) -> str | None:
    """What identifies an image across documents: its URL; a ``data:`` URI by its hash (it can be 256 KB)."""
    if not url:
        return None
    return "data:sha256:" + hashlib.sha256(url.encode()).hexdigest() if url.startswith("data:") else url


def frequent_images(pairs: pa.Table, max_docs: int = 10, doc_col: str = "doc_id",
                    key_col: str = "image_key") -> set[str]:
    """Image keys (URL or sha256) that occur in more than ``max_docs`` distinct documents."""
    unique = pairs.select([doc_col, key_col]).group_by([doc_col, key_col]).aggregate([])
    counts = unique.group_by(key_col).aggregate([(doc_col, "count")])
    hot = counts.filter(pc.greater(counts.column(f"{doc_col}_count"), max_docs))
    return set(hot.column(key_col).to_pylist())


def remove_images(nodes: list[dict[str, Any]], frequent: set[str]) -> int:
    """Mark image nodes whose key (:func:`image_key`) is frequent as removed (in place); returns how many."""
    n = 0
    for node in nodes:
        if node["kind"] == KIND_IMAGE and node["removed"] is None and image_key(node["url"]) in frequent:
            node["removed"] = REASON_FREQUENT
            n += 1
    return n


def assign_images(similarity: np.ndarray, min_similarity: float | None = None) -> list[tuple[int, int]]:
    """(image, sentence) pairs of the maximum-similarity one-to-one assignment, sorted by image."""
    from scipy.optimize import linear_sum_assignment

    sim = np.asarray(similarity, dtype=np.float64)
    if sim.size == 0:
        return []
    rows, cols = linear_sum_assignment(sim, maximize=True)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols)
             if min_similarity is None or sim[r, c] >= min_similarity]
    return sorted(pairs)
