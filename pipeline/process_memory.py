"""Freed media memory goes back to the OS, so a worker's footprint follows the bytes it holds now.

Measured with ``bench/memory.py`` (a folder unit of 34.5 MB of JPEGs): reading units grew a process
by 205 MB of PSS that stayed after each table was dropped. Two allocators kept it: Arrow's pool
(mimalloc) holds freed segments for reuse, and glibc raises its mmap threshold after the first large
free (up to 32 MiB), after which large reads land on the heap and stay there when freed.

So glibc's mmap threshold is fixed at 1 MiB (a larger buffer is mapped and unmapped; smaller ones reuse
the heap), and after a unit of 16 MiB or more is read, when its rows' Python bytes have just been
freed, Arrow's pool and glibc's heap hand their free pages back. Costs, timed on decode + caption
cleaning of 2,000 photos in units of 250 (about 9 MB each; best of 6, 3 alternating runs): the fixed
threshold none measurable; Arrow on the system allocator instead of mimalloc +30 %; trimming after
every unit +8 % (freed pages are faulted in again), hence only after large units, where the memory
kept is large too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import pyarrow as pa

__all__ = ["fix_mmap_threshold", "return_freed_memory", "MMAP_THRESHOLD_BYTES", "TRIM_MIN_UNIT_BYTES"]

MMAP_THRESHOLD_BYTES = 1024**2
TRIM_MIN_UNIT_BYTES = 16 * 1024**2
_M_MMAP_THRESHOLD = -3  # from <malloc.h>


def _glibc() -> Any | None:
    """The C library when it is glibc (it has ``malloc_trim``); None elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    except (OSError, AttributeError, TypeError):
        return None
    return libc


_LIBC = _glibc()


def fix_mmap_threshold() -> None:
    """glibc's mmap threshold fixed (no dynamic raise after large frees); a cheap call, safe to repeat."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


def return_freed_memory(unit_bytes: int) -> bool:
    """After a unit of ``unit_bytes`` was read: hand free pages back when the unit was large; True if so."""
    if unit_bytes < TRIM_MIN_UNIT_BYTES:
        return False
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    return True
