"""Near-duplicate videos (matrix V14): a heavily re-encoded copy clusters with its original; nothing else does."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from e2e_support import MIXTURE, NO_MODELS, job_dict, step_index
from PIL import Image
from video_helpers import FPS, decode, encode, pan_frames, planted_video_signatures, video_table

from mmcurate.jobs.cli import run_job
from mmcurate.jobs.job_file import resolve
from mmcurate.pipeline.dedup.global_dedup import phash_duplicates, signature_table, video_phash_duplicates
from mmcurate.pipeline.dedup.phash import PHASH, PerceptualHash
from mmcurate.pipeline.dedup.video_phash import VIDEO_PHASH, VideoPerceptualHash, padded_signatures, sequences_close
from mmcurate.pipeline.dedup.video_signature import video_signature
from mmcurate.pipeline.generate.demo_folder import make_demo_folder
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas import sample as S

SECONDS = 6  # six signature frames: 0.5 s ... 5.5 s


@pytest.fixture(scope="module")
def videos(skimage_data_dir: Path) -> dict[str, bytes]:
    """The original (H.264, GOP 10), heavy re-encodes of its decoded frames, and an unrelated video."""
    original = encode(pan_frames(skimage_data_dir / "astronaut.png", SECONDS * FPS), options={"g": "10"})
    frames = decode(original)
    return {
        "original": original,
        # Other codec/container, a third of the pixels, another GOP, a tenth of the bytes.
        "vp9_small": encode(frames, "libvpx-vp9", "webm", size=(112, 84), options={"crf": "55", "b": "0", "g": "37"}),
        "x264_crf45": encode(frames, size=(160, 120), options={"crf": "45", "g": "250"}),
        "mpeg4_5fps": encode(frames[::2], "mpeg4", fps=FPS // 2, options={"qscale": "20", "g": "7"}),
        "cut_short": encode(frames[: -FPS // 2 - 2], options={"crf": "35"}),  # ends before 5.5 s: one frame fewer
        "other": encode(pan_frames(skimage_data_dir / "coffee.png", SECONDS * FPS), options={"g": "10"}),
    }


def _close(a: list[int], b: list[int], max_distance: int = 8) -> bool:
    hashes, lengths = padded_signatures(pa.array([a, b], pa.list_(pa.uint64())))
    return bool(sequences_close(hashes, lengths, np.array([[0, 1]]), max_distance)[0])


def test_seeking_picks_the_same_moment_whatever_the_gop(skimage_data_dir: Path) -> None:
    # Lossless encodes decode to identical pictures, so only the seek can make the signatures differ: a
    # seek that stopped at the keyframe before t (GOP 7 or 250) would hash an earlier picture.
    frames = pan_frames(skimage_data_dir / "chelsea.png", SECONDS * FPS)
    by_gop = {g: video_signature(encode(frames, options={"qp": "0", "g": str(g)})) for g in (1, 7, 250)}
    assert len(by_gop[1]) == SECONDS
    assert by_gop[1] == by_gop[7] == by_gop[250]
    # ... and a picture 0.3 s away does change the hashes, so the equality above is not vacuous.
    assert video_signature(encode(frames[3:], options={"qp": "0", "g": "7"})) != by_gop[1]


def test_reencoded_copies_match_and_another_video_does_not(videos: dict[str, bytes]) -> None:
    table = run_stages([VideoPerceptualHash()], video_table([(name, data, "video") for name, data in videos.items()]))
    assert table.column(S.STATUS).to_pylist() == [S.STATUS_OK] * len(videos)
    sig = dict(zip(table.column(S.SAMPLE_ID).to_pylist(), table.column(VIDEO_PHASH).to_pylist(), strict=True))
    assert len(sig["original"]) == SECONDS and len(sig["cut_short"]) == SECONDS - 1
    for copy in ("vp9_small", "x264_crf45", "mpeg4_5fps", "cut_short"):
        assert _close(sig["original"], sig[copy]), copy
    assert not _close(sig["original"], sig["other"], max_distance=16)
    assert not _close(sig["original"], sig["original"][:SECONDS - 2])  # two frames shorter: another video


def test_undecodable_and_too_short_videos_get_a_null_signature_not_a_reject(videos: dict[str, bytes]) -> None:
    frame = decode(videos["original"])[:3]  # 0.3 s: no frame at 0.5 s
    rows = [("cut", videos["original"][:700], "video"), ("html", b"<html>not a video</html>", "video"),
            ("short", encode(frame), "video"), ("image", _png(frame[0]), "image")]
    table = run_stages([VideoPerceptualHash()], video_table(rows))
    assert table.column(S.STATUS).to_pylist() == [S.STATUS_OK] * 4
    assert table.column(VIDEO_PHASH).to_pylist() == [None] * 4


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_dedup_clusters_the_copies_and_never_pairs_a_video_with_an_image(videos: dict[str, bytes]) -> None:
    # The image is the video's own frame at 0.5 s, so its pHash equals the video's first frame hash.
    still = _png(decode(videos["original"])[FPS // 2])
    rows = [(name, data, "video") for name, data in videos.items()] + [("still", still, "image"),
                                                                       ("still_copy", still, "image")]
    table = run_stages([PerceptualHash(), VideoPerceptualHash()], video_table(rows))
    signatures = signature_table(table, [PHASH, VIDEO_PHASH])
    removed = video_phash_duplicates(signatures, max_distance=8).to_pylist()
    assert {r["sample_id"] for r in removed} == {"vp9_small", "x264_crf45", "mpeg4_5fps", "cut_short"}
    assert {r["duplicate_of"] for r in removed} == {"original"}  # kept: the first in input order
    assert {r["dedup_method"] for r in removed} == {"video_phash_v1"}
    images = phash_duplicates(signatures, max_distance=8).to_pylist()
    assert [(r["sample_id"], r["duplicate_of"]) for r in images] == [("still_copy", "still")]
    # Images only (no video signature at all) find nothing; one-frame videos (no middle anchor) still match.
    assert video_phash_duplicates(signatures.filter(pc.is_null(signatures.column(VIDEO_PHASH)))).num_rows == 0
    short = signatures.filter(pc.is_valid(signatures.column(VIDEO_PHASH))).slice(0, 2)
    one_frame = pa.array([[0b101], [0b110]], pa.list_(pa.uint64()))  # 2 bits apart
    short = short.set_column(short.schema.get_field_index(VIDEO_PHASH), VIDEO_PHASH, one_frame)
    assert video_phash_duplicates(short).num_rows == 1


def test_video_phash_banding_finds_every_planted_copy() -> None:
    # Copies flip <= 8 bits per frame (so an anchor frame always shares a band): the banded search must
    # return exactly the pairs a brute-force check over all pairs accepts.
    table = planted_video_signatures(n=150, seed=3)
    removals = video_phash_duplicates(table, max_distance=8)
    hashes, lengths = padded_signatures(table.column(VIDEO_PHASH))
    i, j = np.triu_indices(table.num_rows, k=1)
    close = sequences_close(hashes, lengths, np.stack([i, j], axis=1), 8)
    ids = table.column(S.SAMPLE_ID).to_pylist()
    expected = {ids[b] for b in j[close]}  # the later id of each pair goes (every pair here is one copy)
    assert expected and set(removals.column(S.SAMPLE_ID).to_pylist()) == expected


def test_job_keeps_one_of_two_near_identical_videos_among_images(tmp_path: Path, videos: dict[str, bytes]) -> None:
    src = tmp_path / "in"
    make_demo_folder(src, n_scenes=6, n_crops=0, n_duplicates=0, with_video=False)
    for name, key in (("clip.mp4", "original"), ("clip_reencoded.webm", "vp9_small"), ("other.mp4", "other")):
        (src / name).write_bytes(videos[key])
        (src / name.replace(".mp4", ".txt").replace(".webm", ".txt")).write_text(f"a pan across a photo ({key})")
    data = job_dict(src, tmp_path / "out", drop=NO_MODELS + MIXTURE)
    # the kept copy may be the small one; let it reach the output
    data["steps"][step_index(data, "video_resolution")]["min_short_side"] = 64
    run_job(resolve(data), use_ray=False, progress=False)
    rejects = pq.read_table(tmp_path / "out" / "rejects").to_pylist()
    by_video = [r for r in rejects if r["reason"] == "dedup_v1:video_phash_v1"]
    assert len(by_video) == 1
    pair = {"clip.mp4", "clip_reencoded.webm"}
    assert by_video[0]["locator"] in pair and by_video[0]["duplicate_of"]
    accepted = pq.read_table(tmp_path / "out" / "parquet", columns=["locator"]).column(0).to_pylist()
    assert len(pair & set(accepted)) == 1 and "other.mp4" in accepted
