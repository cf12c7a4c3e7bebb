"""Sample cards for the report: a few accepted rows and, per reject reason, a few rejected rows.

Accepted rows carry their media bytes, so their thumbnails come from the shard (a video's from the
first frame of its first clip in ``clips/``). Rejects carry their media items without the bytes (and
the scores that decided them, shown on the card); where ``source``/``locator``
still names a readable file on this machine a thumbnail is made from it, otherwise the card shows the
caption, locator and error only. Input files are untrusted (the rejects are *why* they were
rejected: bombs, truncations), so a preview opens the header first and refuses anything large.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.jobs.stats.columns import MEDIA_LEAF
from mmcurate.jobs.stats.layout import OutputFolder
from mmcurate.jobs.stats.metrics import score_columns
from mmcurate.pipeline import fs
from mmcurate.schemas import sample as S

__all__ = ["Card", "accepted_cards", "rejected_cards", "thumbnail"]

_THUMB_PX = 160
_MAX_PREVIEW_BYTES = 32 * 1024**2
_MAX_PREVIEW_PIXELS = 40_000_000


@dataclass
class Card:
    """One sample as the report shows it."""

    sample_id: str
    caption: str | None
    where: str  # shard path#row, or source/locator for rejects
    thumb: str | None = None  # data: URI of a JPEG thumbnail
    reason: str | None = None
    error: str | None = None
    scores: dict[str, Any] = field(default_factory=dict)


def thumbnail(data: bytes | None) -> str | None:
    """A ``data:image/jpeg;base64`` thumbnail of encoded image bytes, or None if it cannot be made."""
    if not data or len(data) > _MAX_PREVIEW_BYTES:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > _MAX_PREVIEW_PIXELS:
                return None
            image.draft("RGB", (_THUMB_PX, _THUMB_PX))  # JPEG: decode at reduced scale
            image.thumbnail((_THUMB_PX, _THUMB_PX))
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format="JPEG", quality=80)
    except Exception:  # noqa: BLE001 - untrusted bytes: any decoder failure just means no preview
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _clip_frames(folder: OutputFolder, sample_ids: list[str]) -> dict[str, bytes]:
    """First sampled frame of the first clip of each video among ``sample_ids``."""
    frames: dict[str, bytes] = {}
    wanted = pa.array(sample_ids, pa.string())
    for batch in folder.scan(folder.clip_files(), ["sample_id", "clip_index", "frames"]):
        data = batch.data
        keep = pc.and_(
            pc.is_in(data.column("sample_id"), value_set=wanted), pc.equal(data.column("clip_index"), 0)
        )
        hits = pa.Table.from_batches([data]).filter(keep)
        for sid, clip_frames in zip(hits["sample_id"].to_pylist(), hits["frames"].to_pylist(), strict=False):
            if clip_frames:
                frames[sid] = clip_frames[0]
    return frames


def accepted_cards(folder: OutputFolder, scores: list[str], n: int = 24) -> list[Card]:
    """Up to ``n`` accepted samples, spread over the shards (a few from each of the first files)."""
    files = folder.shard_files()
    if not files or n <= 0:
        return []
    per_file = max(1, -(-n // min(len(files), n)))
    columns = [S.SAMPLE_ID, S.CAPTION, MEDIA_LEAF("bytes"), MEDIA_LEAF("kind"), *scores]
    rows: list[tuple[str, dict[str, Any]]] = []
    # Round-robin over the shards, ``per_file`` rows at a time, until ``n`` rows are in.
    scans = [iter(folder.scan([path], columns, batch_rows=per_file)) for path in files[:n]]
    while scans and len(rows) < n:
        for scan in list(scans):
            batch = next(scan, None)
            if batch is None:
                scans.remove(scan)
                continue
            rows += [
                (f"{batch.path}#{batch.offset + i}", row) for i, row in enumerate(batch.data.to_pylist())
            ]
            if len(rows) >= n:
                break
    rows = rows[:n]
    videos = [r[S.SAMPLE_ID] for _, r in rows if r[S.MEDIA] and r[S.MEDIA][0]["kind"] == "video"]
    frames = _clip_frames(folder, videos) if videos and folder.clip_files() else {}
    cards = []
    for where, row in rows:
        media = row[S.MEDIA] or []
        image = next((m["bytes"] for m in media if m["kind"] == "image"), None)
        thumb = thumbnail(image if image is not None else frames.get(row[S.SAMPLE_ID]))
        cards.append(
            Card(
                sample_id=row[S.SAMPLE_ID],
                caption=row[S.CAPTION],
                where=where,
                thumb=thumb,
                scores={c: row[c] for c in scores if row.get(c) is not None},
            )
        )
    return cards


def _file_preview(source: str | None, locator: str | None) -> str | None:
    if not source or not locator:
        return None
    location = fs.join(source, locator)
    try:
        if fs.is_remote(location):  # a rejected input on a bucket: one GET, capped like a local read
            with fs.open_input_stream(location) as fh:
                data = fh.read(_MAX_PREVIEW_BYTES + 1)
            return thumbnail(data) if len(data) <= _MAX_PREVIEW_BYTES else None
        path = Path(location)
        if not path.is_file() or path.stat().st_size > _MAX_PREVIEW_BYTES:
            return None
        return thumbnail(path.read_bytes())
    except (OSError, fs.StoreError):
        return None


def rejected_cards(
    folder: OutputFolder, reasons: list[str], per_reason: int = 4, previews: bool = True
) -> dict[str, list[Card]]:
    """Up to ``per_reason`` rejects for each reason, scanning only until every reason has its cards."""
    cards: dict[str, list[Card]] = {r: [] for r in reasons}
    open_reasons = set(reasons)
    # reject/v3 rows carry the scores that decided them: each card shows the ones that are set.
    scores = score_columns(folder.schema_of(folder.reject_files()))
    columns = [S.SAMPLE_ID, S.SOURCE, S.LOCATOR, S.CAPTION, "reason", S.ERROR, *scores]
    for batch in folder.scan(folder.reject_files(), columns):
        if not open_reasons:
            break
        data = pa.Table.from_batches([batch.data])
        present = set(pc.unique(data["reason"]).to_pylist()) & open_reasons
        for reason in sorted(present):  # one filter per reason in the batch, never a loop over rows
            need = per_reason - len(cards[reason])
            for row in data.filter(pc.equal(data["reason"], reason)).slice(0, need).to_pylist():
                caption = row[S.CAPTION]
                cards[reason].append(
                    Card(
                        sample_id=row[S.SAMPLE_ID],
                        caption=caption if caption is None else caption[:300],
                        where=f"{row[S.SOURCE]} :: {row[S.LOCATOR]}",
                        reason=reason,
                        error=row[S.ERROR],
                        thumb=_file_preview(row[S.SOURCE], row[S.LOCATOR]) if previews else None,
                        scores={c: row[c] for c in scores if row.get(c) is not None},
                    )
                )
            if len(cards[reason]) >= per_reason:
                open_reasons.discard(reason)
    return cards
