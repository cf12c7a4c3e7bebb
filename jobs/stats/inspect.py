"""``mmcurate inspect``: print a few samples (caption, scores, reason, path in shard) to the terminal.

Accepted rows come from the shards, rejected rows (``--reason``, ``--rejects``) from ``rejects/``.
``--where`` filters with the :mod:`.where` language. The scan reads only the columns it prints or
filters on, filters each batch with the compiled Arrow expression and stops at ``n`` matches, so
looking at ten rows of a billion-row folder reads as little as it can.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.jobs.stats.columns import MEDIA_LEAF, VIRTUAL, add_virtual, source_columns
from mmcurate.jobs.stats.layout import OutputFolder, track
from mmcurate.jobs.stats.metrics import score_columns, token_columns
from mmcurate.jobs.stats.where import Where, parse_where
from mmcurate.jobs.terminal import inert
from mmcurate.schemas import sample as S

__all__ = ["ROW", "known_columns", "filtered_rows", "inspect_rows", "format_row"]

ROW = "_row"  # row number inside its file, added before filtering so "path in shard" survives it


def known_columns(schema: pa.Schema | None) -> set[str]:
    names = set(schema.names) if schema is not None else set()
    return names | {
        v for v, (sources, _) in VIRTUAL.items() if all(s.split(".")[0] in names for s in sources)
    }


def filtered_rows(
    folder: OutputFolder,
    rejects: bool,
    columns: list[str],
    where: Where | None,
    reason: str | None = None,
    progress: bool = False,
) -> Iterator[tuple[str, pa.Table]]:
    """(file, table) per batch of ``columns`` after ``reason``/``where``, with a ``_row`` column."""
    files = folder.reject_files() if rejects else folder.shard_files()
    names = list(where.names) if where else []
    wanted = source_columns([*columns, *names, *(["reason"] if reason else [])])
    for batch in track(folder.scan(files, wanted), folder.count_rows(files), "scan", progress):
        data = add_virtual(batch.data, [*columns, *names])
        data = data.append_column(
            ROW, pa.array(range(batch.offset, batch.offset + data.num_rows), pa.int64())
        )
        table = pa.Table.from_batches([data])
        if reason:
            # A full reason ('stage:why') or just the stage name.
            mask = pc.or_(pc.equal(table["reason"], reason), pc.starts_with(table["reason"], reason + ":"))
            table = table.filter(mask)
        if where is not None and table.num_rows:
            table = table.filter(where.expression)
        if table.num_rows:
            yield batch.path, table


def inspect_rows(
    folder: OutputFolder,
    *,
    n: int = 10,
    reason: str | None = None,
    where: str | None = None,
    rejects: bool = False,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """Up to ``n`` matching rows as dicts with a ``path`` key (``file#row``)."""
    rejects = rejects or reason is not None
    files = folder.reject_files() if rejects else folder.shard_files()
    schema = folder.schema_of(files)
    if schema is None:
        return []
    compiled = parse_where(where, known_columns(schema)) if where else None
    # Rejects (reject/v3) carry media sizes and the scores of the steps up to the one that dropped them.
    head = [S.SAMPLE_ID, S.SOURCE, S.LOCATOR, S.CAPTION, "reason", S.ERROR, "duplicate_of"] if rejects else [
        S.SAMPLE_ID, S.CAPTION]
    media = [MEDIA_LEAF(n) for n in ("kind", "mime", "width", "height")] if S.MEDIA in schema.names else []
    extra = [c for c in (S.FLAGS,) if c in schema.names]
    columns = [*head, *media, *extra, *score_columns(schema), *token_columns(schema)]
    out: list[dict[str, Any]] = []
    for path, table in filtered_rows(folder, rejects, columns, compiled, reason, progress):
        for row in table.slice(0, n - len(out)).to_pylist():
            row["path"] = f"{path}#{row.pop(ROW)}"
            out.append(row)
        if len(out) >= n:
            break
    return out


def format_row(i: int, row: dict[str, Any]) -> str:
    """A few indented lines per sample."""
    lines = [f"[{i}] {row['path']}  sample_id={row.get(S.SAMPLE_ID)}"]
    caption = row.get(S.CAPTION)
    lines.append(
        f"    caption: {caption[:200] + ('…' if len(caption) > 200 else '') if caption else '(none)'}"
    )
    if "reason" in row:
        lines.append(f"    reason:  {row['reason']}")
        lines.append(f"    source:  {row.get(S.SOURCE)} :: {row.get(S.LOCATOR)}")
        if row.get(S.ERROR):
            lines.append(f"    error:   {row[S.ERROR][:200]}")
        if row.get("duplicate_of"):
            lines.append(f"    duplicate_of: {row['duplicate_of']}")
    for item in row.get(S.MEDIA) or []:
        lines.append(
            f"    media:   {item.get('kind')} {item.get('mime')} {item.get('width')}x{item.get('height')}"
        )
    skip = {S.SAMPLE_ID, S.CAPTION, S.MEDIA, S.SOURCE, S.LOCATOR, S.ERROR, "reason", "duplicate_of", "path"}
    rest = {k: v for k, v in row.items() if k not in skip and v is not None}
    if rest:
        lines.append(f"    values:  {json.dumps(rest, default=str, ensure_ascii=False)}")
    return "\n".join(inert(line) for line in lines)  # a caption or file name must not drive the terminal
