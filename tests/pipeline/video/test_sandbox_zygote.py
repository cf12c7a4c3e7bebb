"""The sandbox's zygote: one pre-loaded fork server per process, a fresh grandchild per call.

Builtins stand in for decode functions: in the sandbox ``os.getpid`` is the grandchild's pid and
``os.getppid`` the zygote's (or, on the fallback path, the parent's: a fresh interpreter per call).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import videogen as g

from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video import sandbox_zygote as sandbox
from mmcurate.pipeline.video.sandbox import run_sandboxed


def test_many_calls_reuse_one_zygote_with_a_grandchild_each() -> None:
    zygotes = {run_sandboxed(os.getppid) for _ in range(3)}
    pids = [run_sandboxed(os.getpid) for _ in range(5)]
    assert len(zygotes) == 1
    zygote = zygotes.pop()
    assert zygote != os.getpid() and sandbox._zygote is not None and sandbox._zygote.pid == zygote
    assert len(set(pids)) == 5 and zygote not in pids and os.getpid() not in pids
    assert run_sandboxed(os.getppid) == zygote


def test_a_grandchild_crash_leaves_the_zygote_serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zygote = run_sandboxed(os.getppid)
    log = tmp_path / "attempts.log"
    monkeypatch.setenv("MMCURATE_TEST_CRASH_LOG", str(log))  # set after the zygote started: forwarded
    with pytest.raises(Reject) as info:
        run_sandboxed(g.crash_always, b"x", None)
    assert info.value.reason == "decoder_crash" and info.value.detail.count("SIGSEGV") == 2
    assert log.read_text().count("attempt") == 2
    assert run_sandboxed(os.getppid) == zygote


def test_a_hang_is_killed_and_the_zygote_lives_on() -> None:
    zygote = run_sandboxed(os.getppid)
    with pytest.raises(Reject) as info:
        run_sandboxed(g.hang_forever, b"x", None, timeout_s=1.0)
    assert info.value.reason == "decode_timeout"
    assert run_sandboxed(os.getppid) == zygote


def test_a_zygote_killed_between_calls_is_restarted() -> None:
    zygote = run_sandboxed(os.getppid)
    os.kill(zygote, signal.SIGKILL)
    fresh = run_sandboxed(os.getppid)  # whether or not it has died yet, this call must work
    assert fresh not in (zygote, os.getpid())
    assert run_sandboxed(divmod, 7, 2) == (3, 1)
    assert run_sandboxed(os.getppid) == fresh


def test_a_zygote_killed_during_a_call_is_a_crash_and_is_restarted() -> None:
    zygote = run_sandboxed(os.getppid)
    killer = threading.Timer(0.5, os.kill, (zygote, signal.SIGKILL))
    killer.start()
    start = time.monotonic()
    with pytest.raises(Reject) as info:
        run_sandboxed(g.hang_forever, b"x", None, timeout_s=30, crash_retries=0)
    killer.join()
    assert info.value.reason == "decoder_crash" and "zygote died" in info.value.detail
    assert time.monotonic() - start < 10  # noticed at once, not at the watchdog's deadline
    assert run_sandboxed(os.getppid) not in (zygote, os.getpid())


def test_memory_cap_is_too_large_in_the_grandchild() -> None:
    zygote = run_sandboxed(os.getppid)
    with pytest.raises(Reject) as info:
        run_sandboxed(bytearray, 64 << 30, max_memory_bytes=4 << 30)
    assert info.value.reason == "too_large"
    assert run_sandboxed(len, b"abc", max_memory_bytes=4 << 30) == 3
    assert run_sandboxed(os.getppid) == zygote  # the cap was the grandchild's alone


def test_environment_and_cwd_are_the_callers_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_sandboxed(os.getppid)  # the zygote exists before the changes below
    monkeypatch.setenv("MMCURATE_TEST_SANDBOX_VAR", "now")
    monkeypatch.chdir(tmp_path)
    assert run_sandboxed(os.getenv, "MMCURATE_TEST_SANDBOX_VAR") == "now"
    assert run_sandboxed(os.getcwd) == str(tmp_path)


def test_threads_share_the_zygote() -> None:
    results: list[object] = []

    def call(i: int) -> None:
        results.append(run_sandboxed(divmod, i, 3))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(divmod(i, 3) for i in range(8))


def test_fallback_to_one_interpreter_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCURATE_SANDBOX_ZYGOTE", "0")
    assert run_sandboxed(os.getppid) == os.getpid()
    monkeypatch.delenv("MMCURATE_SANDBOX_ZYGOTE")

    def cannot_start() -> None:
        raise OSError("no zygote today")

    monkeypatch.setattr(sandbox, "_zygote", None)
    monkeypatch.setattr(sandbox, "_start_failed", False)
    monkeypatch.setattr(sandbox, "_Zygote", cannot_start)
    assert run_sandboxed(os.getppid) == os.getpid()
    with pytest.raises(Reject) as info:
        run_sandboxed(g.crash_always, b"x", None)
    assert info.value.reason == "decoder_crash" and "SIGSEGV" in info.value.detail
    assert sandbox._start_failed and sandbox._zygote is None


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> object:
    (tmp_path / f"{name}.py").write_text(f"import os, sys, threading, time\n{body}\ndef parent():\n"
                                         "    return os.getppid()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return __import__(name)


def test_a_function_the_zygote_cannot_import_runs_in_a_fresh_interpreter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zygote = run_sandboxed(os.getppid)
    mod = _module(tmp_path, monkeypatch, "zyg_not_in_zygote",
                  'if "--zygote" in sys.argv:\n    raise ImportError("not in the zygote")')
    assert run_sandboxed(mod.parent) == os.getpid()  # type: ignore[attr-defined]
    assert run_sandboxed(os.getppid) == zygote  # declined, not broken


def test_a_module_that_starts_a_thread_is_never_forked_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zygote = run_sandboxed(os.getppid)
    mod = _module(tmp_path, monkeypatch, "zyg_starts_a_thread",
                  "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()")
    assert run_sandboxed(mod.parent) == os.getpid()  # type: ignore[attr-defined]
    assert "zyg_starts_a_thread" in sandbox._unsafe_modules
    assert run_sandboxed(mod.parent) == os.getpid()  # type: ignore[attr-defined]
    fresh = run_sandboxed(os.getppid)  # that zygote stopped; a clean one serves the rest
    assert fresh not in (zygote, os.getpid())
