"""No user file is deleted or overwritten, two writers never share an output, inputs are pinned (issue 20, 4-7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from robust_support import JPEG, run, write_clean_folder

from mmcurate.pipeline.atomic import atomic_write, remove_temp_files
from mmcurate.pipeline.caption_clean import CaptionClean
from mmcurate.pipeline.execute import Pipeline, run_pipeline
from mmcurate.pipeline.fingerprint import DuplicateInput, check_distinct_inputs, input_fingerprint
from mmcurate.pipeline.output_guard import (
    LOCK_FILE,
    OutputBusy,
    OutputRefused,
    check_output_location,
    output_lock,
)
from mmcurate.pipeline.output_state import InputsChanged, OutputMismatch, prepare_output
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.table_file import TableFileReader
from mmcurate.pipeline.sinks.unit_writer import UnitWriter

IDENTITY = {"config_hash": "c1", "plan_hash": "p1", "schema_version": "v1", "units": 1}


def _user_folder(root: Path) -> dict[str, bytes]:
    files = {"notes.tmp-1": b"mine", "parquet/mine.parquet": b"PAR1 user data", "deep/x.jpg.tmp-abc": b"keep"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_user_folder_is_neither_written_nor_cleaned(tmp_path: Path, overwrite: bool) -> None:
    files = _user_folder(tmp_path / "out")
    with pytest.raises(OutputRefused, match="not an mmcurate output"):
        prepare_output(tmp_path / "out", IDENTITY, overwrite)
    assert _snapshot(tmp_path / "out") == files


def test_overwrite_removes_only_what_the_manifest_and_unit_names_prove_ours(tmp_path: Path) -> None:
    write_clean_folder(tmp_path / "in")
    out = tmp_path / "out"
    run([FolderReader(path=str(tmp_path / "in"))], out)
    ours = sorted(p.name for p in (out / "parquet").iterdir())
    assert ours == ["u00-000000-0000.parquet"]
    (out / "parquet" / "mine.parquet").write_bytes(b"user")  # a user's file inside an mmcurate output
    (out / "parquet" / "u00-000009-0000.parquet").write_bytes(b"ours, written then killed before commit")
    with pytest.raises(OutputMismatch):
        prepare_output(out, {**IDENTITY, "config_hash": "other"}, overwrite=False)
    prepare_output(out, {**IDENTITY, "config_hash": "other"}, overwrite=True)
    assert sorted(p.name for p in (out / "parquet").iterdir()) == ["mine.parquet"]


def test_only_our_temp_names_are_removed(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.bin", lambda fh: fh.write(b"x"))
    stale = tmp_path / f"b.bin.mmcurate-tmp-{'0' * 32}"
    stale.write_bytes(b"left by a killed run")
    for name in ("c.tmp-1", "d.mmcurate-tmp-notours", "e.mmcurate-tmp-" + "0" * 31):
        (tmp_path / name).write_bytes(b"user")
    assert remove_temp_files(tmp_path) == 1 and not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["a.bin", "c.tmp-1", "d.mmcurate-tmp-notours", "e.mmcurate-tmp-" + "0" * 31])


def test_output_overlapping_an_input_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "in", target_is_directory=True)
    for out, inp in [("in", "in"), ("in/out", "in"), ("link/out", "in"), ("out", "out/in")]:
        with pytest.raises(OutputRefused, match="inside"):
            check_output_location(str(tmp_path / out), [str(tmp_path / inp)])
    check_output_location(str(tmp_path / "out"), [str(tmp_path / "in")])
    table = tmp_path / "in" / "t.jsonl"
    table.write_text("")
    check_output_location(str(tmp_path / "out"), [str(table)])  # a table's sibling folder is fine


def test_run_pipeline_refuses_output_inside_input(tmp_path: Path) -> None:
    write_clean_folder(tmp_path / "in")
    with pytest.raises(OutputRefused, match="inside input"):
        run([FolderReader(path=str(tmp_path / "in"))], tmp_path / "in" / "out")
    assert not (tmp_path / "in" / "out").exists()


def test_the_lock_nests_within_a_process_and_is_released(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    with output_lock(out):
        assert f'"pid": {os.getpid()}' in (tmp_path / "out" / LOCK_FILE).read_text()
        with output_lock(str(tmp_path / "out" / ".")):  # the job layer holds it, run_pipeline takes it again
            pass
        assert (tmp_path / "out" / LOCK_FILE).read_text()  # still held by the outer block
    assert (tmp_path / "out" / LOCK_FILE).read_bytes() == b""  # released at exit: empty, byte-identical outputs


def test_lock_is_held_across_processes_and_dropped_by_sigkill(tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from mmcurate.pipeline.output_guard import output_lock
        with output_lock({str(out)!r}):
            print("locked", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        write_clean_folder(tmp_path / "in")
        with pytest.raises(OutputBusy, match=f'"pid": {holder.pid}'):
            run([FolderReader(path=str(tmp_path / "in"))], out)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    time.sleep(0.1)
    accepted, _ = run([FolderReader(path=str(tmp_path / "in"))], out)  # a killed holder leaves no stale lock
    assert len(accepted) == 3


def _table(path: Path, captions: list[str]) -> None:
    pq.write_table(pa.Table.from_pylist([{"image": "a.jpg", "caption": c} for c in captions]), path)


def _pipeline(reader: TableFileReader, out: Path) -> Pipeline:
    writer = UnitWriter(out_dir=str(out), formats=("parquet",), max_rows=100, max_bytes=1 << 26, config_hash="c")
    return Pipeline(readers=[reader], steps=[CaptionClean()], writer=writer)


def test_changed_input_is_not_resumed(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(JPEG)
    table = tmp_path / "in" / "t.parquet"
    _table(table, ["one", "two", "three"])
    out = tmp_path / "out"
    reader = TableFileReader(path=str(table))
    run_pipeline(_pipeline(reader, out), config_hash="c", use_ray=False, progress=False)
    run_pipeline(_pipeline(reader, out), config_hash="c", use_ray=False, progress=False)  # unchanged: resumes
    before = input_fingerprint(str(table))
    _table(table, ["uno", "dos", "tres"])  # same row count, same plan: the plan hash cannot tell
    assert input_fingerprint(str(table)) != before
    with pytest.raises(InputsChanged, match=r"input 1 \(.*t\.parquet\) changed since"):
        run_pipeline(_pipeline(reader, out), config_hash="c", use_ray=False, progress=False)
    funnel = run_pipeline(_pipeline(reader, out), config_hash="c", use_ray=False, progress=False, overwrite=True)
    assert funnel["accepted"] == 3
    captions = sorted(pq.read_table(out / "parquet" / "u00-000000-0000.parquet").column("caption").to_pylist())
    assert captions == ["dos", "tres", "uno"]


def test_input_changed_between_kill_and_resume(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jpg").write_bytes(JPEG)
    table = tmp_path / "in" / "t.jsonl"
    table.write_text("".join(json.dumps({"image": "a.jpg", "caption": c}) + "\n" for c in ["x", "y"]))
    out = tmp_path / "out"
    reader = TableFileReader(path=str(table), unit_rows=1)
    pipeline = _pipeline(reader, out)
    run_pipeline(pipeline, config_hash="c", use_ray=False, progress=False)
    # What a SIGKILL after the first commit leaves: job.json, one journal line, no finalised manifest.
    journal = out / "manifest.jsonl"
    journal.write_bytes(journal.read_bytes().splitlines(keepends=True)[0])
    (out / "manifest.parquet").unlink()
    table.write_text("".join(json.dumps({"image": "a.jpg", "caption": c}) + "\n" for c in ["X", "Y"]))
    with pytest.raises(InputsChanged):
        run_pipeline(pipeline, config_hash="c", use_ray=False, progress=False)
    assert len(journal.read_bytes().splitlines()) == 1  # nothing of the new input was mixed in


def test_duplicate_and_nested_inputs_are_refused(tmp_path: Path) -> None:
    write_clean_folder(tmp_path / "in")
    (tmp_path / "alias").symlink_to(tmp_path / "in", target_is_directory=True)
    for pair in [("in", "in"), ("in", "alias"), ("in", "in/"), ("in/sub", "in")]:
        with pytest.raises(DuplicateInput):
            check_distinct_inputs([str(tmp_path / p) for p in pair])
    check_distinct_inputs([str(tmp_path / "in"), str(tmp_path / "other")])
    with pytest.raises(DuplicateInput, match=r"input 2 \(.*\) is input 1 again"):
        run([FolderReader(path=str(tmp_path / "in")), FolderReader(path=str(tmp_path / "alias"))], tmp_path / "out")
    assert not (tmp_path / "out").exists()
