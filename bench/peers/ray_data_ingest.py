"""Plain Ray Data URL ingest, the peer in ``bench/ingest.py`` (run from its own venv: ray[data], fsspec, aiohttp).

What a Ray Data user writes for "download, keep what decodes, write WebDataset tars of the original
bytes": ``read_parquet`` -> ``with_column(download("url"))`` (Ray's native download expression, which
fetches through fsspec's HTTP filesystem) -> a ``map_batches`` that decodes every image fully with
Pillow (the validating decode) and drops failures -> ``write_webdataset``.

    python ray_data_ingest.py URLS.parquet OUT_DIR SHARD_ROWS
"""

from __future__ import annotations

import io
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def validate(batch: pa.Table) -> pa.Table:
    """Keep rows whose bytes decode as an image; add their size (the validating decode)."""
    from PIL import Image

    keep, widths, heights = [], [], []
    for i, data in enumerate(batch.column("jpg").to_pylist()):
        if not data:
            continue
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.load()
                widths.append(im.width)
                heights.append(im.height)
                keep.append(i)
        except Exception:  # noqa: BLE001 - a bad image is dropped, as img2dataset does
            continue
    kept = batch.take(pa.array(keep, pa.int64()))
    keys = [f"{k:09d}" for k in kept.column("row").to_pylist()]
    meta = [json.dumps({"url": u, "width": w, "height": h})
            for u, w, h in zip(kept.column("url").to_pylist(), widths, heights)]
    return pa.table({"__key__": keys, "jpg": kept.column("jpg"), "txt": kept.column("caption"), "json": meta})


def as_bytes(sample: dict) -> dict:
    """The WebDataset encoder: the downloaded bytes as they are (Ray's default re-encodes a ``jpg``)."""
    return {k: v.encode() if isinstance(v, str) and not k.startswith("__") else v for k, v in sample.items()}


def main() -> None:
    import ray
    import ray.data
    from ray.data.expressions import download

    urls, out, shard_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ray.init(include_dashboard=False)
    table = pq.read_table(urls, columns=["url", "caption"])
    table = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    blocks = max(1, -(-table.num_rows // shard_rows))
    ds = ray.data.from_arrow(table).repartition(blocks)
    ds = ds.with_column("jpg", download("url"))
    ds = ds.map_batches(validate, batch_format="pyarrow", batch_size=None)
    ds.write_webdataset(out, encoder=as_bytes)
    ray.shutdown()


if __name__ == "__main__":
    main()
