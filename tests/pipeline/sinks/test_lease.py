"""The output lease on a real S3 server (conditional PUTs) and on local disk (O_EXCL)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mmcurate.pipeline import fs
from mmcurate.pipeline.sinks.lease import LEASE_FILE, LeaseHeld, OutputLease


@pytest.fixture(params=["s3", "local"])
def output(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return f"s3://{request.getfixturevalue('s3_bucket')}/curated"
    return str(tmp_path / "out")


def test_second_job_on_one_output_is_refused_until_the_first_ends(output: str) -> None:
    with OutputLease(output) as first:
        with pytest.raises(LeaseHeld, match=rf"is in use by another mmcurate job \(host {socket.gethostname()}, pid \d+") as err:
            OutputLease(output).acquire()
        assert "\n" not in str(err.value)
        first.renew()  # the holder itself renews fine (If-Match on its own etag)
        assert not first.lost
    assert not fs.exists(fs.join(output, LEASE_FILE))  # released
    OutputLease(output).acquire().release()


def test_racing_jobs_exactly_one_wins(output: str) -> None:
    results: list[str] = []
    barrier = threading.Barrier(4)

    def contend() -> None:
        barrier.wait()
        try:
            OutputLease(output).acquire()
            results.append("won")
        except LeaseHeld:
            results.append("refused")

    threads = [threading.Thread(target=contend) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["refused", "refused", "refused", "won"]


def test_lease_of_a_dead_process_or_expired_is_taken_over(output: str) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = {"host": socket.gethostname(), "pid": int(dead.stdout), "token": "x", "started": "then", "expires": time.time() + 600}
    fs.write_atomic(fs.join(output, LEASE_FILE), lambda fh: fh.write(json.dumps(stale).encode()))
    lease = OutputLease(output).acquire()  # a SIGKILLed run on this host: resumable at once
    assert json.loads(fs.read_bytes(fs.join(output, LEASE_FILE)))["token"] == lease.holder["token"]
    lease.release()
    expired = {**stale, "host": "another-host", "pid": 1, "expires": time.time() - 1}
    fs.write_atomic(fs.join(output, LEASE_FILE), lambda fh: fh.write(json.dumps(expired).encode()))
    OutputLease(output).acquire().release()
    live = {**expired, "expires": time.time() + 600}
    fs.write_atomic(fs.join(output, LEASE_FILE), lambda fh: fh.write(json.dumps(live).encode()))
    with pytest.raises(LeaseHeld, match="host another-host"):
        OutputLease(output).acquire()


def test_a_lost_lease_is_noticed_not_overwritten(output: str) -> None:
    lease = OutputLease(output).acquire()
    other = {"host": "another-host", "pid": 1, "token": "y", "started": "now", "expires": time.time() + 600}
    fs.write_atomic(fs.join(output, LEASE_FILE), lambda fh: fh.write(json.dumps(other).encode()))
    lease.renew()
    assert lease.lost
    lease.release()  # does not delete the other job's lease
    assert json.loads(fs.read_bytes(fs.join(output, LEASE_FILE)))["token"] == "y"
