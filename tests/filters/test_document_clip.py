"""doc_clip: image-to-neighbouring-text CLIP similarity per node with the bundled tiny CLIP on generated
scenes (the same cosine clip_score gives the pair), the threshold decided per node with its reason, and
MMC4's linear assignment on planted pairs."""

from __future__ import annotations

import numpy as np
import pytest

from mmcurate.filters.clip_score import ClipScoreFilter
from mmcurate.filters.document_clip import DocumentClipFilter, assigned_scores, neighbour_scores
from mmcurate.filters.media import image_item
from mmcurate.pipeline.documents.rows import document_row
from mmcurate.pipeline.generate.shapes import make_scene
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas.document import DOCUMENT_SCHEMA, image_node, text_node
from mmcurate.schemas.table import to_table

FRESH = 2_000_000_000  # seeds the tiny CLIP never trained on
N = 24


def documents(docs: list[tuple[list[dict], list]]):
    rows = []
    for i, (nodes, images) in enumerate(docs):
        row = document_row(WorkUnit("u", 0, "{}"), i, source="t", locator=str(i), url=None, nodes=nodes)
        row["media"] = [image_item(im) for im in images]
        rows.append(row)
    for r in rows:
        r["unit_rows"] = len(rows)
    return to_table(rows, DOCUMENT_SCHEMA)


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(FRESH + i) for i in range(N)]


def test_neighbouring_text_scores_match_clip_score_and_low_images_are_removed(scenes, make_rows, make_table):
    # Document i: an unrelated paragraph far away, then the image, then caption i (matched) or i+1.
    pairs = [(i, i if i % 2 == 0 else (i + 1) % N) for i in range(N)]
    docs = [([text_node(scenes[(i + 5) % N].caption), text_node("filler words here"), image_node(f"u{i}", None, 0),
              text_node(scenes[j].caption)], [scenes[i].image]) for i, j in pairs]
    expected = run_stage(ClipScoreFilter(), make_table(make_rows(
        [([scenes[i].image], scenes[j].caption) for i, j in pairs]))).column("clip_score_v1_mean").to_pylist()
    scored = run_stage(DocumentClipFilter(), documents(docs)).to_pylist()
    image_scores = [r["doc_clip_v1_scores"][2] for r in scored]
    # window 1: the image sees "filler words here" and its caption; the caption wins for matched pairs
    assert [r["doc_clip_v1_assigned"][2] in (1, 3) for r in scored] == [True] * N
    for got, want, row in zip(image_scores, expected, scored):
        if row["doc_clip_v1_assigned"][2] == 3:
            assert got == pytest.approx(want, abs=1e-4)
    threshold = float(np.median(image_scores))
    cut = run_stage(DocumentClipFilter(min_similarity=threshold), documents(docs)).to_pylist()
    for row, score in zip(cut, image_scores):
        removed = row["doc_nodes"][2]["removed"]
        assert removed == ("doc_clip_v1:low_similarity" if score < threshold else None)
        assert row["doc_clip_v1_removed"] == (removed is not None) and row["status"] == "ok"  # text-only stays
    matched = np.mean([s for s, (i, j) in zip(image_scores, pairs) if i == j])
    assert matched > np.mean([s for s, (i, j) in zip(image_scores, pairs) if i != j])


def test_mmc4_assignment_on_planted_pairs():
    # images x paragraphs; the planted best one-to-one match is image0-p2, image1-p0, image2-p1,
    # though image1 alone prefers p2 (a greedy match would take it).
    sim = np.array([[0.1, 0.2, 0.9], [0.6, 0.1, 0.7], [0.2, 0.8, 0.3]])
    assert assigned_scores(sim, [10, 20, 30]) == [(0.9, 30), (0.6, 10), (0.8, 20)]
    # more images than paragraphs: one is left over
    assert sorted(a for _, a in assigned_scores(sim[:, :2], [10, 20]) if a is not None) == [10, 20]
    # neighbours: image0 at node 1 sees paragraphs at 0 and 4 only; image1 at node 5 sees 4 and 8
    assert neighbour_scores(sim, [1, 5, 9], [0, 4, 8], window=1)[:2] == [(0.2, 4), (0.7, 8)]


def test_assignment_method_in_the_stage(scenes):
    picked = [s for s in scenes if s.kind == scenes[0].kind][:1] + [s for s in scenes if s.kind != scenes[0].kind][:2]
    order = [2, 0, 1]  # paragraphs in another order than the images
    nodes = [image_node(f"u{k}", None, k) for k in range(3)] + [text_node(picked[k].caption) for k in order]
    nodes.append(image_node("u3", None, 3))  # a fourth image: no paragraph left for it
    row = run_stage(DocumentClipFilter(method="assignment", min_similarity=-1.0),
                    documents([(nodes, [s.image for s in picked] + [picked[0].image])])).to_pylist()[0]
    assigned = row["doc_clip_v1_assigned"]
    assert sorted(a for a in assigned[:3] + assigned[6:] if a is not None) == [3, 4, 5]  # one-to-one
    left = [k for k in (0, 1, 2, 6) if assigned[k] is None]
    assert len(left) == 1 and row["doc_nodes"][left[0]]["removed"] == "doc_clip_v1:unassigned"
