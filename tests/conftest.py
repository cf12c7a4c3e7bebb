"""Shared fixtures: one Ray session per test run, real media from installed packages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[str]:
    """Start one local Ray instance for the whole run; yields its address for subprocess drivers."""
    import ray

    from mmcurate.pipeline.ray_session import init_ray

    ctx = init_ray(address=None, num_cpus=2, object_store_memory=400 * 1024**2)
    yield ctx
    ray.shutdown()


@pytest.fixture(scope="session")
def skimage_data_dir() -> Path:
    """scikit-image's bundled photos (camera, astronaut, coffee, ...): real media, no download."""
    import skimage

    return Path(skimage.__file__).parent / "data"


@pytest.fixture(scope="session")
def s3_server():  # noqa: ANN201 - tests/s3_server.py's S3Server
    """A real S3-compatible server (SeaweedFS ``weed mini``) on 127.0.0.1 for the whole run."""
    from s3_server import S3Server

    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture()
def s3_bucket(s3_server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:  # noqa: ANN001
    """A fresh, empty bucket per test, with the AWS_* variables pointing at the server."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    name = s3_server.create_bucket()
    yield name
    s3_server.delete_bucket(name)


@pytest.fixture()
def tmp_out(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch means no GPU tests
        has_gpu = False
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not has_gpu:
            item.add_marker(skip)


os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
