"""Every input and output location — a local path or an ``s3://``, ``gs://`` or ``hf://`` URI — as a
(pyarrow FileSystem, path) pair, and the few operations the pipeline needs on it.

Why one module: readers, sinks, the manifest and the CLI used ``open()`` and ``pathlib``, so
``--output s3://b/x`` wrote a local folder named ``s3:``. Routing every location through ``resolve``
makes the store a property of the string. S3 settings come from explicit ``S3Options`` first, then the
standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_REGION`` / ``AWS_DEFAULT_REGION``), so S3-compatible stores work and Ray
workers configured through ``runtime_env`` env vars resolve the same way as the driver.

Writes: on local disk ``write_atomic`` keeps today's temp + fsync + rename (``pipeline/atomic.py``). An
object store has no rename, but a single PUT (or a completed multipart upload) is atomic: readers see
the old object or the new one, never a part. So the bytes are built in memory (shards are bounded by
``max_bytes``) and PUT once to the final, deterministic key: a retried unit overwrites with the same
bytes. ``hf://`` is read-only, through fsspec's ``HfFileSystem`` wrapped in pyarrow's ``PyFileSystem``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import BinaryIO

import pyarrow.fs as pafs

from mmcurate.pipeline.atomic import atomic_write

__all__ = ["S3Options", "StoreError", "StoredFile", "resolve", "is_remote", "is_store_uri", "join",
           "open_input_stream", "open_input_file", "parquet_source", "read_bytes", "write_atomic", "list_files",
           "exists", "delete", "check_bucket", "relative_to"]

REMOTE_SCHEMES = ("s3", "gs", "gcs", "hf")


class StoreError(ValueError):
    """A location that cannot be used (bad scheme, missing bucket, refused credentials): one line."""


@dataclass(frozen=True)
class S3Options:
    """S3 connection settings; a field left ``None`` falls back to the AWS environment variable."""

    endpoint_url: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    region: str | None = None
    # Seconds; pyarrow's defaults wait minutes on an unreachable endpoint.
    connect_timeout: float = 10.0
    request_timeout: float = 60.0

    def with_env(self) -> S3Options:
        env = os.environ
        return replace(
            self,
            endpoint_url=self.endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
            access_key=self.access_key or env.get("AWS_ACCESS_KEY_ID"),
            secret_key=self.secret_key or env.get("AWS_SECRET_ACCESS_KEY"),
            session_token=self.session_token or env.get("AWS_SESSION_TOKEN"),
            # A custom endpoint has no region discovery; us-east-1 is what S3-compatible stores expect.
            region=self.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        )


@dataclass(frozen=True)
class StoredFile:
    """What a write produced: its location, size and content hash."""

    location: str
    bytes: int
    sha256: str


def _split(location: str | os.PathLike[str]) -> tuple[str | None, str]:
    text = os.fspath(location)
    if "://" in text:
        scheme, rest = text.split("://", 1)
        scheme = scheme.lower()
        if scheme == "file":
            return None, rest
        if scheme not in REMOTE_SCHEMES:
            raise StoreError(f"{text}: unsupported scheme '{scheme}://' (use a local path, s3://, gs:// or hf://)")
        return scheme, rest.strip("/")
    return None, text


def is_remote(location: str | os.PathLike[str]) -> bool:
    return _split(location)[0] is not None


def is_store_uri(location: str | os.PathLike[str]) -> bool:
    """True for a location on a supported store; False for a local path and for any other scheme
    (``pipe:``, ``http://``), which the caller refuses in its own terms."""
    try:
        return is_remote(location)
    except StoreError:
        return False


@functools.lru_cache(maxsize=32)
def _s3(options: S3Options) -> pafs.FileSystem:
    return pafs.S3FileSystem(
        access_key=options.access_key, secret_key=options.secret_key, session_token=options.session_token,
        region=options.region, endpoint_override=options.endpoint_url,
        connect_timeout=options.connect_timeout, request_timeout=options.request_timeout,
        retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=3),
    )


@functools.lru_cache(maxsize=4)
def _hf() -> pafs.FileSystem:
    from huggingface_hub import HfFileSystem  # optional: only hf:// inputs need it

    return pafs.PyFileSystem(pafs.FSSpecHandler(HfFileSystem()))


