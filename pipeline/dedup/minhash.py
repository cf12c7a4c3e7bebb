"""MinHash signatures of captions over word n-grams, vectorised, identical to datasketch's ``MinHash``.

datasketch is the reference everyone compares against, so our signatures are *the same numbers* as
``datasketch.MinHash(num_perm, seed).update(shingle)`` over the same shingles (a test checks
equality): datasketch >= 2.0's default ``affine32`` scheme — 32-bit ``sha1_hash32`` of each shingle
(first 4 bytes of SHA-1, little-endian), the MurmurHash3 32-bit finalizer, then ``a*h + b mod 2^32``
with odd ``a`` and ``b`` drawn from ``numpy.random.RandomState(seed)`` exactly as datasketch draws
them. The legacy pre-2.0 scheme (``(a*h + b) mod (2^61 - 1)`` truncated to 32 bits) is available too.

Why it is faster than the datasketch loop: datasketch runs a dozen numpy calls per *shingle*; here a
whole batch of documents is hashed with one list comprehension over ``hashlib.sha1`` and every
permutation of every shingle is one uint32 broadcast, followed by a segmented ``np.minimum.reduceat``
per document. What remains in Python is tokenising and SHA-1 per shingle (the reference hash).

Band keys: the signature is cut into ``bands`` bands of ``num_perm // bands`` rows; each band is
folded into one 64-bit key (splitmix64 mixing, band index included), so two rows share a key in
band ``i`` exactly when their band ``i`` rows are equal (up to 2^-64 collisions). Grouping equal keys
across the dataset yields candidate pairs; the estimated Jaccard of the full signatures verifies them.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Literal

import numpy as np
import pyarrow as pa

from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import DOC_NODES, document_text

__all__ = [
    "MINHASH_SIGNATURE",
    "MINHASH_BANDS",
    "word_shingles",
    "MinHasher",
    "MinHashSignature",
]

MINHASH_SIGNATURE = "minhash_signature"
MINHASH_BANDS = "minhash_bands"

_PUNCT_TO_SPACE = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))
_MAX32 = np.uint32(0xFFFFFFFF)
_MERSENNE = np.uint64((1 << 61) - 1)
_CHUNK_CELLS = 1 << 18  # perms x shingles per broadcast: 1 MB of uint32 stays in L2; 4x faster than 8 MB


def word_shingles(text: str | None, ngram: int) -> list[bytes]:
    """Lower-cased word n-grams of ``text`` as UTF-8 bytes (the whole text if it is shorter).

    Words are runs of non-space bytes after ASCII punctuation becomes space. Working on bytes with
    ``bytes.translate`` + ``split`` is ~2x faster than a Unicode ``\\w+`` regex, and tokenising is
    most of what is left in Python; non-ASCII punctuation (curly quotes) stays attached to its word.
    Repeated n-grams are kept: the minimum is idempotent, deduplicating them would cost more.
    """
    if not text:
        return []
    words = text.lower().encode().translate(_PUNCT_TO_SPACE).split()
    if len(words) <= ngram:
        return [b" ".join(words)] if words else []
    return [b" ".join(gram) for gram in zip(*(words[i:] for i in range(ngram)))]


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a bijection on uint64 with full avalanche."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@dataclass(frozen=True, kw_only=True)
class MinHasher:
    """Vectorised MinHash with datasketch's permutations; the fields are its configuration."""

    num_perm: int = 128
    seed: int = 1
    ngram: int = 3  # captions are short: 3-grams keep ~20-word captions at 18 shingles
    bands: int = 16  # 16 x 8 rows: S-curve midpoint (1/16)^(1/8) ~ 0.71 Jaccard
    scheme: Literal["affine32", "legacy"] = "affine32"

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.bands < 1 or self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a positive multiple of bands ({self.bands})")
        if self.scheme not in ("affine32", "legacy"):
            raise ValueError(f"unknown scheme {self.scheme!r}")

    @cached_property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)`` exactly as ``datasketch.MinHash(num_perm, seed, scheme=...)`` draws them."""
        gen = np.random.RandomState(self.seed)
        if self.scheme == "legacy":
            pairs = [
                (gen.randint(1, _MERSENNE, dtype=np.uint64), gen.randint(0, _MERSENNE, dtype=np.uint64))
                for _ in range(self.num_perm)
            ]
            ab = np.array(pairs, dtype=np.uint64).T
            return ab[0], ab[1]
        a = gen.randint(0, 1 << 31, self.num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = gen.randint(0, 1 << 32, self.num_perm, dtype=np.uint32)
        return a, b

    def _permute(self, hashes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``(num_perm, n_shingles)`` permuted values as uint32 (perm-major: reduceat along axis 1
        over contiguous rows is ~10x faster than along axis 0)."""
        if self.scheme == "legacy":
            # datasketch computes (a*h + b) in uint64 (wrapping) then % (2^61-1); a Mersenne modulus
            # is a shift and an add, several times cheaper than numpy's 64-bit division.
            x = np.multiply.outer(a, hashes.astype(np.uint64))
            x += b[:, None]
            x = (x & _MERSENNE) + (x >> np.uint64(61))
            x = np.where(x >= _MERSENNE, x - _MERSENNE, x)
            return (x & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        x = np.multiply.outer(a, _fmix32(hashes))  # uint32 arithmetic wraps: mod 2^32 as in datasketch
        x += b[:, None]
        return x

    def signatures(self, texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
        """``(signatures (n, num_perm) uint32, has_shingles (n,) bool)`` for a batch of texts.

        Texts without a single word get the all-``0xFFFFFFFF`` signature (datasketch's empty
        MinHash) and ``has_shingles`` false; callers must not treat those as duplicates of each other.
        """
        shingle_lists = [word_shingles(t, self.ngram) for t in texts]
        counts = np.fromiter((len(s) for s in shingle_lists), dtype=np.int64, count=len(texts))
        sha1 = hashlib.sha1
        # Whole 20-byte digests joined, then every 5th little-endian word: cheaper than digest()[:4].
        digests = b"".join([h.digest() for shingles in shingle_lists for h in map(sha1, shingles)])
        hashes = np.frombuffer(digests, dtype="<u4").reshape(-1, 5)[:, 0].astype(np.uint32)
        out = np.full((self.num_perm, len(texts)), _MAX32, dtype=np.uint32)
        a, b = self.permutations
        nonempty = np.flatnonzero(counts)
        starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
        # Cut the documents into groups of about _CHUNK_CELLS cells so the working set stays in cache.
        group_of = np.cumsum(counts[nonempty] * self.num_perm) // _CHUNK_CELLS
        bounds = np.flatnonzero(np.diff(group_of, prepend=-1)) if len(group_of) else []
        for lo_doc, hi_doc in zip(bounds, [*bounds[1:], len(nonempty)]):
            docs = nonempty[lo_doc:hi_doc]
            lo, hi = starts[docs[0]], starts[docs[-1]] + counts[docs[-1]]
            permuted = self._permute(hashes[lo:hi], a, b)
            out[:, docs] = np.minimum.reduceat(permuted, starts[docs] - lo, axis=1)
        return np.ascontiguousarray(out.T), counts > 0

    def band_keys(self, signatures: np.ndarray) -> np.ndarray:
        """``(n, bands)`` uint64 band keys of ``(n, num_perm)`` signatures."""
        rows = self.num_perm // self.bands
        sig = np.asarray(signatures, dtype=np.uint64).reshape(len(signatures), self.bands, rows)
        key = np.broadcast_to(_mix64(np.arange(self.bands, dtype=np.uint64) + np.uint64(self.seed)), sig.shape[:2])
        for r in range(rows):
            key = _mix64(key ^ sig[:, :, r])
        return np.ascontiguousarray(key)


@dataclass(kw_only=True)
class MinHashSignature(Stage):
    """Write the caption's MinHash signature and LSH band keys (null when it has no words).

    A document row (``doc_nodes``, no caption) is hashed on its live paragraphs in reading order, so
    ``minhash_dedup`` finds near-duplicate pages as it finds near-duplicate captions."""

    name: ClassVar[str] = "minhash_v1"
    reads: ClassVar[tuple[str, ...]] = (S.CAPTION, DOC_NODES)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(MINHASH_SIGNATURE, pa.list_(pa.uint32()),
                 metadata={"doc": "datasketch-identical MinHash of caption word n-grams (num_perm values)"}),
        pa.field(MINHASH_BANDS, pa.list_(pa.uint64()),
                 metadata={"doc": "one 64-bit LSH key per band of the signature"}),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)

    batch_size: int = 4096
    num_perm: int = 128
    seed: int = 1
    ngram: int = 3
    bands: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        self.hasher()  # validates the configuration eagerly

    def hasher(self) -> MinHasher:
        return MinHasher(num_perm=self.num_perm, seed=self.seed, ngram=self.ngram, bands=self.bands)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        hasher = self.hasher()
        sigs, valid = hasher.signatures(_texts(batch))
        keys = hasher.band_keys(sigs)
        mask = pa.array(~valid)
        sig_col = pa.FixedSizeListArray.from_arrays(pa.array(sigs.ravel(), pa.uint32()), self.num_perm)
        key_col = pa.FixedSizeListArray.from_arrays(pa.array(keys.ravel(), pa.uint64()), self.bands)
        columns = {
            MINHASH_SIGNATURE: pa.ListArray.from_arrays(_offsets(len(batch), self.num_perm), sig_col.flatten(), mask=mask),
            MINHASH_BANDS: pa.ListArray.from_arrays(_offsets(len(batch), self.bands), key_col.flatten(), mask=mask),
        }
        for field in self.writes:
            if field.name in batch.column_names:
                batch = batch.drop_columns([field.name])
            batch = batch.append_column(field, columns[field.name])
        return batch


def _texts(batch: pa.Table) -> list[str | None]:
    """Each row's caption, or for a document row without one its live text."""
    captions = batch.column(S.CAPTION).to_pylist()
    if DOC_NODES not in batch.column_names:
        return captions
    docs = batch.column(DOC_NODES).to_pylist()
    return [c if c is not None or d is None else document_text(d) for c, d in zip(captions, docs)]


def _offsets(n: int, width: int) -> pa.Array:
    return pa.array(np.arange(n + 1, dtype=np.int32) * width, pa.int32())
