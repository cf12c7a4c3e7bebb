"""Job files of steps: typed from the components' own fields, one-line errors before Ray, --set by index
and by name, the resolved job recorded in job.json and runnable again to the same hash and bytes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e_support import MIXTURE, NO_MODELS, folder_digest, job_dict

from mmcurate.jobs.cli import main
from mmcurate.jobs.job_file import config_hash, resolve, resolved_data
from mmcurate.jobs.load import load_job
from mmcurate.jobs.typed import ConfigError


def _job(steps: list, **extra) -> dict:
    return {"inputs": [{"kind": "folder", "path": "."}], "steps": steps, **extra}


def test_default_job_resolves_to_components_with_one_default_each() -> None:
    from mmcurate.pipeline.dedup.phash import PHASH_MAX_DISTANCE

    job = load_job(None)
    uses = [s.use for s in job.steps]
    assert uses[:3] == ["download", "image_decode", "audio_decode"] and uses[-2:] == ["balance", "pack"]
    assert uses.index("caption_clean") < uses.index("dedup")
    dedup = job.steps[uses.index("dedup")].component
    assert dedup.phash_max_distance == PHASH_MAX_DISTANCE == 4  # one default, in one place
    steps = resolved_data(job)["steps"]
    assert steps[1]["min_side"] == 16 and steps[1]["max_pixels"] == 50_000_000  # defaults filled in


BAD_JOBS = [
    (_job([{"use": "image_decod"}]), "steps[0].use: unknown step 'image_decod'"),
    (_job([{"use": "image_decode", "min_sid": 3}]), "steps[0] (image_decode).min_sid: unknown parameter"),
    (_job([{"use": "word_count", "min_words": "three"}]), "steps[0] (word_count).min_words: expected int, got 'three'"),
    (_job([{"use": "caption_clean"}, {"use": "image_decode", "min_side": -5}]),
     "steps[1] (image_decode).min_side: must be >= 1, got -5"),
    (_job([{"use": "dedup", "keep": "biggest"}]), "steps[0] (dedup).keep: must be one of ['first', 'best', 'area', 'clip_score']"),
    (_job([{"use": "clip_score_cut"}]), "steps[0] (clip_score_cut).min_score: required parameter is missing"),
    (_job([{"use": "pack"}, {"use": "image_decode"}]), "steps[1] (image_decode): must come before steps[0] (pack)"),
    (_job([], colour=1), "colour: unknown key"),
    ({"inputs": [{"kind": "tarball", "path": "."}], "steps": []}, "inputs[0].kind: must be one of"),
]


@pytest.mark.parametrize(("data", "message"), BAD_JOBS)
def test_bad_jobs_fail_with_one_line_naming_index_key_and_value(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(data)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_set_by_index_and_by_unique_step_name_and_hash_ignores_where_it_runs() -> None:
    base = load_job(None)
    by_name = load_job(None, ["image_decode.min_side=64"])
    by_index = load_job(None, ["steps.1.min_side=64"])
    moved = load_job(None, ["output.path=/elsewhere", "ray.address=10.0.0.1:6379"])
    assert by_name.steps[1].component.min_side == by_index.steps[1].component.min_side == 64
    assert config_hash(base) == config_hash(moved) != config_hash(by_name) == config_hash(by_index)
    nested = load_job(None, ["download.policy.max_bytes=1024", "inputs.0.unit_rows=7"])
    assert nested.steps[0].component.policy.max_bytes == 1024 and nested.inputs[0].reader.unit_rows == 7


@pytest.mark.parametrize(("sets", "message"), [
    (["steps.40.min_side=3"], "'40' is not an index of a 17-item list"),
    (["resize.max_side=3"], "'resize' is neither a job key"),
    (["image_decode.min_side"], "--set expects key=value"),
    (["steps.1=3"], "name a parameter"),
])
def test_bad_set_paths_are_one_line_errors(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_job(None, sets)


def test_ambiguous_step_name_asks_for_the_index() -> None:
    data = _job([{"use": "word_count"}, {"use": "word_count"}])
    from mmcurate.jobs.overrides import apply_overrides

    with pytest.raises(ConfigError, match=r"steps \[0, 1\] all use 'word_count'"):
        apply_overrides(data, ["word_count.min_words=2"])


_PROBE = """
import json, sys
from mmcurate.jobs.cli import main
codes = [main(args) for args in json.loads(sys.argv[1])]
import ray
print(json.dumps({"codes": codes, "ray": ray.is_initialized()}))
"""


def test_cli_bad_jobs_exit_2_with_one_line_and_start_no_ray(tmp_path: Path) -> None:
    files = []
    for i, (data, _) in enumerate(BAD_JOBS[:5]):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text(yaml.safe_dump(data))
        files.append(["run", str(path), "--output", str(tmp_path / "out")])
    files.append(["run", "--set", "steps.99.min_side=1", "--output", str(tmp_path / "out")])
    files.append(["config", "show", "--set", "image_decode.max_aspect=-1"])
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(files)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"codes": [2] * len(files), "ray": False}
    errors = [line for line in done.stderr.splitlines() if line.startswith("mmcurate: error:")]
    assert len(errors) == len(files) and "Traceback" not in done.stderr


def test_steps_json_lists_every_public_filter_with_its_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    import mmcurate.filters
    from mmcurate.jobs.catalog import step_class

    assert main(["steps", "--json"]) == 0
    steps = json.loads(capsys.readouterr().out)
    assert all({"name", "kind", "class", "doc", "params"} <= set(s) for s in steps)
    classes = {step_class(s["name"]) for s in steps}
    for name in mmcurate.filters.__all__:
        assert getattr(mmcurate.filters, name) in classes, name
    word_count = next(s for s in steps if s["name"] == "word_count")
    assert word_count["kind"] == "filter" and word_count["params"]["min_words"]["type"] == "int"
    assert {s["kind"] for s in steps} == {"stage", "filter", "pass", "output"}


def test_config_show_prints_the_resolved_job_that_resolves_to_the_same_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "--set", "image_decode.min_side=48"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["steps"][1]["min_side"] == 48 and "jpeg_quality" in shown["steps"][1]
    assert config_hash(resolve(shown)) == config_hash(load_job(None, ["image_decode.min_side=48"]))


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("mmcurate ")


def test_job_json_records_the_job_and_reruns_to_the_same_hash_and_bytes(tmp_path: Path) -> None:
    from mmcurate.pipeline.generate.demo_folder import make_demo_folder

    make_demo_folder(tmp_path / "in", n_scenes=6, n_crops=0, n_duplicates=1, with_video=False)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(job_dict(tmp_path / "in", tmp_path / "a", drop=NO_MODELS + MIXTURE)))
    assert main(["run", str(job), "--local", "--no-progress"]) == 0
    record = json.loads((tmp_path / "a" / "job.json").read_text())
    assert record["mmcurate_version"] and record["command"][:2] == ["mmcurate", "run"]
    assert [s["use"] for s in record["steps"]][:3] == ["download", "image_decode", "audio_decode"]
    assert main(["run", str(tmp_path / "a" / "job.json"), "--output", str(tmp_path / "b"), "--local",
                 "--no-progress"]) == 0
    again = json.loads((tmp_path / "b" / "job.json").read_text())
    assert again["config_hash"] == record["config_hash"]
    assert folder_digest(tmp_path / "b") == folder_digest(tmp_path / "a")


@pytest.mark.parametrize(("sets", "message"), [
    (["download.policy.total_timeout=.inf"], "steps[0] (download).policy.total_timeout: must be a finite number"),
    (["download.policy.total_timeout=.nan"], "must be a finite number"),
    (["image_decode.formats=[EXE]"], "unknown image format 'EXE'"),
    (["output.formats=[]"], "accepted rows would be written nowhere"),
    (["output.formats=[webdataset]"], "steps[15] (balance): reads the accepted Parquet shards"),
    (["inputs.0.unit_rows=0"], "inputs[0] (folder).unit_rows: must be >= 1, got 0"),
    (["image_decode.min_side=*x"], "--set image_decode.min_side: the value is not plain YAML"),
])
def test_values_that_would_fail_every_row_are_refused_before_ray(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_job(None, sets)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_input_kind_is_judged_by_content_and_recorded(tmp_path: Path) -> None:
    """A folder of tars named like nothing in particular is WebDataset; a .tar.gz is not read as JSONL."""
    import io
    import tarfile

    from mmcurate.pipeline.generate.demo_folder import make_demo_folder

    make_demo_folder(tmp_path / "src", n_scenes=2, n_crops=0, n_duplicates=0, with_video=False)
    (tmp_path / "shards").mkdir()
    for name, mode in (("a.tar", "w"), ("b.tar.gz", "w:gz")):
        with tarfile.open(tmp_path / "shards" / name, mode) as tar:
            for i, path in enumerate(sorted((tmp_path / "src").glob("scene_*.png"))[:2]):
                for suffix, data in ((".png", path.read_bytes()), (".txt", b"a generated scene")):
                    info = tarfile.TarInfo(f"{name.split('.')[0]}{i:03d}{suffix}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    job = load_job(None, inputs=[str(tmp_path / "shards"), str(tmp_path / "shards" / "b.tar.gz")])
    assert [i.kind for i in job.inputs] == ["webdataset", "webdataset"]
    assert [i["kind"] for i in resolved_data(job)["inputs"]] == ["webdataset", "webdataset"]  # in job.json
