"""WebDataset tars as input: each tar is one work unit, read as a stream and never extracted.

The hostile-input rules live in :mod:`mmcurate.pipeline.readers.tar_stream`; this reader turns its
:class:`TarSample` records into sample rows (image member -> media, ``txt`` -> caption, ``json`` ->
metadata) and a shard-level failure (truncated, corrupt, a member or byte bomb) into one rejected row
for the rest of the shard, after the samples that came before it. Input is a tar, a folder of tars, or
a list of tars, on local disk or an object store; ``pipe:`` and other URL schemes are refused by ``open_shard``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline import fs
from mmcurate.pipeline.identity import decode_caption_bytes
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import Reader, WorkUnit, rejected_row, sample_row
from mmcurate.pipeline.readers.row_chunks import RowChunks
from mmcurate.pipeline.readers.source_file import is_file, list_source_files
from mmcurate.pipeline.readers.tar_stream import (
    IMAGE_SUFFIXES,
    ShardError,
    TarLimits,
    TarSample,
    iter_tar_samples,
    open_shard,
)

__all__ = ["WebDatasetReader"]

VIDEO_SUFFIXES = ("mp4", "webm", "mkv", "mov", "avi")
AUDIO_SUFFIXES = ("wav", "flac", "mp3", "ogg", "opus", "m4a", "aac")  # the kind itself is sniffed from the bytes


@dataclass(kw_only=True)
class WebDatasetReader(Reader):
    """``path``: a ``.tar`` file or a folder of them (sorted); one unit per tar."""

    name: ClassVar[str] = "webdataset_reader_v1"
    path: str
    limits: TarLimits = field(default_factory=TarLimits)
    # Job-file knobs over ``limits`` (None: the TarLimits default, documented there, so it lives in one place).
    max_member_bytes: int | None = param(None, doc="a member larger than this is rejected member_too_large "
                                         "before it is read (default 32 MiB)", ge=1)
    max_shard_bytes: int | None = param(None, doc="inflated bytes per tar; past them the rest of the shard is "
                                        "rejected shard_too_large (default 1 GiB)", ge=1)
    max_inflation_ratio: float | None = param(None, doc="a compressed tar may inflate to this many times its size "
                                              "(at least 64 MiB) before shard_too_large (default 8)", gt=0)
    check_magic: bool = param(True, doc="reject media members (1 MiB or more) whose first bytes are not that media "
                              "(magic_mismatch) before reading the rest")

    def tar_limits(self) -> TarLimits:
        """``limits`` with the knobs set on this reader applied."""
        knobs = {"max_member_bytes": self.max_member_bytes, "max_total_bytes": self.max_shard_bytes,
                 "max_inflation_ratio": self.max_inflation_ratio}
        return dataclasses.replace(self.limits, check_magic=self.check_magic and self.limits.check_magic,
                                   **{k: v for k, v in knobs.items() if v is not None})

    def plan(self) -> list[dict[str, Any]]:
        if fs.is_store_uri(self.path):  # a tar object, or a prefix of them, on an object store
            if is_file(self.path):
                return [{"tar": self.path}]
            return [{"tar": fs.join(self.path, rel)} for rel in list_source_files(self.path)
                    if ".tar" in rel.rsplit("/", 1)[-1] and not rel.rsplit("/", 1)[-1].startswith(".")]
        root = Path(self.path)
        if "://" in self.path or self.path.startswith("pipe:"):
            return [{"tar": self.path}]  # open_shard refuses it at read time, as a recorded reject
        tars = sorted(p for p in root.rglob("*.tar*") if p.is_file()) if root.is_dir() else [root]
        return [{"tar": str(t)} for t in tars]

    def _row(self, unit: WorkUnit, tar: str, s: TarSample) -> dict[str, Any]:
        locator = f"{Path(tar).name}:{s.key}#{s.index}"
        common = {"source": tar, "locator": locator, "stage": self.name}
        if not s.ok:
            return rejected_row(unit, 0, 0, reason=self.reason(s.reject_reason or "bad_sample"), error=s.error or "", **common)
        caption, flags = None, []
        if "txt" in s.members:
            try:
                caption, flag = decode_caption_bytes(s.members["txt"])
            except UnicodeDecodeError as exc:
                return rejected_row(unit, 0, 0, reason=self.reason("caption_encoding"), error=str(exc), **common)
            flags += [flag] if flag else []
        meta = None
        if "json" in s.members:
            try:
                meta = json.dumps(json.loads(s.members["json"].decode("utf-8")), sort_keys=True, ensure_ascii=False)
            except ValueError as exc:
                return rejected_row(unit, 0, 0, reason=self.reason("bad_sidecar"), error=str(exc), **common)
        images = [s.members[k] for k in sorted(s.members) if k.rsplit(".", 1)[-1] in IMAGE_SUFFIXES]
        videos = [s.members[k] for k in sorted(s.members) if k.rsplit(".", 1)[-1] in VIDEO_SUFFIXES]
        audios = [s.members[k] for k in sorted(s.members) if k.rsplit(".", 1)[-1] in AUDIO_SUFFIXES]
        return sample_row(unit, 0, 0, source=tar, locator=locator, media=images or videos or audios, caption=caption,
                          meta_json=meta, flags=flags)

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        tar = unit.spec_dict()["tar"]
        chunks = RowChunks()
        try:
            with open_shard(tar) as fh:
                for sample in iter_tar_samples(fh, self.tar_limits()):
                    chunks.add(self._row(unit, tar, sample))
        except ShardError as exc:
            chunks.add(rejected_row(unit, 0, 0, source=tar, locator=f"{Path(tar).name}:<shard>", stage=self.name,
                                    reason=self.reason(exc.reason), error=f"{exc.detail} (after {exc.yielded} samples)"))
        except OSError as exc:
            chunks.add(rejected_row(unit, 0, 0, source=tar, locator=f"{Path(tar).name}:<shard>", stage=self.name,
                                    reason=self.reason("read_error"), error=str(exc)))
        return chunks.table()
