"""The CLIP filters' device path (filters/clip_device.py) against the PIL path, with the bundled tiny CLIP on
CPU: the same embeddings within resampling noise, the same rejects, and ClipScoreFilter's scores and
decisions unchanged when it is forced on."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from mmcurate.filters.clip_model import TINY_CLIP_ARCH, TINY_CLIP_CONFIG, TINY_CLIP_WEIGHTS, ClipEmbedder
from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.filters.media import image_item
from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas import sample as S

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
FRESH = 2_000_000_000  # scene seeds far from the tiny CLIP's training range


@pytest.fixture(scope="module")
def embedder() -> ClipEmbedder:
    return ClipEmbedder.from_files(TINY_CLIP_ARCH, TINY_CLIP_WEIGHTS, TINY_CLIP_CONFIG, device="cpu", batch_size=4)


def _jpegs() -> list[bytes]:
    """Photo crops and scenes of many sizes (landscape, portrait, smaller than the model's 64 px)."""
    photos = list(mc.skimage_photos().values())[:6]
    boxes = [(0, 0, 300, 200), (20, 10, 170, 310), (0, 0, 48, 40), (30, 30, 330, 330), (0, 0, 251, 199), (5, 0, 64, 64)]
    out = [mc.encode(p.convert("RGB").crop(b), "JPEG", quality=90) for p, b in zip(photos, boxes)]
    return out + [mc.encode(make_scene(FRESH + i, size=160).image.crop((0, 0, 160, 100 + 7 * i)), "JPEG")
                  for i in range(5)]


def test_embed_jpeg_bytes_matches_the_pil_path(embedder: ClipEmbedder) -> None:
    datas = _jpegs()
    pil = embedder.embed_images([Image.open(io.BytesIO(d)).convert("RGB") for d in datas])
    ours, rejects = embedder.embed_jpeg_bytes(datas)  # batch_size 4: three batches
    assert rejects == [None] * len(datas)
    cosine = (pil * ours).sum(axis=1)
    assert cosine.min() > 0.99, cosine  # measured ~0.9999: bicubic in float vs Pillow's uint8 passes
    one_batch = ClipEmbedder(embedder.model, embedder.tokenizer, "cpu", batch_size=64).embed_jpeg_bytes(datas)[0]
    np.testing.assert_allclose(ours, one_batch, atol=1e-5)  # the batching changes nothing


def test_rejected_items_keep_their_place_and_reason(embedder: ClipEmbedder) -> None:
    good = _jpegs()[:3]
    png = mc.encode(make_scene(FRESH, size=96).image, "PNG")
    datas = [good[0], mc.truncated_jpeg(Image.new("RGB", (256, 256), (200, 30, 30))), good[1], b"", png,
             b"<html>Not Found</html>", good[2]]
    emb, rejects = embedder.embed_jpeg_bytes(datas)
    assert [r.reason if r else None for r in rejects] == [None, "image_truncated", None, "empty_body", None,
                                                          "not_an_image", None]
    bad = [1, 3, 5]
    assert np.isnan(emb[bad]).all() and not np.isnan(np.delete(emb, bad, axis=0)).any()
    np.testing.assert_allclose(np.linalg.norm(np.delete(emb, bad, axis=0), axis=1), 1.0, atol=1e-5)
    want = embedder.embed_images([Image.open(io.BytesIO(png)).convert("RGB")])[0]
    assert float(emb[4] @ want) > 0.9999  # a PNG goes through Pillow on the host: the PIL path's pixels


def _rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        scene = make_scene(FRESH + 100 + i, size=160)
        caption = scene.caption if i % 2 == 0 else make_scene(FRESH + 100 + i + 1).caption
        rows.append({S.MEDIA: [image_item(scene.image.crop((0, 0, 160, 112 + i % 48)), "JPEG")], S.CAPTION: caption})
    extra = make_scene(FRESH + 99, size=120).image
    rows[3][S.MEDIA].append(image_item(extra, "PNG"))  # a PNG beside a JPEG: host path, same row
    broken = dict(image_item(extra, "JPEG"), bytes=mc.truncated_jpeg(extra))
    rows[5][S.MEDIA].insert(0, broken)  # undecodable: a null score at its place, both ways
    rows[7][S.MEDIA] = []  # no image at all: no_image
    return rows


def _threshold(scores: np.ndarray, margin: float) -> float:
    """A cut near the median with no score within ``margin`` of it (so decisions cannot flip on noise)."""
    s = np.sort(scores[~np.isnan(scores)])
    gaps = [(s[k + 1] - s[k], k) for k in range(len(s) // 4, 3 * len(s) // 4)]
    width, k = max(gaps)
    assert width > 2 * margin
    return float((s[k] + s[k + 1]) / 2)


def test_clip_score_filter_forced_on_device_keeps_scores_and_decisions(make_table) -> None:
    table = make_table(_rows(40))
    pil = ClipScoreFilter(batch_size=16, decode_on_device=False, write_embedding=True)
    scores = np.array(run_stage(pil, table).column("clip_score_v1_mean").to_pylist(), dtype=np.float64)
    cut = _threshold(scores, margin=0.01)
    outs = {}
    for on in (False, True):
        stage = ClipScoreFilter(batch_size=16, decode_on_device=on, write_embedding=True, min_score=cut)
        stage.ensure_setup()
        assert stage._device_path is on
        outs[on] = run_stage(stage, table).to_pylist()
    for a, b in zip(outs[False], outs[True]):
        assert (a[S.STATUS], a[S.DROP_REASON]) == (b[S.STATUS], b[S.DROP_REASON])
        items_a, items_b = a["clip_score_v1_images"], b["clip_score_v1_images"]
        assert [v is None for v in items_a or []] == [v is None for v in items_b or []]
        for x, y in zip(items_a or [], items_b or []):
            assert x is None or abs(x - y) < 5e-3  # measured: <= ~1e-3
        assert a["clip_score_v1_n_images"] == b["clip_score_v1_n_images"]
        for ea, eb in zip(a["clip_score_v1_embedding"] or [], b["clip_score_v1_embedding"] or []):
            assert (ea is None) == (eb is None)
            assert ea is None or float(np.dot(ea, eb)) > 0.99
    statuses = [r[S.STATUS] for r in outs[True]]
    assert "ok" in statuses and "rejected" in statuses  # the cut really splits the rows
    assert outs[True][5]["clip_score_v1_images"][0] is None and outs[True][5]["clip_score_v1_images"][1] is not None
    assert outs[True][3]["clip_score_v1_n_images"] == 2
    assert outs[True][7][S.DROP_REASON] == "clip_score_v1:no_image"


def test_device_path_is_automatic_only_on_cuda() -> None:
    stage = ClipScoreFilter()
    stage.ensure_setup()
    assert stage._embedder.device == "cpu" and not stage._device_path  # CPU keeps the PIL path
    stage._embedder.device = "cuda:0"  # what a GPU actor has: the rule, without a GPU
    assert stage._on_device()
    stage.decode_on_device = False
    assert not stage._on_device()
