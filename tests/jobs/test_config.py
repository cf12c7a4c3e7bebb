from __future__ import annotations

from pathlib import Path

import pytest

from mmcurate.jobs.cli import default_config_path, main
from mmcurate.jobs.config import ConfigError, config_from_dict, config_hash, load_config


def test_default_config_loads_typed() -> None:
    cfg = load_config(default_config_path())
    assert cfg.inputs[0].kind == "folder" and cfg.decode.max_aspect == 20.0 and cfg.ray.address is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inputs": [{"path": "x"}], "decode": {"max_pxels": 5}}, "'decode.max_pxels'"),
        ({"inputs": [{"path": "x"}], "colour": 1}, "'colour'"),
        ({"inputs": [{"path": "x", "kind": "tarball"}]}, "inputs[0].kind"),
        ({"inputs": [{"path": "x"}], "decode": {"min_side": "big"}}, "decode.min_side"),
        ({"inputs": [{"kind": "folder"}]}, "path"),
    ],
)
def test_bad_configs_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict(data)


def test_set_overrides_and_hash_ignores_where_it_runs(tmp_path: Path) -> None:
    base = load_config(default_config_path())
    moved = load_config(default_config_path(), ["output=/elsewhere", "ray.address=10.0.0.1:6379"])
    changed = load_config(default_config_path(), ["decode.min_side=64"])
    assert moved.ray.address == "10.0.0.1:6379" and changed.decode.min_side == 64
    assert config_hash(base) == config_hash(moved) != config_hash(changed)


def test_cli_reports_unknown_key_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(default_config_path()), "--set", "shards.formatz=[x]", "--output", str(tmp_path)])
    assert code == 2 and "shards.formatz" in capsys.readouterr().err


def test_cli_run_local_folder_with_input_and_output(tmp_path: Path, ray_session: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from mmcurate.pipeline.generate.demo_folder import make_demo_folder

    make_demo_folder(tmp_path / "in", n_scenes=6, n_crops=0, n_duplicates=0)
    code = main(["run", str(default_config_path()), "--input", str(tmp_path / "in"), "--output",
                 str(tmp_path / "out"), "--address", ray_session, "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0 and "accepted" in printed and "image_decode_v1:decompression_bomb" in printed
    assert (tmp_path / "out" / "manifest.parquet").exists()


def test_set_reaches_into_lists() -> None:
    cfg = load_config(default_config_path(), ["inputs.0.url_column=url", "inputs.0.kind=parquet"])
    assert cfg.inputs[0].url_column == "url" and cfg.inputs[0].kind == "parquet"
    with pytest.raises(ConfigError, match="inputs.3.kind"):
        load_config(default_config_path(), ["inputs.3.kind=csv"])
