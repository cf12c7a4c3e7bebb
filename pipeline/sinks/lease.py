"""The output lease: at most one job writes an output location at a time.

Two jobs on one output would interleave commit records and rewrite each other's manifest. The first
job creates ``_lease.json`` at the output root with a *conditional* create, so exactly one of two
racing jobs wins; the other is refused with a one-line ``LeaseHeld`` naming the holder.

* S3 (and S3-compatible stores): ``PUT`` with ``If-None-Match: *`` through botocore (pyarrow's S3
  filesystem does not expose conditional headers). The store answers 412 if the key exists. Renewal
  and release use ``If-Match: <etag>``, so a job never overwrites or deletes a lease it lost.
  AWS S3 supports both since 2024; SeaweedFS, MinIO and Ceph RGW do too.
* Local disk: ``open(O_CREAT | O_EXCL)``, atomic on POSIX filesystems (and on NFSv3+).
* Where the store lacks conditional writes (it answers 501 to the header, or it is ``gs://`` through
  pyarrow, which cannot send ``ifGenerationMatch``): check-then-write. A live holder is still
  refused, but two jobs started within the same ~100 ms could both proceed; a warning says so.

A lease lives ``ttl_s`` seconds and is renewed every ``ttl_s / 3`` by a daemon thread while the job
runs. A lease whose holder is gone — expired, or written by a process on this host that no longer
exists (a SIGKILLed run) — is stale and taken over (conditionally), so a rerun after a crash resumes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from mmcurate.pipeline import fs

__all__ = ["LEASE_FILE", "LeaseHeld", "OutputLease"]

log = logging.getLogger(__name__)
LEASE_FILE = "_lease.json"


class LeaseHeld(RuntimeError):
    """Another live job holds the output's lease (one line, names the holder)."""


