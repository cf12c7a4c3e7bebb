"""Folders of media files with sidecar captions (``cat.jpg`` + ``cat.txt`` and/or ``cat.json``).

Every regular file is an input: a file that is not an image still becomes a row, and decode rejects
it with a reason, so nothing in the folder goes unaccounted for. Caption sidecars without media are
rows too (rejected ``missing_media``). Entries seen and not read are rejected rows as well
(``not_followed_link``, ``dangling_link``, ``special_file``, ``hidden_file``, ``bad_file_name``), so the
funnel adds up to the folder listing. Files are listed in sorted relative-path order, which fixes the
unit plan for a given folder content. The folder may be a prefix on an object store (``s3://b/photos``):
its objects are listed and read through :mod:`.source_file`, with the same caps and magic-byte check.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline import fs
from mmcurate.pipeline.identity import decode_caption_bytes
from mmcurate.pipeline.params import param
from mmcurate.pipeline.readers.base import InputError, Reader, WorkUnit, rejected_row, safe_locator, sample_row, unencodable
from mmcurate.pipeline.readers.magic import HEAD_BYTES, wrong_magic
from mmcurate.pipeline.readers.row_chunks import RowChunks
from mmcurate.pipeline.readers.source_file import is_folder, join_relative, list_source_files, open_source
from mmcurate.pipeline.readers.values import ValueReject

__all__ = ["FolderReader", "CAPTION_KEYS"]

SIDECARS = (".txt", ".json")
CAPTION_KEYS = ("caption", "text", "txt", "alt", "alt_text")


@dataclass(kw_only=True)
class FolderReader(Reader):
    """Reads ``path`` recursively; ``max_file_bytes`` is checked with ``stat`` before reading."""

    name: ClassVar[str] = "folder_reader_v1"
    path: str
    max_file_bytes: int = param(64 * 1024**2, doc="media files larger than this are rejected too_large", ge=1)
    max_caption_bytes: int = param(4 * 1024**2, doc="sidecars larger than this are rejected caption_too_long", ge=1)
    check_magic: bool = param(True, doc="reject a file (1 MiB or more) whose suffix names a media kind its first bytes are not "
                              "(magic_mismatch) before reading the rest")

    def _remote_listing(self) -> tuple[list[str], list[tuple[str, str, str]]]:
        rels = list_source_files(self.path)
        if not rels and not is_folder(self.path):
            raise FileNotFoundError(f"input folder not found: {self.path}")
        files, skipped = [], []
        for rel in rels:
            if any(part.startswith(".") for part in rel.split("/")):
                skipped.append((rel, "hidden_file", "hidden file not read"))
            else:
                files.append(rel)
        return files, skipped

    def _listing(self) -> tuple[list[str], list[tuple[str, str, str]]]:
        """Regular files to read, and (path, reason code, detail) for every entry seen and not read."""
        if fs.is_remote(self.path):
            return self._remote_listing()
        root = Path(self.path)
        if not root.is_dir():
            raise FileNotFoundError(f"input folder not found: {root}")
        files: list[str] = []
        skipped: list[tuple[str, str, str]] = []
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            try:
                with os.scandir(root / rel_dir) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                skipped.append((rel_dir, "read_error", f"cannot list folder: {exc.strerror}"))
                continue
            for e in entries:
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                code, detail = _skip_reason(e, rel)
                if code:
                    skipped.append((rel, code, detail))
                elif e.is_dir(follow_symlinks=False):
                    stack.append(rel)
                else:
                    files.append(rel)
        return sorted(files), skipped

    def _entries(self) -> list[list[str | None]]:
        files, skipped = self._listing()
        by_stem: dict[str, dict[str, str]] = {}
        for rel in files:
            stem, ext = os.path.splitext(rel)
            slot = ext.lower() if ext.lower() in SIDECARS else "media"
            if slot == "media" and "media" in by_stem.get(stem, {}):
                stem = rel  # two media files share a stem (a.jpg, a.png): each is its own sample
            by_stem.setdefault(stem, {})[slot] = rel
        out: list[tuple[str, list[str | None]]] = [
            (stem, [e.get("media"), e.get(".txt"), e.get(".json")]) for stem, e in by_stem.items()]
        # A skipped entry is [path, None, None, code, detail]: a row in rejects/, so the funnel adds up to the listing.
        out += [(rel + "\0", [rel, None, None, code, detail]) for rel, code, detail in skipped]
        return [entry for _, entry in sorted(out, key=lambda kv: kv[0])]

    def plan(self) -> list[dict[str, Any]]:
        entries = self._entries()
        if not entries:  # else a run "succeeds" with nothing in it
            raise InputError(f"{self.path}: the input folder is empty (no files to read)")
        return [{"entries": entries[i : i + self.unit_rows]} for i in range(0, len(entries), self.unit_rows)]

    def _read_capped(self, rel: str, cap: int, media: bool = False) -> bytes:
        full = join_relative(self.path, rel)
        with open_source(full) as fh:
            size = os.fstat(fh.fileno()).st_size if not fs.is_remote(full) else fh.raw.size()  # type: ignore[attr-defined]
            if size > cap:
                raise OverflowError(f"{rel}: {size} bytes > limit {cap}")
            head = fh.read(HEAD_BYTES)
            wrong = wrong_magic(rel, head, size) if media and self.check_magic else None
            if wrong is not None:  # junk named .jpg: the rest is never read
                raise ValueReject("magic_mismatch", f"{rel}: {wrong}")
            # Ask for the stat size (+1 to see growth), not the cap: a read buffer is allocated at the size asked.
            data = head + fh.read(size + 1 - len(head))
            if len(data) > size:  # it grew since the stat: the rest, still up to the cap
                data += fh.read(cap + 1 - len(data))
        if len(data) > cap:
            raise OverflowError(f"{rel}: grew past limit {cap} while read")
        return data

    def _caption_and_meta(self, txt: str | None, js: str | None) -> tuple[str | None, str | None, list[str]]:
        caption, meta, flags = None, None, []
        if js is not None:
            obj = json.loads(self._read_capped(js, self.max_caption_bytes).decode("utf-8-sig"))
            if not isinstance(obj, dict):
                raise ValueError(f"{js}: sidecar JSON must be an object")
            key = next((k for k in CAPTION_KEYS if obj.get(k) is not None), None)
            if key is not None and isinstance(obj[key], str):
                caption = obj.pop(key)
            elif key is not None and txt is None:  # a number or list is not silently a repr, nor silently no caption
                raise ValueReject("caption_type", f"{js}: {key!r} is {type(obj[key]).__name__}, expected text")
            meta = json.dumps(obj, sort_keys=True, ensure_ascii=False) if obj else None
        if txt is not None:
            caption, flag = decode_caption_bytes(self._read_capped(txt, self.max_caption_bytes))
            flags += [flag] if flag else []
        return caption, meta, flags

    def _read_entry(self, unit: WorkUnit, i: int, n: int, entry: list[str | None]) -> dict[str, Any]:
        media, txt, js = entry[:3]
        locator = safe_locator(media or txt or js or "")
        common = {"source": self.path, "locator": locator, "stage": self.name}
        if len(entry) > 3:
            return rejected_row(unit, i, n, reason=self.reason(str(entry[3])), error=str(entry[4]), **common)
        if media is None:
            return rejected_row(unit, i, n, reason=self.reason("missing_media"), error="caption sidecar without media", **common)
        try:
            caption, meta, flags = self._caption_and_meta(txt, js)
        except UnicodeDecodeError as exc:
            return rejected_row(unit, i, n, reason=self.reason("caption_encoding"), error=str(exc), **common)
        except ValueReject as exc:
            return rejected_row(unit, i, n, reason=self.reason(exc.code), error=str(exc), **common)
        except OverflowError as exc:
            return rejected_row(unit, i, n, reason=self.reason("caption_too_long"), error=str(exc), **common)
        except ValueError as exc:  # JSONDecodeError included
            return rejected_row(unit, i, n, reason=self.reason("bad_sidecar"), error=str(exc), **common)
        except RecursionError:  # the C scanner stops at the interpreter's recursion limit
            return rejected_row(unit, i, n, reason=self.reason("bad_sidecar"), error=f"{js}: JSON nested too deep",
                                **common)
        bad = unencodable(caption or "")
        if bad:
            return rejected_row(unit, i, n, reason=self.reason("caption_encoding"), error=f"caption: {bad}", **common)
        bad = unencodable(meta or "")
        if bad:
            return rejected_row(unit, i, n, reason=self.reason("meta_encoding"), error=f"sidecar fields: {bad}",
                                caption=caption, **common)
        try:
            data = self._read_capped(media, self.max_file_bytes, media=True)
        except ValueReject as exc:
            return rejected_row(unit, i, n, reason=self.reason(exc.code), error=str(exc), caption=caption, **common)
        except OverflowError as exc:
            return rejected_row(unit, i, n, reason=self.reason("too_large"), error=str(exc), caption=caption, **common)
        except OSError as exc:
            return rejected_row(unit, i, n, reason=self.reason("read_error"), error=str(exc), caption=caption, **common)
        return sample_row(unit, i, n, source=self.path, locator=media, media=[data], caption=caption,
                          meta_json=meta, flags=flags)

    def read_unit(self, unit: WorkUnit) -> pa.Table:
        entries = unit.spec_dict()["entries"]
        chunks = RowChunks()
        for i, entry in enumerate(entries):
            chunks.add(self._read_entry(unit, i, len(entries), entry))
        return chunks.table()


def _skip_reason(entry: os.DirEntry[str], rel: str) -> tuple[str | None, str]:
    """Why a folder entry is not read (a reason code and a detail), or (None, "") to read or descend into it."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return "bad_file_name", "file name bytes are not UTF-8"
    if entry.is_symlink():
        if not os.path.exists(entry.path):
            return "dangling_link", f"symlink to missing {safe_locator(os.readlink(entry.path))[:200]}"
        return "not_followed_link", "symlinks are not followed (they may point outside the input)"
    if entry.name.startswith("."):
        return "hidden_file", "hidden " + ("folder not read" if entry.is_dir(follow_symlinks=False) else "file not read")
    if not entry.is_dir(follow_symlinks=False) and not entry.is_file(follow_symlinks=False):
        return "special_file", "not a regular file (FIFO, socket or device)"
    return None, ""
