"""The --where language: parses into Arrow expressions that filter like hand-written compute, and
refuses anything that is not a condition on columns (no eval anywhere)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mmcurate.jobs.stats.columns import add_virtual
from mmcurate.jobs.stats.where import WhereError, parse_where

TABLE = pa.table(
    {
        "caption": ["a red car", "dog", None, "the quick brown fox jumps", "Dog on a mat"],
        "score_v1_score": [0.1, 0.5, 0.9, None, 0.3],
        "n": [1, 2, 3, 4, 5],
        "media": pa.array(
            [
                [{"width": 600, "height": 300}],
                [{"width": 100, "height": 100}],
                [],
                [{"width": 1024, "height": 768}, {"width": 5, "height": 5}],
                None,
            ]
        ),
    }
)


def _filter(text: str) -> list[int]:
    where = parse_where(text)
    batch = add_virtual(TABLE.to_batches()[0], where.names)
    return pa.Table.from_batches([batch]).filter(where.expression)["n"].to_pylist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("width > 512 and caption_len < 20", [1]),
        ("width > 512 or caption_len < 4", [1, 2, 4]),
        ("not (n in (1, 2))", [3, 4, 5]),
        ("score_v1_score >= 0.3 and score_v1_score <= 0.5", [2, 5]),
        ("score_v1_score is null", [4]),
        ("score_v1_score is not null and n != 1", [2, 3, 5]),
        ("caption contains 'og'", [2, 5]),
        ("caption not contains 'og'", [1, 4]),
        ('caption startswith "the"', [4]),
        ("n * 2 - 1 = 5", [3]),
        ("width / height > 1.5", [1]),
        ("aspect > 1.5 or n_media = 0", [1, 3]),
        ("-n < -3", [4, 5]),
        ("n = 2e0", [2]),
    ],
)
def test_filters_match_compute(text: str, expected: list[int]) -> None:
    assert _filter(text) == expected


def test_where_equals_direct_compute() -> None:
    direct = TABLE.filter(pc.and_(pc.greater(TABLE["n"], 2), pc.less(TABLE["score_v1_score"], 0.95)))
    assert _filter("n > 2 and score_v1_score < 0.95") == direct["n"].to_pylist()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "width >",
        "width >> 3",
        "__import__('os').system('true')",
        "1 < 2",
        "n in (1, 'x')",
        "caption contains 3",
        "n not 3",
        "(n > 1",
        "n > 1)",
        "n ; 1",
        "lambda: 1",
    ],
)
def test_rejects_bad_expressions(text: str) -> None:
    with pytest.raises(WhereError):
        parse_where(text)


def test_unknown_column_named() -> None:
    with pytest.raises(WhereError, match="unknown column 'widht'"):
        parse_where("widht > 3", known={"width", "n"})
    assert parse_where("video_probe.duration_s > 3", known={"video_probe"}).names == {
        "video_probe.duration_s"
    }
