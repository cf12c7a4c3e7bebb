"""Output folders for the stats tests: one real pipeline run (no Ray) and one small synthetic folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def job_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default image-text job over a small generated input: real rejects, dedup removals, media."""
    from mmcurate.jobs.cli import run_job
    from mmcurate.jobs.job_file import resolve
    from mmcurate.jobs.load import default_job_path
    from mmcurate.jobs.yaml_safe import load_yaml
    from mmcurate.pipeline.generate.demo_folder import make_demo_folder

    root = tmp_path_factory.mktemp("stats_job")
    make_demo_folder(root / "input", n_scenes=20, n_crops=5, n_duplicates=2, with_video=False)
    config = resolve(
        {
            "inputs": [{"kind": "folder", "path": str(root / "input"), "unit_rows": 20}],
            "steps": load_yaml(default_job_path())["steps"],
            "output": {"path": str(root / "out"), "formats": ["parquet", "webdataset"]},
        }
    )
    run_job(config, use_ray=False, progress=False)
    return root / "out"


@pytest.fixture(scope="session")
def synthetic_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic folder with score and token columns, clips and a token budget in job.json."""
    from mmcurate.jobs.stats.synthetic import make_synthetic_output

    return make_synthetic_output(
        tmp_path_factory.mktemp("stats_synth") / "out", rows=5000, unit_rows=1000, with_bytes=True
    )


@pytest.fixture(scope="session")
def untokenized_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic folder without token columns: the tokens section must say "not tokenized"."""
    from mmcurate.jobs.stats.synthetic import make_synthetic_output

    return make_synthetic_output(
        tmp_path_factory.mktemp("stats_plain") / "out",
        rows=2000,
        unit_rows=1000,
        with_bytes=True,
        with_tokens=False,
    )
