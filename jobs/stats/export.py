"""``mmcurate export``: accepted samples as WebDataset, Parquet, Arrow, HF Parquet or LLaVA JSON, filtered.

Reads the shards batch by batch (all columns: the media bytes travel), applies ``--where``, and cuts
shards of exactly ``shard_size`` rows (the last may be smaller), each written with the pipeline's own
writers (:data:`~mmcurate.pipeline.sinks.formats.WRITERS`) through
:func:`~mmcurate.pipeline.atomic.atomic_write`. ``manifest.parquet`` (``manifest/v1``: one row per
shard with rows, bytes, sha256), ``manifest.jsonl`` and ``stats.parquet`` come from the pipeline's own
:class:`~mmcurate.pipeline.manifest.Manifest`: each shard's record is appended (fsynced) after its file is
renamed into place, and the Parquet manifest is derived last, so a folder without
``manifest.parquet`` is an interrupted export. Memory is one shard plus one batch. ``hf`` and ``llava``
are the trainer layouts of :mod:`.export_formats`; ``llava`` writes one ``llava.json`` array and the
media files beside it instead of shards.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from mmcurate.jobs.stats.columns import VIRTUAL
from mmcurate.jobs.stats.export_formats import llava_records, write_hf_parquet
from mmcurate.jobs.stats.inspect import ROW, filtered_rows, known_columns
from mmcurate.jobs.stats.layout import OutputFolder
from mmcurate.jobs.stats.where import parse_where
from mmcurate.pipeline import fs
from mmcurate.pipeline.atomic import FileInfo, atomic_write, remove_temp_files
from mmcurate.pipeline.manifest import JOURNAL, MANIFEST_TABLE, STATS_TABLE, Manifest
from mmcurate.pipeline.sinks.formats import EXTENSIONS, WRITERS
from mmcurate.schemas.sample import SAMPLE_SCHEMA_VERSION

__all__ = ["ExportResult", "export", "EXPORT_FILE", "EXPORT_FORMATS", "LLAVA_FILE"]

EXPORT_FILE = "export.json"
LLAVA_FILE = "llava.json"
_SHARD_WRITERS = {**WRITERS, "hf": write_hf_parquet}
_SHARD_EXT = {**EXTENSIONS, "hf": "parquet"}
EXPORT_FORMATS = (*_SHARD_WRITERS, "llava")
# What each format writes under the export folder (removed by --overwrite).
_OUTPUTS = {**{f: (f,) for f in _SHARD_WRITERS}, "llava": (LLAVA_FILE, "images", "videos")}


@dataclass(frozen=True)
class ExportResult:
    out: Path
    shards: int
    rows: int
    files: list[dict[str, Any]]


def _rebatched(tables: Iterator[pa.Table], size: int) -> Iterator[pa.Table]:
    """Tables of exactly ``size`` rows (the last may be smaller) from tables of any size."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        while table.num_rows:
            take = min(size - held, table.num_rows)
            pending.append(table.slice(0, take))
            held += take
            table = table.slice(take)
            if held == size:
                yield pa.concat_tables(pending).combine_chunks()
                pending, held = [], 0
    if held:
        yield pa.concat_tables(pending).combine_chunks()


def _write_llava(out: Path, tables: Iterator[pa.Table]) -> tuple[str, int, FileInfo]:
    """``llava.json`` (streamed, one record per line inside the array) and the media files beside it."""
    samples = 0

    def write(fh: BinaryIO) -> None:
        nonlocal samples
        first = True
        fh.write(b"[")
        for table in tables:
            for row in table.to_pylist():
                records, media = llava_records(row)
                for rel, data in media:
                    atomic_write(out / rel, lambda f, d=data: f.write(d))
                for record in records:
                    fh.write((b"\n" if first else b",\n") + json.dumps(record, ensure_ascii=False).encode("utf-8"))
                    first = False
                samples += 1
        fh.write(b"\n]\n")

    info = atomic_write(out / LLAVA_FILE, write)
    return LLAVA_FILE, samples, info


def export(
    folder: OutputFolder,
    out: str | Path,
    fmt: str,
    *,
    shard_size: int = 1000,
    where: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ExportResult:
    """Write the (filtered) accepted samples of ``folder`` to ``out/<fmt>/export-NNNNNN.<ext>``."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"--format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    if shard_size < 1:
        raise ValueError("--shard-size must be at least 1")
    out = Path(out)
    if not fs.is_remote(folder.root) and out.resolve() == Path(folder.root).resolve():
        raise ValueError("export into the folder it reads from would overwrite its shards")
    if any((out / name).exists() for name in (MANIFEST_TABLE, JOURNAL, *_OUTPUTS[fmt])):
        if not overwrite:
            raise FileExistsError(f"{out} already holds an export; pass --overwrite to replace it")
        for name in _OUTPUTS[fmt]:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
            else:
                (out / name).unlink(missing_ok=True)
        for name in (MANIFEST_TABLE, JOURNAL, STATS_TABLE, EXPORT_FILE):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    remove_temp_files(out)
    schema = folder.schema_of(folder.shard_files())
    if schema is None:
        raise FileNotFoundError(f"{folder.root}: no Parquet or Arrow shards to export")
    compiled = parse_where(where, known_columns(schema)) if where else None
    identity = {
        "source": folder.root if fs.is_remote(folder.root) else str(Path(folder.root).resolve()),
        "source_config_hash": folder.job.get("config_hash"),
        "format": fmt,
        "shard_size": shard_size,
        "where": where,
    }
    config_hash = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def tables() -> Iterator[pa.Table]:
        for _, table in filtered_rows(folder, False, list(schema.names), compiled, progress=progress):
            # Only the stored columns go out: drop the row counter and virtual columns the filter added.
            yield table.drop_columns(
                [c for c in (ROW, *VIRTUAL) if c in table.column_names and c not in schema.names]
            )

    manifest = Manifest(out)
    files: list[dict[str, Any]] = []
    pieces = [_write_llava(out, tables())] if fmt == "llava" else (
        (f"{fmt}/export-{i:06d}.{_SHARD_EXT[fmt]}", shard.num_rows,
         atomic_write(out / f"{fmt}/export-{i:06d}.{_SHARD_EXT[fmt]}", lambda fh, t=shard: _SHARD_WRITERS[fmt](t, fh)))
        for i, shard in enumerate(_rebatched(tables(), shard_size)))
    for i, (rel, rows, info) in enumerate(pieces):
        unit_id = f"export-{i:06d}"
        entry = {
            "path": rel,
            "kind": "shard",
            "format": fmt,
            "rows": rows,
            "bytes": info.bytes,
            "sha256": info.sha256,
            "schema_version": SAMPLE_SCHEMA_VERSION,
        }
        # The pipeline's own unit record, so Manifest.finalize derives manifest.parquet and stats.parquet.
        manifest.commit(
            {
                "unit_id": unit_id,
                "config_hash": config_hash,
                "files": [entry],
                "rows_in": rows,
                "rows_out": rows,
                "accepted": rows,
                "rejected": 0,
                "reasons": {},
            }
        )
        files.append({**entry, "unit_id": unit_id, "config_hash": config_hash})
    body = (
        json.dumps(
            {
                **identity,
                "config_hash": config_hash,
                "shards": len(files),
                "rows": sum(f["rows"] for f in files),
            },
            indent=2,
            sort_keys=True,
        ).encode()
        + b"\n"
    )
    atomic_write(out / EXPORT_FILE, lambda fh: fh.write(body))
    manifest.finalize()
    return ExportResult(out=out, shards=len(files), rows=sum(f["rows"] for f in files), files=files)
