"""Reading untrusted WebDataset tars as a stream: members grouped into samples, never extracted.

webdataset's own reader passes member names through unchecked (``../x``, ``/abs/x``), skips links
and devices silently, lets a duplicate member kill the shard with a ``ValueError``, decodes
``.pyd``/``.pth`` with pickle, and runs ``pipe:`` URLs through a shell. Extraction filters
(PEP 706) keep being bypassed. So this reader opens the tar with ``tarfile`` mode ``r|*`` (a
forward-only stream, gzip/bz2/xz transparent), extracts nothing, validates every header, and hands
out raw bytes only: nothing here unpickles, ``torch.load``\\ s or decodes.

Grouping follows the WebDataset convention: a member ``dir/000123.seg.jpg`` belongs to key
``dir/000123`` with suffix ``seg.jpg`` (split at the first dot of the basename, so keys cannot hold
dots there; writers must sanitise them). Consecutive members with the same key form one *group*.

Accounting (how a caller counts every input):

* Every group becomes exactly one :class:`TarSample`, ok or with a ``reject_reason``. Its
  ``index`` is unique within the shard; a key that reappears after other keys (non-adjacent
  members, Ray #44068) yields a second record with the same key, the same key but a new
  ``index``, rejected as ``non_adjacent_member``, so use ``(key, index)`` as the locator.
* A problem with the shard itself raises :class:`ShardError` *after* the complete groups before it
  were yielded: ``shard_truncated`` (cut mid-member or missing the end-of-archive block),
  ``shard_corrupt``, ``too_many_members``, ``shard_too_large``, ``scheme_not_allowed`` (from
  :func:`open_shard`). The group being read at the cut is not yielded; ``ShardError.yielded`` says
  how many were, so nothing is double-counted. A shard-level error means "retry or report the
  shard", as in the pipeline's rule that shard I/O errors go to Ray's task retries.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mmcurate.pipeline import fs
from mmcurate.pipeline.readers.magic import HEAD_BYTES, wrong_magic

__all__ = ["TarLimits", "TarSample", "ShardError", "open_shard", "iter_tar_samples"]

IMAGE_SUFFIXES = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff", "avif", "heic")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two+ letters, so "C:\..." is not a scheme


@dataclass(frozen=True, kw_only=True)
class TarLimits:
    """Caps checked on each header *before* its data is read (a header may claim 1 TB).

    The byte caps bound what one worker holds for one shard (a tar is one unit: its samples are in memory
    together). A 982 KB ``.tar.gz`` inflating to 1 GB drove a job to 19.7 GB PSS under the old 4 GiB
    cap, so a compressed shard may inflate to ``max_inflation_ratio`` times its size (images barely
    compress: real shards stay near 1x), with ``inflation_floor_bytes`` so a small shard of text is not
    refused; either way never past ``max_total_bytes``. A gzip bomb then costs no more than its cap.
    """

    max_member_bytes: int = 32 * 1024**2  # a 50 MP JPEG (decode's max_pixels) is ~25 MB at quality 95
    max_members: int = 100_000  # a 10k-sample shard with 3 members each is 30k
    max_total_bytes: int = 1024**3  # uncompressed stream offset: a shard of 1 GB is WebDataset's usual upper size
    max_inflation_ratio: float = 8.0
    inflation_floor_bytes: int = 64 * 1024**2
    check_magic: bool = True  # a media-suffixed member whose first bytes are not that media: rejected unread
    max_members_per_sample: int = 32
    # Each role needs one member with one of its suffixes; a sample without it is ``missing_<role>``.
    required: tuple[tuple[str, tuple[str, ...]], ...] = (("image", IMAGE_SUFFIXES), ("caption", ("txt",)))
    # Serialised-object formats that execute code when loaded: such a sample is rejected unread.
    forbidden_suffixes: tuple[str, ...] = ("pyd", "pkl", "pickle", "pth", "pt", "ckpt", "joblib")

    def __post_init__(self) -> None:
        for name in ("max_member_bytes", "max_members", "max_total_bytes", "max_members_per_sample",
                     "max_inflation_ratio", "inflation_floor_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"TarLimits.{name} must be >= 1")


@dataclass
class TarSample:
    """One group of members. ``members`` maps lowercase suffix to bytes; empty when rejected."""

    key: str
    index: int
    members: dict[str, bytes] = field(default_factory=dict)
    reject_reason: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.reject_reason is None


class ShardError(Exception):
    """The shard itself failed; ``yielded`` samples came out before it (they stand as yielded)."""

    def __init__(self, reason: str, detail: str, yielded: int = 0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.yielded = yielded


def open_shard(source: str | Path) -> BinaryIO:
    """Open a shard on local disk or an object store (``s3://``, ``gs://``, ``hf://``, streamed); any other
    ``scheme:`` (``pipe:``, ``file:``, ``http:``) is refused: a tar list must not run commands or fetch URLs."""
    text = str(source)
    if fs.is_store_uri(text):
        return io.BufferedReader(fs.open_input_stream(text), 1 << 20)  # type: ignore[arg-type]
    if _SCHEME_RE.match(text):
        raise ShardError("scheme_not_allowed", f"refusing {text.split(':', 1)[0]}: source")
    return open(text, "rb")


def _split_name(name: str) -> tuple[str, str, str | None]:
    """(key, suffix, why-unsafe). The name is untrusted: reject rather than normalise."""
    if name.startswith("./"):
        name = name[2:]  # ``tar -C dir .`` writes these; harmless
    parts = name.split("/")
    if (
        not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in name)
    ):
        return name, "", "path is absolute, escapes, or has empty/control/undecodable parts"
    stem, dot, suffix = parts[-1].partition(".")
    key = "/".join(parts[:-1] + [stem])
    if not stem or not dot or not suffix:
        return key, suffix, "no key or no suffix"
    return key, suffix.lower(), None


class _EndTrackingTarInfo(tarfile.TarInfo):
    """Records why ``TarFile.next`` stopped: it returns ``None`` alike for a proper end-of-archive
    block, a cut header and a garbage header once past offset 0, and only the first is a clean end."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            tarfile_.mmcurate_end = exc  # type: ignore[attr-defined]
            raise


def _check_end(tar: tarfile.TarFile, yielded: int) -> None:
    end = getattr(tar, "mmcurate_end", None)
    if isinstance(end, tarfile.EOFHeaderError):
        return
    if isinstance(end, (tarfile.EmptyHeaderError, tarfile.TruncatedHeaderError)) or end is None:
        raise ShardError("shard_truncated", f"no end-of-archive block at offset {tar.offset}", yielded)
    raise ShardError("shard_corrupt", f"bad header at offset {tar.offset}: {end}", yielded)


class _Group:
    def __init__(self, key: str, index: int) -> None:
        self.sample = TarSample(key=key, index=index)
        self.count = 0

    def reject(self, reason: str, detail: str) -> None:
        if self.sample.reject_reason is None:  # the first problem names the sample
            self.sample.reject_reason, self.sample.error = reason, detail
        self.sample.members.clear()


def _finish(group: _Group, limits: TarLimits) -> TarSample:
    sample = group.sample
    if sample.ok:
        # "seg.jpg" satisfies a role asking for "jpg": the last extension names the format.
        present = set(sample.members) | {s.rsplit(".", 1)[-1] for s in sample.members}
        for role, suffixes in limits.required:
            if not present.intersection(suffixes):
                group.reject(f"missing_{role}", f"no member with suffix in {list(suffixes)[:6]}")
                break
    return sample


def _check_member(m: tarfile.TarInfo, suffix: str, group: _Group, limits: TarLimits) -> bool:
    """Reject ``group`` for a bad member; True if the member's data should be read."""
    if m.issym() or m.islnk():
        group.reject("link_member", f"{m.name} -> {m.linkname[:200]}")
    elif not m.isreg() or m.issparse():
        group.reject("special_member", f"{m.name}: type {m.type!r}")
    elif suffix in group.sample.members:
        group.reject("duplicate_member", f"{suffix} appears twice in {group.sample.key}")
    elif suffix.rsplit(".", 1)[-1] in limits.forbidden_suffixes:
        group.reject("unsafe_member_type", f"{m.name}: executable serialisation format, not loaded")
    elif m.size > limits.max_member_bytes:
        group.reject("member_too_large", f"{m.name}: {m.size} > {limits.max_member_bytes} bytes")
    elif group.count > limits.max_members_per_sample:
        group.reject("sample_too_many_members", f"more than {limits.max_members_per_sample}")
    return group.sample.ok


_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def _stream_cap(fileobj: BinaryIO, limits: TarLimits) -> tuple[int, str]:
    """(inflated-byte cap for this stream, why): the ratio cap applies to compressed shards only."""
    try:
        start = fileobj.tell()
        magic = fileobj.read(6)
        size = fileobj.seek(0, 2) - start
        fileobj.seek(start)
    except (OSError, ValueError):
        return limits.max_total_bytes, "max_total_bytes"
    if not magic.startswith(_COMPRESSED_MAGIC):
        return limits.max_total_bytes, "max_total_bytes"
    by_ratio = max(limits.inflation_floor_bytes, int(limits.max_inflation_ratio * size))
    if by_ratio >= limits.max_total_bytes:
        return limits.max_total_bytes, "max_total_bytes"
    return by_ratio, f"{limits.max_inflation_ratio:g}x the {size}-byte compressed shard"


def iter_tar_samples(fileobj: BinaryIO, limits: TarLimits | None = None) -> Iterator[TarSample]:
    """Stream ``fileobj`` as a tar and yield one :class:`TarSample` per group of members.

    Raises :class:`ShardError` after the last complete group if the shard is truncated, corrupt or
    over a shard-level cap. See the module docstring for the accounting contract.
    """
    limits = limits or TarLimits()
    total_cap, cap_why = _stream_cap(fileobj, limits)
    yielded = 0
    seen: set[str] = set()
    group: _Group | None = None
    n_members = 0
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|*", tarinfo=_EndTrackingTarInfo)
    except (tarfile.TarError, EOFError, OSError) as exc:
        kind = "shard_truncated" if "empty file" in str(exc) else "shard_corrupt"
        raise ShardError(kind, f"not a readable tar: {exc}") from None
    try:
        for m in tar:
            tar.members = []  # streaming: do not keep every header in memory (as webdataset does)
            n_members += 1
            key, suffix, unsafe = _split_name(m.name)
            if not m.isdir() and (group is None or key != group.sample.key):
                # A header with another key proves the previous group complete: yield it before
                # checking caps on the new header, so a shard error never swallows a finished sample.
                if group is not None:
                    yielded += 1
                    yield _finish(group, limits)
                group = _Group(key, yielded)
                if key in seen:
                    group.reject("non_adjacent_member", f"key {key[:200]!r} reappears after other keys")
                seen.add(key)
            if n_members > limits.max_members:
                raise ShardError("too_many_members", f"more than {limits.max_members} members", yielded)
            if m.offset_data + max(m.size, 0) > total_cap:
                detail = f"{m.name[:200]} ends at inflated byte {m.offset_data + m.size}, past {total_cap} ({cap_why})"
                raise ShardError("shard_too_large", detail, yielded)
            if m.isdir() or group is None:
                continue
            group.count += 1
            if unsafe is not None:
                group.reject("unsafe_member_name", f"{m.name[:200]!r}: {unsafe}")
            elif _check_member(m, suffix, group, limits):
                data = tar.extractfile(m)
                assert data is not None  # regular file
                head = data.read(min(m.size, HEAD_BYTES))
                wrong = wrong_magic(suffix, head, m.size) if limits.check_magic else None
                if wrong is not None:  # the rest is skipped by the stream, never held
                    group.reject("magic_mismatch", f"{m.name[:200]}: {wrong}")
                else:
                    group.sample.members[suffix] = head + data.read(m.size - len(head))
        _check_end(tar, yielded)
    except tarfile.ReadError as exc:
        kind = "shard_truncated" if "unexpected end" in str(exc) or "empty" in str(exc) else "shard_corrupt"
        raise ShardError(kind, str(exc), yielded) from None
    except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
        raise ShardError("shard_corrupt", f"{type(exc).__name__}: {exc}", yielded) from None
    finally:
        tar.close()
    if group is not None:
        yield _finish(group, limits)
