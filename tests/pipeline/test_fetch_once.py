"""A URL list with a dedup pass fetches every URL once: the pass's collection keeps the downloaded rows
and the main pass continues from them (on Ray and in process alike), then drops them."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmcurate.jobs.demo_server import DemoServer
from mmcurate.jobs.job_file import resolve
from mmcurate.jobs.run import run_job


def _photos(root: Path, skimage_data_dir: Path) -> list[str]:
    names = []
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"):
        image = Image.open(skimage_data_dir / name).convert("RGB")
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90)
        (root / name.replace(".png", ".jpg")).write_bytes(buf.getvalue())
        names.append(name.replace(".png", ".jpg"))
    shutil.copy(root / names[0], root / "copy_of_astronaut.jpg")  # an exact duplicate under another URL
    return names + ["copy_of_astronaut.jpg"]


def _job(urls: Path, out: Path) -> dict:
    return {
        "inputs": [{"kind": "parquet", "path": str(urls), "url_column": "url", "unit_rows": 2}],
        "steps": [{"use": "download", "policy": {"allowed_networks": ["127.0.0.1/32"]}}, {"use": "image_decode"},
                  {"use": "caption_clean"}, {"use": "dedup"}, {"use": "word_count", "min_words": 2}],
        "output": {"path": str(out), "formats": ["parquet"]},
    }


def _run(tmp_path: Path, names: list[str], engine: str, address: str | None) -> tuple[dict, dict[str, int]]:
    with DemoServer(tmp_path / "web") as server:
        urls = [server.url(n) for n in names] + [server.url("missing.jpg")]
        pq.write_table(pa.table({"url": urls, "caption": [f"a photo named {n}" for n in names] + ["gone photo"]}),
                       tmp_path / f"urls-{engine}.parquet")
        funnel = run_job(resolve(_job(tmp_path / f"urls-{engine}.parquet", tmp_path / engine)),
                         use_ray=engine == "ray", address=address, progress=False)
        return funnel, dict(server.hits)


def test_each_url_is_fetched_once_with_a_dedup_pass(tmp_path: Path, skimage_data_dir: Path,
                                                    ray_session: str) -> None:
    (tmp_path / "web").mkdir()
    names = _photos(tmp_path / "web", skimage_data_dir)
    for engine in ("local", "ray"):
        funnel, hits = _run(tmp_path, names, engine, ray_session if engine == "ray" else None)
        assert sorted(hits) == sorted(f"/{n}" for n in [*names, "missing.jpg"]) and set(hits.values()) == {1}
        assert funnel["reasons"] == {"dedup_v1:exact_pixels": 1, "download_v1:http_404": 1}
        assert not list((tmp_path / engine / "passes").glob("rows/*"))  # kept rows dropped once committed
        accepted = pq.read_table(tmp_path / engine / "parquet").num_rows
        assert accepted == len(names) - 1  # every photo once: the copy removed, nothing lost
