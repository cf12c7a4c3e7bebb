"""The reader interface: a fixed plan of work units, then one Arrow table per unit.

Planning happens once, on the driver, before anything runs: a reader lists its input in a
deterministic order and cuts it into units (like img2dataset's input shards). A unit is the grain of
output and of resume: it is read by one task, written as its own shards, and committed in the
manifest as a whole, so a rerun or a Ray retry of a unit writes the same bytes to the same names.

``read_unit`` never raises for bad input: an unreadable file or row becomes a rejected row, so every
planned input row is accounted for. URL lists and WebDataset tars plug in as further readers.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.identity import make_sample_id, sha256_hex
from mmcurate.pipeline.params import check_params, param
from mmcurate.schemas import sample as S

__all__ = ["InputError", "WorkUnit", "Reader", "canonical_source", "media_kind", "media_item", "sample_row", "rejected_row",
           "unencodable", "safe_locator"]


class InputError(ValueError):
    """A whole input cannot be read as configured; the message is one line naming the file and the fix."""


def canonical_source(path: str) -> str:
    """A local path made absolute (symlinks resolved); a URL or ``pipe:`` source exactly as written."""
    if "://" in path or path.startswith("pipe:") or not path:
        return path
    from pathlib import Path

    return str(Path(path).expanduser().resolve())


def unencodable(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate and where), or None when it can."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"lone surrogate U+{ord(text[exc.start]):04X} at character {exc.start}"
    return None


def safe_locator(name: str) -> str:
    """``name`` as writable UTF-8: bytes that were not UTF-8 (surrogate-escaped by the OS or ``tarfile``)
    become ``\\xNN``, any other lone surrogate ``\\udNNN``; valid text is returned unchanged."""
    if unencodable(name) is None:
        return name
    try:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return name.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class WorkUnit:
    """One deterministic slice of one input; ``spec`` is reader-specific JSON."""

    unit_id: str
    input_index: int
    spec: str

    def spec_dict(self) -> dict[str, Any]:
        return json.loads(self.spec)


@dataclass(kw_only=True)
class Reader(ABC):
    """Subclasses are dataclass configs; they pickle cheaply and do I/O only in ``read_unit``."""

    name: ClassVar[str]
    unit_rows: int = param(500, doc="rows per work unit (the grain of output and resume)", ge=1)

    def __post_init__(self) -> None:
        check_params(self)
        path = getattr(self, "path", None)
        if isinstance(path, str):
            # Resolved once, here on the driver: sample ids hash the source, so `data/x` and `/abs/data/x`
            # must be one spelling (and a worker's working directory must not matter). URLs stay as written.
            self.path = canonical_source(path)

    @abstractmethod
    def plan(self) -> list[dict[str, Any]]:
        """Deterministic, JSON-able unit specs for this input, in order."""

    @abstractmethod
    def read_unit(self, unit: WorkUnit) -> pa.Table:
        """All rows of one unit (SAMPLE_SCHEMA), each ok or rejected with a reason."""

    def reason(self, code: str) -> str:
        return f"{self.name}:{code}"

    @property
    def source(self) -> str:
        return str(getattr(self, "path", self.name))


def media_kind(data: bytes) -> tuple[str, str]:
    """(kind, sniffed MIME): 'video' or 'audio' for those containers, else 'image' (decode judges the rest)."""
    from mmcurate.pipeline.readers.sniff import kind_of, sniff_mime

    mime = sniff_mime(data)
    kind = kind_of(mime)
    return (kind if kind in ("video", "audio") else "image"), mime


def media_item(data: bytes, kind: str | None = None, mime: str | None = None,
               sha256: str | None = None) -> dict[str, Any]:
    """A not-yet-decoded media struct; kind and MIME are sniffed from the bytes unless given."""
    if kind is None or mime is None:
        sniffed_kind, sniffed_mime = media_kind(data)
        kind, mime = kind or sniffed_kind, mime or sniffed_mime
    return {"bytes": data, "kind": kind, "mime": mime, "width": None, "height": None,
            "sha256": sha256 or sha256_hex(data), "source_mode": None, "n_frames": None, "ops": []}


def sample_row(
    unit: WorkUnit, index: int, n_rows: int, *, source: str, locator: str, media: list[bytes],
    caption: str | None, url: str | None = None, meta_json: str | None = None, flags: list[str] | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """An ok row: ids derived from content, bookkeeping filled in; media kind sniffed unless given.

    Names and text that cannot be written as UTF-8 are escaped here as a last net (readers reject such
    captions first); an escaped caption carries the flag ``text_escaped``."""
    source, locator = safe_locator(source), safe_locator(locator)
    if caption is not None and unencodable(caption):
        caption, flags = safe_locator(caption), [*(flags or []), "text_escaped"]
    content = b"".join(media)
    return {
        S.SAMPLE_ID: make_sample_id(source, locator, content, caption),
        S.SOURCE: source, S.LOCATOR: locator, S.URL: url, S.CAPTION: caption,
        S.MEDIA: [media_item(m, kind) for m in media], S.META_JSON: meta_json, S.FLAGS: flags or [],
        S.UNIT_ID: unit.unit_id, S.UNIT_INDEX: index, S.UNIT_ROWS: n_rows,
        S.STATUS: S.STATUS_OK, S.STAGE: None, S.DROP_REASON: None, S.ERROR: None,
    }


def rejected_row(
    unit: WorkUnit, index: int, n_rows: int, *, source: str, locator: str, stage: str, reason: str,
    error: str, caption: str | None = None, url: str | None = None,
) -> dict[str, Any]:
    """A row the reader could not produce; its id hashes the locator so it is still unique."""
    source, locator = safe_locator(source), safe_locator(locator)
    caption, error = safe_locator(caption) if caption is not None else None, safe_locator(error)
    return {
        S.SAMPLE_ID: make_sample_id(source, locator, b"", None),
        S.SOURCE: source, S.LOCATOR: locator, S.URL: url, S.CAPTION: caption,
        S.MEDIA: [], S.META_JSON: None, S.FLAGS: [],
        S.UNIT_ID: unit.unit_id, S.UNIT_INDEX: index, S.UNIT_ROWS: n_rows,
        S.STATUS: S.STATUS_REJECTED, S.STAGE: stage, S.DROP_REASON: reason, S.ERROR: error[:2000],
    }
