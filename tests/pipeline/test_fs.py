"""pipeline/fs.py against local disk and a real S3 server (SeaweedFS on 127.0.0.1)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from mmcurate.pipeline import fs


def test_resolve_maps_each_scheme_to_its_filesystem(tmp_path: Path) -> None:
    local, path = fs.resolve(tmp_path / "x")
    assert isinstance(local, pafs.LocalFileSystem) and path == str(tmp_path / "x")
    s3, key = fs.resolve("s3://bucket/a/b.parquet", fs.S3Options(endpoint_url="http://127.0.0.1:1", access_key="k", secret_key="s"))
    assert isinstance(s3, pafs.S3FileSystem) and key == "bucket/a/b.parquet"
    hf, hf_path = fs.resolve("hf://datasets/org/name/data/train.parquet")  # no network: only resolution
    assert isinstance(hf, pafs.PyFileSystem) and hf_path == "datasets/org/name/data/train.parquet"
    with pytest.raises(fs.StoreError, match="unsupported scheme 'ftp://'"):
        fs.resolve("ftp://host/x")
    assert fs.join("s3://b/out/", "parquet", "u-0000.parquet") == "s3://b/out/parquet/u-0000.parquet"


def test_s3_options_fall_back_to_the_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    opts = fs.S3Options(access_key="explicit").with_env()
    assert (opts.endpoint_url, opts.access_key, opts.region) == ("http://127.0.0.1:9000", "explicit", "us-east-1")


@pytest.mark.parametrize("remote", [False, True])
def test_write_read_list_delete_round_trip(remote: bool, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    root = f"s3://{request.getfixturevalue('s3_bucket')}/out" if remote else str(tmp_path / "out")
    target = fs.join(root, "parquet", "u-0000.bin")
    stored = fs.write_atomic(target, lambda fh: fh.write(b"abc" * 1000))
    assert (stored.bytes, stored.sha256) == (3000, hashlib.sha256(b"abc" * 1000).hexdigest())
    assert fs.read_bytes(target) == b"abc" * 1000 and fs.exists(target)
    assert fs.list_files(root) == [target]
    assert fs.relative_to(target, root) == "parquet/u-0000.bin"
    fs.delete(target)
    fs.delete(target)  # a repeated delete (a retried cleanup) is fine
    assert not fs.exists(target) and fs.list_files(root) == []


def test_failed_write_leaves_no_object(s3_bucket: str) -> None:
    target = f"s3://{s3_bucket}/out/x.bin"

    def broken(fh) -> None:  # noqa: ANN001
        fh.write(b"partial")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError):
        fs.write_atomic(target, broken)
    assert not fs.exists(target)


def test_check_bucket_gives_one_line_errors(s3_server, s3_bucket: str) -> None:  # noqa: ANN001
    fs.check_bucket(f"s3://{s3_bucket}/out")  # usable: no error
    with pytest.raises(fs.StoreError, match=r"bucket 'no-such-bucket' does not exist at http://127\.0\.0\.1:\d+$"):
        fs.check_bucket("s3://no-such-bucket/out")
    with pytest.raises(fs.StoreError, match="access denied") as denied:
        fs.check_bucket(f"s3://{s3_bucket}/out", fs.S3Options(access_key="wrong", secret_key="wrong"))
    with pytest.raises(fs.StoreError, match="unreachable") as unreachable:
        fs.check_bucket(f"s3://{s3_bucket}/out", fs.S3Options(endpoint_url="http://127.0.0.1:9"))
    assert "\n" not in str(denied.value) + str(unreachable.value)


@pytest.mark.parametrize(("message", "meaning"), [
    # The CI failure: a connect that took 403 ms was read as HTTP 403.
    ("When getting information for bucket 'b': AWS Error NETWORK_CONNECTION during HeadBucket operation: "
     "curlCode: 7, Could not connect to server; Details: Failed to connect to 127.0.0.1:9 after 403 ms", "unreachable"),
    ("When getting information for bucket 'b': AWS Error ACCESS_DENIED during HeadBucket operation: "
     "No response body.", "access denied"),
    ("When getting information for bucket 'b': AWS Error UNKNOWN (HTTP status 403) during HeadBucket operation: "
     "No response body.", "access denied"),
    ("When getting information for bucket 'b': AWS Error UNKNOWN (HTTP status 500) during HeadBucket operation: "
     "after 403 tries", "HTTP status 500"),
])
def test_store_errors_are_read_by_their_code_not_by_stray_digits(message: str, meaning: str) -> None:
    assert meaning in fs._explain(message)
