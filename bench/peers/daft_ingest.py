"""Daft URL ingest, the peer in ``bench/ingest.py`` (run from its own venv: daft, its native runner).

What a Daft user writes for "download, keep what decodes, write WebDataset tars of the original
bytes": ``read_parquet`` -> ``download(url, on_error="null")`` -> ``decode_image(on_error="null")``
(Rust-native; the validating decode) -> keep rows that decoded. Daft has no WebDataset writer, so the
streamed partitions are written as tars of ``SHARD_ROWS`` samples with Python's ``tarfile`` here,
while Daft's native threads keep downloading and decoding the next partitions.

    python daft_ingest.py URLS.parquet OUT_DIR SHARD_ROWS
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


class ShardWriter:
    """Tars of ``rows`` samples each: ``KEY.jpg`` (original bytes), ``KEY.txt``, ``KEY.json``."""

    def __init__(self, out: Path, rows: int) -> None:
        self.out, self.rows, self.shard, self.count, self.tar = out, rows, 0, 0, None

    def add(self, key: str, jpg: bytes, caption: str, meta: dict) -> None:
        if self.tar is None:
            self.tar = tarfile.open(self.out / f"{self.shard:05d}.tar", "w")
        _add(self.tar, f"{key}.jpg", jpg)
        _add(self.tar, f"{key}.txt", (caption or "").encode())
        _add(self.tar, f"{key}.json", json.dumps(meta).encode())
        self.count += 1
        if self.count % self.rows == 0:
            self.close()

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar, self.shard = None, self.shard + 1


def main() -> None:
    import daft
    from daft import col
    from daft.functions import decode_image, download, image_height, image_width

    urls, out, shard_rows = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    df = daft.read_parquet(urls)
    df = df.with_column("jpg", download(col("url"), on_error="null"))
    df = df.with_column("image", decode_image(col("jpg"), on_error="null"))
    df = df.where(col("image").not_null())
    df = df.select("url", "caption", "jpg", image_width(col("image")).alias("width"),
                   image_height(col("image")).alias("height"))
    writer = ShardWriter(out, shard_rows)
    n = 0
    for part in df.iter_partitions():
        for row in part.to_arrow().to_pylist():
            writer.add(f"{n:09d}", row["jpg"], row["caption"],
                       {"url": row["url"], "width": row["width"], "height": row["height"]})
            n += 1
    writer.close()
    print(f"{n} samples written", flush=True)


if __name__ == "__main__":
    main()
