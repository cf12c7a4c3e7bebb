"""Audio files are recognised by content in folders (no setting, no file names) and WebDataset tars."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.plan import plan_units
from mmcurate.pipeline.readers.folder import FolderReader
from mmcurate.pipeline.readers.tar_stream import TarLimits
from mmcurate.pipeline.readers.webdataset_tar import AUDIO_SUFFIXES, WebDatasetReader
from mmcurate.schemas import sample as S


def _read_all(reader) -> list[dict]:
    return [r for unit in plan_units([reader]) for r in reader.read_unit(unit).to_pylist()]


def test_folder_and_tar_audio_is_sniffed_as_audio(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    flac = g.encode(g.tone(0.5), 16000, "flac")
    (folder / "clip.bin").write_bytes(flac)  # a misleading name: the bytes decide
    (folder / "clip.txt").write_text("a tone")
    (folder / "speech.mp3").write_bytes(g.encode(g.tone(0.5), 16000, "mp3"))
    rows = _read_all(FolderReader(path=str(folder)))
    assert sorted((r[S.MEDIA][0]["kind"], r[S.MEDIA][0]["mime"]) for r in rows) == [
        ("audio", "audio/flac"), ("audio", "audio/mpeg")]
    tar_path = tmp_path / "shards" / "a.tar"
    tar_path.parent.mkdir()
    with tarfile.open(tar_path, "w") as tar:
        for name, data in (("000.opus", g.encode(g.tone(0.5), 16000, "opus")), ("000.txt", b"a tone")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    # A tar sample must hold its required roles (image by default, as for video tars): ask for audio.
    limits = TarLimits(required=(("audio", AUDIO_SUFFIXES), ("caption", ("txt",))))
    (row,) = _read_all(WebDatasetReader(path=str(tar_path.parent), limits=limits))
    assert row[S.STATUS] == "ok" and row[S.MEDIA][0]["kind"] == "audio" and row[S.CAPTION] == "a tone"
