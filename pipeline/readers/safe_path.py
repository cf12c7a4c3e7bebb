"""Opening a file path that came out of untrusted data (a table's image column) without reaching the host.

A table row can hold ``../../x``, ``/etc/passwd``, ``/proc/self/environ``, ``/dev/zero`` or a FIFO. Each
of those was read (or hung, or filled memory) before this module. The rules, in the order they are
checked, each refusal a :class:`PathRefused` with a reason code and the numbers that decided it:

* ``path_refused``: empty, a NUL byte, or a ``scheme://`` URL (a path column is not a URL column).
* The path is joined to the table's folder (an absolute path stays absolute; ``~`` is *not* expanded,
  it is a folder name like any other) and resolved with every symlink followed (``realpath``).
* ``path_outside_root``: the resolved path is not inside one of the allowed roots (also resolved, so a
  root given through a symlink still matches), or it lies under ``/proc``, ``/sys`` or ``/dev``, which
  are never data whatever the roots say (``/proc`` files are "regular" and report size 0).
* ``not_regular_file``: opened with ``O_NONBLOCK`` (a FIFO cannot block the open) and ``O_NOFOLLOW``,
  then ``fstat`` on the descriptor: anything but a regular file (FIFO, socket, device, folder) is refused
  before a byte is read. The checks after open look at the descriptor, not the name, so a file swapped
  between check and open is judged by what was actually opened (the descriptor's own path is checked
  against the roots again where ``/proc/self/fd`` exists).
* ``too_large``: the descriptor's size is over the cap; at most ``max_bytes + 1`` bytes are ever read,
  so a file that grows while read is still refused rather than loaded.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PathRefused", "resolve_roots", "resolve_inside", "read_inside", "default_roots"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
# Kernel pseudo-filesystems: never a data file, even under a root someone configured as "/".
_NEVER = ("/proc", "/sys", "/dev")


class PathRefused(OSError):
    """A path from data that may not be read; ``code`` is the reject reason, the message has the numbers."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_roots(roots: Sequence[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Each root fully resolved (symlinks followed), so containment compares real locations."""
    return tuple(os.path.realpath(os.fspath(r)) for r in roots)


def _check_contained(real: str, value: str, roots: tuple[str, ...]) -> None:
    for never in _NEVER:
        if _inside(real, never):
            raise PathRefused("path_outside_root", f"{value!r} resolves to {real} under {never}: never a data file")
    if not any(_inside(real, root) for root in roots):
        raise PathRefused("path_outside_root",
                          f"{value!r} resolves to {real}, outside the allowed roots {list(roots)[:4]}")


def resolve_inside(value: str, base: str | os.PathLike[str], roots: tuple[str, ...]) -> str:
    """The real path of ``value`` (relative to ``base``), or :class:`PathRefused`; ``roots`` from :func:`resolve_roots`."""
    if not value or "\0" in value or _SCHEME.match(value):
        raise PathRefused("path_refused", f"{value[:200]!r}: not a file path (empty, NUL byte or URL)")
    real = os.path.realpath(os.path.join(os.fspath(base), value))
    _check_contained(real, value, roots)
    return real


def _open_regular(real: str, value: str) -> int:
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # the last component became a symlink after realpath
            raise PathRefused("path_refused", f"{value!r}: a symlink appeared while opening") from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):  # a socket / a folder
            raise PathRefused("not_regular_file", f"{value!r} ({real}): not a regular file ({exc.strerror})") from None
        raise
    return fd


def read_inside(value: str, base: str | os.PathLike[str], roots: tuple[str, ...], max_bytes: int) -> bytes:
    """The bytes of the regular file ``value`` names, inside ``roots``, at most ``max_bytes`` of them."""
    real = resolve_inside(value, base, roots)
    fd = _open_regular(real, value)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = stat.filemode(st.st_mode)[0]  # p: FIFO, s: socket, c/b: device, d: folder
            raise PathRefused("not_regular_file", f"{value!r} ({real}): file type {kind!r}, not a regular file")
        fd_path = f"/proc/self/fd/{fd}"
        if os.path.exists(fd_path):  # what was opened, not what the name said a moment ago
            _check_contained(os.path.realpath(fd_path), value, roots)
        if st.st_size > max_bytes:
            raise PathRefused("too_large", f"{value!r}: {st.st_size} bytes > max_file_bytes {max_bytes}")
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise PathRefused("too_large", f"{value!r}: grew past max_file_bytes {max_bytes} while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def default_roots(table_path: str | os.PathLike[str], allowed: Sequence[str] | None) -> tuple[str, ...]:
    """The configured roots, or the table's own folder when none are configured."""
    return resolve_roots(allowed if allowed else [Path(os.fspath(table_path)).parent])
