"""`mmcurate.filters` exports every filter by name, lazily: importing the package loads no model library."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import mmcurate.filters as F
from mmcurate.pipeline.filter import Filter

HEAVY = ("torch", "open_clip", "tesserocr", "rapidocr_onnxruntime", "py3langid", "ray")


def test_importing_the_package_and_its_classes_stays_light():
    code = ("import sys, mmcurate.filters as F\n"
            "[getattr(F, n) for n in F.__all__]\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # models load in setup(), not at import


@pytest.mark.parametrize("name", F.__all__)
def test_every_public_name_is_a_versioned_filter(name):
    cls = getattr(F, name)
    assert issubclass(cls, Filter) and re.fullmatch(r"[a-z][a-z0-9_]*_v\d+", cls.name)


def test_masked_clip_score_is_t_mars():
    assert F.MaskedClipScoreFilter is F.TMarsFilter and F.MaskedClipScoreFilter.name == "tmars_v1"
    assert {"ClipScoreFilter", "OcrFilter", "MaskedClipScoreFilter", "CaptionLanguageFilter",
            "BoilerplateCaptionFilter", "CaptionIsOcrFilter"} <= set(F.__all__)
    with pytest.raises(AttributeError):
        F.NoSuchFilter  # noqa: B018