def resolve(location: str | os.PathLike[str], s3: S3Options | None = None) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding ``location`` and the path to pass to it."""
    scheme, path = _split(location)
    if scheme is None:
        return pafs.LocalFileSystem(), os.path.abspath(path)
    if not path:
        raise StoreError(f"{os.fspath(location)}: no bucket in the URI")
    if scheme == "s3":
        return _s3((s3 or S3Options()).with_env()), path
    if scheme in ("gs", "gcs"):
        return pafs.GcsFileSystem(), path
    return _hf(), path


def join(location: str | os.PathLike[str], *parts: str) -> str:
    """``location``/``parts`` with ``/`` for URIs and the OS separator for local paths."""
    text = os.fspath(location)
    if is_remote(text):
        return "/".join([text.rstrip("/"), *(p.strip("/") for p in parts)])
    return os.path.join(text, *parts)


def relative_to(location: str, root: str | os.PathLike[str]) -> str:
    """``location`` relative to ``root``, with ``/`` separators (as the manifest records paths)."""
    _, path = _split(location)
    _, base = _split(root)
    if not is_remote(location):
        return os.path.relpath(os.path.abspath(path), os.path.abspath(base)).replace(os.sep, "/")
    return path[len(base.rstrip("/")) + 1:] if path.startswith(base.rstrip("/") + "/") else path


def open_input_stream(location: str | os.PathLike[str], s3: S3Options | None = None) -> pafs.NativeFile:
    fs, path = resolve(location, s3)
    return fs.open_input_stream(path)


def open_input_file(location: str | os.PathLike[str], s3: S3Options | None = None) -> pafs.NativeFile:
    """A random-access file: seeks and ranged reads (one GET each on a store, not the whole object)."""
    fs, path = resolve(location, s3)
    return fs.open_input_file(path)


def parquet_source(location: str | os.PathLike[str]) -> str | pafs.NativeFile:
    """What ``pq.ParquetFile`` reads best: a local path (it opens and closes the file itself), or a
    random-access file on a store (its footer and column chunks then come as ranged GETs)."""
    return open_input_file(location) if is_remote(location) else os.fspath(location)


def read_bytes(location: str | os.PathLike[str], s3: S3Options | None = None) -> bytes:
    with open_input_stream(location, s3) as fh:
        return fh.read()


def write_atomic(location: str | os.PathLike[str], write: Callable[[BinaryIO], None],
                 before_commit: Callable[[], None] | None = None, s3: S3Options | None = None) -> StoredFile:
    """Create ``location`` with the bytes ``write`` produces, all or nothing (see the module docstring)."""
    text = os.fspath(location)
    if not is_remote(text):
        from pathlib import Path

        info = atomic_write(Path(text), write, before_rename=before_commit)
        return StoredFile(location=text, bytes=info.bytes, sha256=info.sha256)
    if _split(text)[0] == "hf":
        raise StoreError(f"{text}: hf:// locations are read-only")
    buffer = io.BytesIO()
    write(buffer)
    data = buffer.getvalue()
    if before_commit is not None:
        before_commit()
    fs, path = resolve(text, s3)
    with fs.open_output_stream(path) as out:
        out.write(data)
    return StoredFile(location=text, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def list_files(location: str | os.PathLike[str], recursive: bool = True, s3: S3Options | None = None) -> list[str]:
    """Every file under ``location`` (none if it does not exist), as locations, sorted."""
    text = os.fspath(location)
    fs, path = resolve(text, s3)
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=recursive, allow_not_found=True))
    rels = sorted(i.path[len(path.rstrip("/")) + 1:] for i in infos if i.type == pafs.FileType.File)
    return [join(text, rel) for rel in rels]


def exists(location: str | os.PathLike[str], s3: S3Options | None = None) -> bool:
    fs, path = resolve(location, s3)
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def delete(location: str | os.PathLike[str], s3: S3Options | None = None) -> None:
    """Remove one file; a missing one is fine (deletes are retried after crashes)."""
    fs, path = resolve(location, s3)
    try:
        fs.delete_file(path)
    except FileNotFoundError:
        pass


_AWS_CODE = re.compile(r"AWS Error (\w+)")
_DENIED_CODES = frozenset({"ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "FORBIDDEN"})
_HTTP_403 = re.compile(
    r"(?i)\b(http status(?: code)?:? 403|403 forbidden|accessdenied|invalidaccesskeyid|signaturedoesnotmatch)\b")


def check_bucket(uri: str, s3: S3Options | None = None) -> None:
    """Preflight before any work starts: raises ``StoreError`` (one line) if the bucket is unusable."""
    scheme, path = _split(uri)
    if scheme is None:
        return
    bucket = path.split("/", 1)[0]
    options = (s3 or S3Options()).with_env() if scheme == "s3" else None
    where = f" at {options.endpoint_url}" if options and options.endpoint_url else ""
    if options is not None:
        # Short timeouts and one attempt: a preflight must answer in seconds, not after retries.
        fs: pafs.FileSystem = pafs.S3FileSystem(
            access_key=options.access_key, secret_key=options.secret_key, session_token=options.session_token,
            region=options.region, endpoint_override=options.endpoint_url, connect_timeout=3, request_timeout=10,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=1))
    else:
        fs = resolve(uri)[0]
    try:
        info = fs.get_file_info(bucket)
    except OSError as exc:
        raise StoreError(f"{uri}: {_explain(str(exc))} (bucket '{bucket}'{where})") from None
    if info.type == pafs.FileType.NotFound:
        raise StoreError(f"{uri}: bucket '{bucket}' does not exist{where}")


def _explain(message: str) -> str:
    # Network first and by the AWS error code: a connect failure's text carries its duration
    # ("after 403 ms"), so a bare "403" match read a dead endpoint as "access denied" in CI.
    lowered = message.lower()
    code = _AWS_CODE.search(message)
    if (code and code.group(1) == "NETWORK_CONNECTION") or any(
            k in lowered for k in ("couldn't connect", "could not connect", "connection refused", "curlcode",
                                   "timeout", "resolve host")):
        return "store unreachable: check AWS_ENDPOINT_URL and the network"
    if (code and code.group(1) in _DENIED_CODES) or _HTTP_403.search(message):
        return "access denied: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket policy"
    return message.splitlines()[0][:200] if message else "unusable"
