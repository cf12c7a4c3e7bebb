"""Floors of the ingest benchmark, measured in the same run as the tools.

* the loopback server's own rate: every URL fetched by a bare libcurl multi loop (64 transfers in
  flight, bodies counted and dropped, nothing checked), so the client costs next to nothing and the
  figure is what the single-process server can answer on this machine;
* download alone: mmcurate's ``fetch_many`` (SSRF checks, limits, sniffing, sha256) over the list;
* the validating decode alone: mmcurate's image decode stage's ``decode_item`` over the photos;
* ``import ray; ray.init(); ray.shutdown()`` in a fresh interpreter, and a whole ``mmcurate run`` of
  one small unit (``fixed_cost``: Ray start and stop, the workers' imports, the driver's planning):
  what any run with the embedded (local) Ray pays whatever the list's length.

From these, :func:`best_allowed` gives the fastest and the most CPU-frugal run the floors permit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["best_allowed", "decode_alone", "download_alone", "ray_start_stop_seconds", "server_rate"]

_RAY_START_STOP = "import ray; ray.init(include_dashboard=False, num_cpus={cpus}); ray.shutdown()"


def _url_list(urls: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(urls, columns=["url"]).column("url").to_pylist()


def server_rate(urls: Path, in_flight: int = 64) -> tuple[float, float]:
    """(responses/s, client CPU s per response) of a bare pycurl multi loop over the whole list."""
    import pycurl

    todo = _url_list(urls)[::-1]
    multi, free, done = pycurl.CurlMulti(), [], 0
    for _ in range(in_flight):
        easy = pycurl.Curl()
        easy.setopt(pycurl.WRITEFUNCTION, len)  # count and drop: the body is not the point here
        free.append(easy)
    cpu0, t0 = time.process_time(), time.perf_counter()
    while todo or len(free) < in_flight:
        while todo and free:
            easy = free.pop()
            easy.setopt(pycurl.URL, todo.pop())
            multi.add_handle(easy)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        _, finished, failed = multi.info_read()
        for easy in [*finished, *(f[0] for f in failed)]:
            multi.remove_handle(easy)
            free.append(easy)
            done += 1
        multi.select(0.01)
    seconds = time.perf_counter() - t0
    return done / seconds, (time.process_time() - cpu0) / max(done, 1)


def download_alone(urls: Path, max_workers: int, per_host: int) -> tuple[float, float]:
    """(samples/s, client CPU s per sample) of mmcurate's ``fetch_many`` alone on the whole list."""
    from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_many

    url_list = _url_list(urls)
    policy = FetchPolicy(allowed_networks=("127.0.0.1/32",), max_workers=max_workers, per_host_limit=per_host)
    cpu0, t0 = time.process_time(), time.perf_counter()
    ok = sum(r.ok for r in fetch_many(url_list, policy))
    seconds = time.perf_counter() - t0
    return ok / seconds, (time.process_time() - cpu0) / max(ok, 1)


def ray_start_stop_seconds() -> float:
    """Wall seconds of ``import ray; ray.init(); ray.shutdown()`` in a fresh interpreter."""
    code = _RAY_START_STOP.format(cpus=os.cpu_count() or 1)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd="/")
    return time.perf_counter() - t0


def decode_alone(photos: Path, names: list[str]) -> float:
    """CPU seconds per image of mmcurate's validating decode (``ImageDecode.decode_item``), in process."""
    from mmcurate.pipeline.decode_image import ImageDecode
    from mmcurate.pipeline.readers.base import media_item

    stage = ImageDecode()
    items = [media_item((photos / name).read_bytes(), "image", "image/jpeg", "-") for name in names]
    cpu0 = time.process_time()
    for item in items:
        stage.decode_item(item)
    return (time.process_time() - cpu0) / max(len(items), 1)


def best_allowed(n: int, floors: dict[str, float], cores: int) -> tuple[float, float]:
    """(samples/s, samples per CPU-second) no embedded-Ray ``mmcurate run`` of ``n`` URLs can beat here.

    The single-process server answers at most ``server`` per second and spends a core doing it, so it
    costs 1/server core-seconds per sample; the tool needs at least the downloader's and the decode's CPU
    per sample; the fixed run costs wall and CPU once.
    """
    per_sample = floors["download_cpu"] + floors["decode_cpu"]
    rate = min(floors["server"], cores / (1.0 / floors["server"] + per_sample))
    return n / (floors["fixed_wall"] + n / rate), n / (floors["fixed_cpu"] + n * per_sample)
