"""Which copy a dedup step keeps, seen from the command line: ``keep: first`` is input order, ``keep:
best`` the documented quality key, and the ids do not depend on how the input path is spelled."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import yaml
from PIL import Image

from mmcurate.jobs.cli import main
from mmcurate.pipeline.readers.base import WorkUnit
from mmcurate.pipeline.readers.folder import FolderReader


def _photo(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def _ids(folder: Path) -> dict[str, str]:
    reader = FolderReader(path=str(folder))
    unit = WorkUnit(unit_id="u00-000000", input_index=0, spec=json.dumps(reader.plan()[0]))
    table = reader.read_unit(unit)
    return dict(zip(table.column("locator").to_pylist(), table.column("sample_id").to_pylist()))


def _run(job_path: Path, *extra: str) -> int:
    return main(["run", str(job_path), "--local", "--no-progress", *extra])


def _job(tmp_path: Path, folder: str, out: Path, keep: str) -> Path:
    job = tmp_path / f"job_{keep}.yaml"
    job.write_text(yaml.safe_dump({
        "inputs": [{"kind": "folder", "path": folder}],
        "steps": [{"use": "image_decode"}, {"use": "exact_dedup", "keep": keep}],
        "output": {"path": str(out)},
    }))
    return job


def _accepted(out: Path) -> set[str]:
    table = pads.dataset(out / "parquet", format="parquet").to_table(columns=["locator"])
    return set(table.column("locator").to_pylist())


def test_keep_first_is_input_order_not_the_lowest_sample_id(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(1, (64, 48)).save(folder / "a_original.png")
    (folder / "a_original.txt").write_text("portrait of an astronaut in a flight suit")
    # The later copy gets a caption that makes its sample_id the smaller one: the old rule kept it.
    for k in range(64):
        _photo(1, (64, 48)).save(folder / "b_copy.png")
        (folder / "b_copy.txt").write_text(f"astronaut again {k}")
        ids = _ids(folder)
        if ids["b_copy.png"] < ids["a_original.png"]:
            break
    assert ids["b_copy.png"] < ids["a_original.png"]
    assert _run(_job(tmp_path, str(folder), tmp_path / "out", "first")) == 0
    assert _accepted(tmp_path / "out") == {"a_original.png"}


def test_keep_best_keeps_the_larger_photo_then_the_longer_caption(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    big = _photo(2, (451, 300))
    big.resize((200, 150)).save(folder / "a_thumb.png")  # first in input order, smaller
    (folder / "a_thumb.txt").write_text("cat, full caption of the thumbnail that is long")
    big.save(folder / "b_photo.png")
    (folder / "b_photo.txt").write_text("cat")
    _photo(3, (64, 64)).save(folder / "c_short.png")
    (folder / "c_short.txt").write_text("a dog")
    _photo(3, (64, 64)).save(folder / "d_long.png")
    (folder / "d_long.txt").write_text("a brown dog asleep on a red sofa")
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "inputs": [{"kind": "folder", "path": str(folder)}],
        # pHash catches the thumbnail (a resize); exact pixels the same-size copies
        "steps": [{"use": "image_decode"}, {"use": "dedup", "keep": "best"}],
        "output": {"path": str(tmp_path / "out")},
    }))
    assert _run(job) == 0
    assert _accepted(tmp_path / "out") == {"b_photo.png", "d_long.png"}


def test_sample_ids_do_not_depend_on_the_spelling_of_the_input_path(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _photo(4, (40, 40)).save(folder / "x.png")
    (folder / "x.txt").write_text("noise")
    monkeypatch.chdir(tmp_path)
    assert _run(_job(tmp_path, "in", tmp_path / "rel", "first")) == 0
    assert _run(_job(tmp_path, str(folder), tmp_path / "abs", "first")) == 0

    def ids(out: Path) -> list[str]:
        return pads.dataset(out / "parquet", format="parquet").to_table(columns=["sample_id"]).column(0).to_pylist()

    assert ids(tmp_path / "rel") == ids(tmp_path / "abs")
    assert os.path.isabs(pads.dataset(tmp_path / "rel" / "parquet", format="parquet")
                         .to_table(columns=["source"]).column(0)[0].as_py())
