"""Near-duplicate videos: a sequence of frame pHashes per video, banded on anchor frames, verified whole.

The signature (:mod:`mmcurate.pipeline.dedup.video_signature`) is the pHash of the frame shown at 0.5 s,
1.5 s, ... (at most 8), so frame ``k`` of one video and frame ``k`` of a re-encode are the same moment.
Two videos are near-duplicates when their signatures have the same length within one frame (a copy
cut a fraction of a second shorter loses its last sample) and the mean Hamming distance over the
frames both have is at most ``max_distance``.

Candidates come from the image pHash's bands (:func:`~.phash.band_keys`) on a few *anchor* frames,
keyed by (anchor, band): rows that agree exactly on one band of one anchor frame are verified with the
full sequence. Frame 0 is an anchor of every signature, so any two signatures share it, and frame 4
of those with five frames or more; by the pigeonhole argument of :mod:`.phash` this finds every pair
whose hashes at a shared anchor are within ``max_distance`` bits. A re-encode moves a few bits on
every frame, so that is every re-encode in practice, though not every pair a whole-sequence mean
admits (banding all eight frames would be exact, at four times the keys and far more candidates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.dedup.phash import band_keys, hamming
from mmcurate.pipeline.dedup.video_signature import SIGNATURE_FRAMES, video_signature
from mmcurate.pipeline.media_rows import rows_with_media_kind
from mmcurate.pipeline.stage import Reject, Resources, RowStage
from mmcurate.pipeline.video.sandbox import run_sandboxed
from mmcurate.schemas import sample as S

__all__ = ["VIDEO_PHASH", "VIDEO_PHASH_MAX_DISTANCE",
           "ANCHORS", "padded_signatures", "anchor_band_keys", "sequences_close", "VideoPerceptualHash"]

VIDEO_PHASH = "video_phash"
VIDEO_PHASH_MAX_DISTANCE = 8  # mean bits apart per aligned frame: the one default for video dedup
ANCHORS = (0, SIGNATURE_FRAMES // 2)  # the first sampled frame and the middle one of a full signature


def padded_signatures(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``(hashes, lengths)``: an ``(n, K)`` uint64 array zero-padded to the longest signature, and lengths."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy().astype(np.int64)
    width = int(lengths.max()) if len(lengths) else 0
    hashes = np.zeros((len(lengths), width), np.uint64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    cols = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    hashes[rows, cols] = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.uint64)
    return hashes, lengths


def anchor_band_keys(hashes: np.ndarray, lengths: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(row, band, key)`` per anchor band of each signature; ``band`` numbers (anchor, pHash band) pairs."""
    bands = max_distance + 1
    rows, band_ids, keys = [np.zeros(0, np.int64)], [np.zeros(0, np.int32)], [np.zeros(0, np.uint64)]
    for a, anchor in enumerate(ANCHORS):
        has = np.flatnonzero(lengths > anchor)
        if has.size == 0:  # also: no signature at all, where ``hashes`` has no column to index
            continue
        per_band = band_keys(hashes[has, anchor], max_distance)  # (len(has), bands)
        rows.append(np.repeat(has, bands))
        band_ids.append(np.tile(np.arange(a * bands, (a + 1) * bands, dtype=np.int32), len(has)))
        keys.append(per_band.ravel())
    return np.concatenate(rows), np.concatenate(band_ids), np.concatenate(keys)


def sequences_close(hashes: np.ndarray, lengths: np.ndarray, pairs: np.ndarray, max_distance: float) -> np.ndarray:
    """Per pair ``(i, j)``: lengths within one frame and mean Hamming distance over shared frames <= max."""
    i, j = pairs[:, 0], pairs[:, 1]
    shared = np.minimum(lengths[i], lengths[j])
    in_shared = np.arange(hashes.shape[1])[None, :] < shared[:, None]
    total = (hamming(hashes[i], hashes[j]) * in_shared).sum(axis=1)
    return (np.abs(lengths[i] - lengths[j]) <= 1) & (shared > 0) & (total <= max_distance * np.maximum(shared, 1))


def _video_index(media: list[dict[str, Any]]) -> int | None:
    return next((i for i, m in enumerate(media) if m and m.get("kind") == "video"), None)


@dataclass(kw_only=True)
class VideoPerceptualHash(RowStage):
    """Write ``video_phash`` (list<uint64>) for the row's first video item; null without one.

    A video that will not decode gets a null signature, as an undecodable image gets a null ``phash``:
    dedup only signs rows, and the video stage of the main pass is where such a video is rejected.
    """

    name: ClassVar[str] = "video_phash_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(VIDEO_PHASH, pa.list_(pa.uint64()),
                 metadata={"doc": "pHashes of the first video's frames at 0.5 s, 1.5 s, ... from its start (<= 8)"}),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)
    row_columns: ClassVar[tuple[str, ...] | None] = (S.MEDIA,)

    batch_size: int = 8
    frames: int = SIGNATURE_FRAMES
    timeout_s: float = 60.0  # up to eight seeks, so far less than a full clip extraction
    # No retry: a crash only leaves this video out of near-dup matching; the clip stage retries its own.
    crash_retries: int = 0
    max_memory_bytes: int | None = 2 * 1024**3

    def applies_to(self, batch: pa.Table) -> pa.Array:
        """Rows holding a video item: image rows stay in Arrow (their column is null)."""
        return pa.array(rows_with_media_kind(batch, ("video",)))

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = row.get(S.MEDIA) or []
        index = _video_index(media)
        data = media[index].get("bytes") if index is not None else None
        if not data:
            return {VIDEO_PHASH: None}
        try:
            hashes = run_sandboxed(video_signature, data, self.frames, timeout_s=self.timeout_s,
                                   crash_retries=self.crash_retries, max_memory_bytes=self.max_memory_bytes)
        except Reject:
            return {VIDEO_PHASH: None}
        return {VIDEO_PHASH: hashes or None}  # under 0.5 s: nothing sampled, nothing to compare
