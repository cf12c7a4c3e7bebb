"""Run :class:`mmcurate.jobs.demo_server.DemoServer` in its own process for the ingest benchmark.

``python bench/_serve.py ROOT`` serves ROOT (plus the ``/fault/...`` paths) on a free loopback port,
prints the base URL on one line, and serves until stdin closes or it gets SIGTERM. A separate process
keeps the server's request handling off the GIL of the benchmark driver that samples memory, and the
same server (same cost to the shared 2 cores) answers both img2dataset and mmcurate.
"""

from __future__ import annotations

import signal
import sys
from http.server import ThreadingHTTPServer

from mmcurate.jobs.demo_server import DemoServer

__all__: list[str] = []


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # socketserver listens with a backlog of 5; a client with 64 threads would then see dropped SYNs
    # and 1 s retransmits, which measures the server, not the client. Real web servers queue more.
    ThreadingHTTPServer.request_queue_size = 1024
    with DemoServer(sys.argv[1]) as server:
        print(server.base, flush=True)
        sys.stdin.read()  # returns when the parent closes our stdin (or dies)


if __name__ == "__main__":
    main()