class _Conflict(Exception):
    """The conditional write lost: the lease exists (create) or changed (replace/delete)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _S3Lease:
    def __init__(self, location: str, options: fs.S3Options | None) -> None:
        import boto3
        from botocore.config import Config

        opts = (options or fs.S3Options()).with_env()
        self.bucket, _, prefix = fs.resolve(location, options)[1].partition("/")
        self.key = f"{prefix.rstrip('/')}/{LEASE_FILE}" if prefix else LEASE_FILE
        self.client = boto3.client(
            "s3", endpoint_url=opts.endpoint_url, aws_access_key_id=opts.access_key,
            aws_secret_access_key=opts.secret_key, aws_session_token=opts.session_token, region_name=opts.region,
            config=Config(connect_timeout=opts.connect_timeout, read_timeout=opts.request_timeout,
                          retries={"max_attempts": 3, "mode": "standard"}))
        self.conditional = True

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, Key=self.key, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (409, 412):
                raise _Conflict() from None
            if status == 501 and self.conditional:  # the store does not implement the header
                log.warning("s3://%s/%s: store lacks conditional writes; lease is check-then-write", self.bucket, self.key)
                self.conditional = False
                return self._call(method, **{k: v for k, v in kwargs.items() if k not in ("IfNoneMatch", "IfMatch")})
            if status == 404:
                raise FileNotFoundError(self.key) from None
            raise

    def read(self) -> tuple[bytes, str] | None:
        try:
            got = self._call("get_object")
        except FileNotFoundError:
            return None
        return got["Body"].read(), got["ETag"]

    def create(self, body: bytes) -> str:
        if not self.conditional and self.read() is not None:
            raise _Conflict()
        return self._call("put_object", Body=body, IfNoneMatch="*")["ETag"]

    def replace(self, body: bytes, etag: str) -> str:
        return self._call("put_object", Body=body, IfMatch=etag)["ETag"]

    def delete(self, etag: str) -> None:
        try:
            self._call("delete_object", IfMatch=etag)
        except FileNotFoundError:
            pass


class _FileLease:
    """Local disk (O_EXCL) or a pyarrow filesystem without conditional writes (check-then-write)."""

    def __init__(self, location: str) -> None:
        self.path = fs.join(location, LEASE_FILE)
        self.local = not fs.is_remote(location)

    def read(self) -> tuple[bytes, str] | None:
        try:
            body = fs.read_bytes(self.path)
        except FileNotFoundError:
            return None
        return body, hashlib.sha256(body).hexdigest()

    def create(self, body: bytes) -> str:
        if self.local:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                raise _Conflict() from None
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            if self.read() is not None:
                raise _Conflict()
            fs.write_atomic(self.path, lambda fh: fh.write(body))
        return hashlib.sha256(body).hexdigest()

    def replace(self, body: bytes, etag: str) -> str:
        current = self.read()
        if current is None or current[1] != etag:
            raise _Conflict()
        fs.write_atomic(self.path, lambda fh: fh.write(body))
        return hashlib.sha256(body).hexdigest()

    def delete(self, etag: str) -> None:
        current = self.read()
        if current is not None and current[1] == etag:
            fs.delete(self.path)


@dataclass
class OutputLease:
    """``with OutputLease(out): ...`` holds ``out``'s lease for the block, renewing it in the background."""

    location: str
    ttl_s: float = 300.0
    s3: fs.S3Options | None = None
    holder: dict[str, Any] = field(default_factory=lambda: {
        "host": socket.gethostname(), "pid": os.getpid(), "token": uuid.uuid4().hex,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    lost: bool = False

    def __post_init__(self) -> None:
        scheme_s3 = fs.is_remote(self.location) and os.fspath(self.location).lower().startswith("s3://")
        self._store = _S3Lease(self.location, self.s3) if scheme_s3 else _FileLease(os.fspath(self.location))
        self._etag: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return json.dumps({**self.holder, "expires": time.time() + self.ttl_s}, sort_keys=True).encode()

    def _stale(self, lease: dict[str, Any]) -> bool:
        if lease.get("expires", 0) < time.time():
            return True
        return lease.get("host") == socket.gethostname() and not _pid_alive(int(lease.get("pid", -1)))

    def acquire(self) -> OutputLease:
        for _ in range(3):  # a stale lease taken over by a racer: look again
            try:
                self._etag = self._store.create(self._body())
                return self
            except _Conflict:
                pass
            current = self._store.read()
            if current is None:
                continue  # released between our create and our read
            body, etag = current
            try:
                lease = json.loads(body)
            except ValueError:
                lease = {}
            if not self._stale(lease):
                until = time.strftime("%H:%M:%SZ", time.gmtime(lease.get("expires", 0)))
                raise LeaseHeld(
                    f"{self.location} is in use by another mmcurate job (host {lease.get('host')}, pid "
                    f"{lease.get('pid')}, started {lease.get('started')}, lease valid until {until}); wait for it, "
                    f"use another output, or delete {fs.join(self.location, LEASE_FILE)} if that job is gone")
            try:
                self._etag = self._store.replace(self._body(), etag)
                log.warning("%s: took over a stale lease (host %s, pid %s)", self.location, lease.get("host"), lease.get("pid"))
                return self
            except _Conflict:
                continue
        raise LeaseHeld(f"{self.location}: lease contended by several jobs at once; retry")

    def renew(self) -> None:
        if self._etag is None:
            raise RuntimeError("renew() before acquire()")
        try:
            self._etag = self._store.replace(self._body(), self._etag)
        except _Conflict:
            self.lost = True
            log.error("%s: the output lease was taken by another job; this job's results may be mixed", self.location)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._etag is not None and not self.lost:
            self._store.delete(self._etag)
        self._etag = None

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                self.renew()
            except Exception:  # noqa: BLE001 - a missed renewal is retried; the lease has 2/3 of its ttl left
                log.exception("%s: lease renewal failed", self.location)

    def __enter__(self) -> OutputLease:
        self.acquire()
        self._thread = threading.Thread(target=self._heartbeat, name="mmcurate-lease", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
