"""``--address`` pointing at nothing fails within seconds, naming the address (it used to hang)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mmcurate.pipeline.ray_session import RayAddressUnreachable, check_ray_address, init_ray


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_init_ray_on_a_closed_port_fails_fast_naming_the_address() -> None:
    import ray

    was_running = ray.is_initialized()  # the suite's shared session may already be up
    address = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(RayAddressUnreachable, match=rf"^no Ray cluster at {address}: .*refused"):
        init_ray(address=address)
    assert time.monotonic() - started < 30
    assert ray.is_initialized() == was_running  # nothing was started (or stopped) on the way


def test_a_port_that_is_not_ray_is_refused_within_the_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    address = f"ray://127.0.0.1:{listener.getsockname()[1]}"
    started = time.monotonic()
    try:
        with pytest.raises(RayAddressUnreachable, match=rf"no Ray cluster at {address}: .*no gRPC server answered"):
            check_ray_address(address, timeout_s=2)
    finally:
        listener.close()
        for s in accepted:
            s.close()
    assert time.monotonic() - started < 10


def test_a_live_gcs_passes_the_check(ray_session: str) -> None:
    check_ray_address(ray_session, timeout_s=5)
