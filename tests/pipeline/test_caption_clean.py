from __future__ import annotations

import pytest
from helpers import sample_table

from mmcurate.pipeline.caption_clean import CaptionClean, clean_caption
from mmcurate.pipeline.runner import run_stage
from mmcurate.schemas import sample as S


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<b>Buy</b> &amp; <i>save</i><script>alert(1)</script>", "Buy & save"),
        ("cafe\u0301 au lait", "caf\u00e9 au lait"),  # NFC
        ("evil\u202egnp.exe zero\u200bwidth", "evilgnp.exe zerowidth"),
        ("tab\tand\x00nul\x07bell", "tab and nul bell"),
        ("  many   spaces\n\nnewlines ", "many spaces newlines"),
    ],
)
def test_clean_caption(raw: str, clean: str) -> None:
    assert clean_caption(raw) == clean


def test_stage_rejects_empty_and_overlong_and_flags_normalised() -> None:
    table = sample_table([(b"x", "  "), (b"x", "word " * 200_000), (b"x", "<p>fine</p>"), (b"x", None), (b"x", "plain")])
    rows = run_stage(CaptionClean(max_chars=1000), table).to_pylist()
    assert [r[S.DROP_REASON] for r in rows] == [
        "caption_clean_v1:caption_empty", "caption_clean_v1:caption_too_long", None, "caption_clean_v1:caption_empty", None]
    assert rows[2][S.CAPTION] == "fine" and rows[2][S.FLAGS] == ["caption_normalized"]
    assert rows[4][S.CAPTION] == "plain" and rows[4][S.FLAGS] == []


def test_optional_captions_may_be_missing() -> None:
    rows = run_stage(CaptionClean(require=False), sample_table([(b"x", None), (b"x", " ")])).to_pylist()
    assert [r[S.STATUS] for r in rows] == ["ok", "ok"] and rows[1][S.CAPTION] is None
