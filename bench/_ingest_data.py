"""The ingest benchmark's data: distinct real-photo JPEGs on disk and the URL lists that point at them.

The photos are ``bench/_photos.py``'s. The failure-mix list breaks a share of the same URLs (404, 500,
flaky 503, HTML served as ``image/jpeg``, a redirect to a private address).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _photos import load_sources, photo_jpegs, recipes

# path under the server (given a file name) -> share of the failure-mix list
FAULT_MIX = {"fault/404/{}": 0.05, "fault/500/{}": 0.03, "fault/flaky/{}": 0.02, "fault/html/{}": 0.02,
             "fault/private/{}": 0.01}


def make_photos(folder: Path, n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` distinct JPEGs (``bench/_photos.py``) as ``photo_NNNNNN.jpg`` in ``folder``, cached; returns
    (file name, caption) pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    # Photo i depends only on the seed and i, so the first n of a larger cached set are this set.
    cached = any(int(m.name.split("-")[2]) >= n for m in folder.glob(f".done-v2-*-{seed}"))  # bump v2 with the recipe
    sources = load_sources()
    todo = recipes(n, [s.size for s in sources], seed)
    if not cached:
        for i, data in enumerate(photo_jpegs(n, seed, sources)):
            (folder / f"photo_{i:06d}.jpg").write_bytes(data)
        (folder / f".done-v2-{n}-{seed}").touch()
    return [(f"photo_{i:06d}.jpg", recipe.caption) for i, recipe in enumerate(todo)]


def write_url_lists(folder: Path, base: str, pairs: list[tuple[str, str]], seed: int = 0) -> tuple[Path, Path]:
    """``clean.parquet`` (every photo) and ``mix.parquet`` (the same photos, FAULT_MIX of them broken)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"url": f"{base}/{name}", "caption": caption} for name, caption in pairs]
    pq.write_table(pa.Table.from_pylist(rows), folder / "clean.parquet")
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(pairs))
    start = 0
    mix = [dict(r) for r in rows]
    for pattern, share in FAULT_MIX.items():
        count = round(share * len(pairs))
        for i in order[start : start + count]:
            mix[i]["url"] = f"{base}/{pattern.format(pairs[i][0])}"
        start += count
    pq.write_table(pa.Table.from_pylist(mix), folder / "mix.parquet")
    return folder / "clean.parquet", folder / "mix.parquet"
