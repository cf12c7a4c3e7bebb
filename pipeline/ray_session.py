"""Starting or joining Ray the same way for the CLI, the tests and library users.

Without an address Ray starts locally (the embedded default, for a laptop); with one the driver joins
a cluster. Workers use the installed ``mmcurate`` package: we never ship ``working_dir='.'``, which
would put the repository root first on ``sys.path`` and let ``tokenizers/`` shadow HuggingFace's.

Joining checks the address first (``check_ray_address``): ``ray.init`` on an address where nothing
answers retries for minutes (each try waits 30 s for the GCS), so a typo in ``--address`` looked like
a hang. A TCP connect and a gRPC handshake with a timeout turn that into one line naming the address.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from typing import Any

__all__ = ["init_ray", "alive_nodes", "configure_data_context", "check_ray_address", "RayAddressUnreachable"]

log = logging.getLogger(__name__)


class RayAddressUnreachable(RuntimeError):
    """``--address`` names no running Ray head (one line, names the address)."""


def _host_port(address: str) -> tuple[str, int]:
    client = address.startswith("ray://")
    target = address.removeprefix("ray://").rstrip("/")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        host, port = target, "10001" if client else "6379"  # Ray's defaults: client server, GCS
    return host.strip("[]"), int(port)


def check_ray_address(address: str, timeout_s: float = 10.0) -> None:
    """Raise ``RayAddressUnreachable`` unless a gRPC server (a Ray GCS or client server) answers there.

    ``auto`` / ``local`` are left to Ray, which fails fast on them. Takes at most ~2 x ``timeout_s``.
    """
    if address in ("auto", "local"):
        return
    host, port = _host_port(address)
    try:
        conn = socket.create_connection((host, port), timeout=timeout_s)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayAddressUnreachable(
            f"no Ray cluster at {address}: {reason} (is the head node up, is port {port} open?)") from None
    with conn:
        if not _speaks_http2(conn):
            raise RayAddressUnreachable(
                f"no Ray cluster at {address}: port {port} accepts connections but no gRPC server answered within "
                f"{timeout_s:g} s (is it the GCS port, 6379 by default, or ray:// with the client port, 10001?)")


# HTTP/2 client preface and an empty SETTINGS frame. Ray's GCS and client server are gRPC servers, and a
# gRPC server answers with its own SETTINGS frame (frame type 4); anything else is not Ray. This needs
# no gRPC package (grpcio is not a dependency of Ray's wheel).
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _speaks_http2(conn: socket.socket) -> bool:
    try:
        conn.sendall(_H2_PREFACE)
        header = b""
        while len(header) < 9:
            chunk = conn.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:
        return False
    return header[3] == 0x04


def configure_data_context(progress: bool = True) -> None:
    """Settings every mmcurate job relies on.

    ``target_max_block_size=None`` keeps each task's output in one block, so the rows of a work unit
    are never split across blocks between the reader and the unit writer (the writer checks it).
    Datasets built before this call keep the context they were built with.
    """
    from ray.data import DataContext
    from ray.data.context import ShuffleStrategy

    ctx = DataContext.get_current()
    ctx.target_max_block_size = None
    # Dedup's groupby: the hash shuffle's map actors aborted here (abseil "Mutex corrupt", SIGABRT,
    # recovered only by Ray's retry) on Ray 2.60 with 2 CPUs; the pull-based sort shuffle ran clean.
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.enable_progress_bars = progress
    ctx.verbose_stats_logs = False
    ctx.print_on_execution_start = False


def _is_checkout(path: str) -> bool:
    return os.path.isfile(os.path.join(path or ".", "tokenizers", "__init__.py")) and os.path.isdir(
        os.path.join(path or ".", "pipeline"))


_DRIVER_CWD = "MMCURATE_DRIVER_CWD"


def follow_driver_cwd() -> None:
    """In a worker of a local Ray started from a checkout: work in the driver's directory, so relative
    paths mean the same on the driver and on the workers. Called where a worker starts on a block (reading
    units, running a stage, writing a unit); a no-op everywhere else."""
    cwd = os.environ.get(_DRIVER_CWD)
    # Only a worker that starts where _cwd_not_shadowing put Ray: a variable inherited from another job
    # (a child process of a driver) must not move workers that started in their own driver's directory.
    if cwd and os.getcwd() == _neutral_dir() and os.path.isdir(cwd):
        os.chdir(cwd)


def _neutral_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "mmcurate-ray-start")


@contextlib.contextmanager
def _cwd_not_shadowing() -> Any:
    """Ray puts the directory ``ray.init`` ran in first on every worker's ``sys.path``. Started from a
    checkout of mmcurate, its ``tokenizers/`` folder would then shadow HuggingFace's ``tokenizers`` in
    the workers (mmcurate is installed: they need nothing from the checkout), so Ray is started from a
    neutral directory and :func:`follow_driver_cwd` moves each worker back to the driver's. The directory
    travels in the environment, which a local Ray's workers inherit: a runtime_env (or a setup hook)
    would send every worker start through Ray's runtime-env agent, about 1 s more per job here."""
    here = os.getcwd()
    if not _is_checkout(here):
        yield
        return
    os.makedirs(_neutral_dir(), exist_ok=True)
    os.chdir(_neutral_dir())
    try:
        yield
    finally:
        os.chdir(here)


def alive_nodes() -> int:
    """Nodes of the connected Ray cluster that are alive."""
    import ray

    return sum(1 for node in ray.nodes() if node.get("Alive"))


def init_ray(
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    env_vars: dict[str, str] | None = None,
    progress: bool = True,
) -> str:
    """Start (no address) or join (address) Ray; returns the GCS address to hand to other drivers."""
    import ray

    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True, "ignore_reinit_error": True}
    if not logging.getLogger("mmcurate").isEnabledFor(logging.INFO):
        kwargs["logging_level"] = logging.WARNING
    if address and env_vars:  # a cluster's workers do not share this shell's environment
        kwargs["runtime_env"] = {"env_vars": dict(env_vars)}
    elif env_vars:  # a local Ray's raylet, and so every worker, inherits this process's environment
        os.environ.update(env_vars)
    if not address:  # always this driver's: a child process must not follow its parent's directory
        os.environ[_DRIVER_CWD] = os.getcwd()
    else:
        os.environ.pop(_DRIVER_CWD, None)
    if not address:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
        if object_store_memory:
            kwargs["object_store_memory"] = object_store_memory
    else:
        check_ray_address(address)
    with _cwd_not_shadowing():
        ctx = ray.init(address=address, **kwargs) if address else ray.init(**kwargs)
    configure_data_context(progress)
    if not logging.getLogger("mmcurate").isEnabledFor(logging.INFO):  # `-q`: Ray's INFO lines go too
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return str(ctx.address_info["gcs_address"])
