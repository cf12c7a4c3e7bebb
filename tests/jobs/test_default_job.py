"""The packaged default job judges nothing it cannot judge: no bundled toy CLIP on real photos and no
template instructions unless asked; the demo job turns both on for its own generated scenes."""

from __future__ import annotations

import pytest
import yaml

from mmcurate.jobs.cli import main
from mmcurate.jobs.load import default_job_path
from mmcurate.jobs.yaml_safe import load_yaml

MODEL_STEPS = {"clip_score", "clip_frames", "synthesize"}


def test_config_show_of_the_default_job_has_no_model_or_synthesis_steps(capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show"]) == 0
    uses = {s["use"] for s in yaml.safe_load(capsys.readouterr().out)["steps"]}
    assert not uses & MODEL_STEPS
    assert {"image_decode", "dedup", "count_tokens"} <= uses


def test_the_demo_job_keeps_clip_and_synthesis_explicitly() -> None:
    uses = {s["use"] for s in load_yaml(default_job_path("demo.yaml"))["steps"]}
    assert MODEL_STEPS <= uses


def test_clip_score_stays_available_as_a_step(capsys: pytest.CaptureFixture) -> None:
    assert main(["steps"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines() if line and not line.startswith(" ")}
    assert MODEL_STEPS <= names
