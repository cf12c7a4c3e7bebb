"""audio_dedup's ``keep: best``: of a cluster of copies, the best-sounding one stays (lossless, bit rate, rate)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.dedup.audio_keep import audio_quality
from mmcurate.pipeline.dedup.audio_pass import AudioDedup
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table

TEXT = "The rain in Spain stays mainly in the plain, said the professor to his student."


def test_quality_key_orders_lossless_then_bit_rate_then_sample_rate() -> None:
    probes = [
        {"codec": "mp3float", "bit_rate": 64000, "source_rate": 48000},
        {"codec": "mp3float", "bit_rate": 192000, "source_rate": 44100},
        {"codec": "flac", "bit_rate": 90000, "source_rate": 16000},
        {"codec": "pcm_s16le", "bit_rate": 705600, "source_rate": 44100},
        {"codec": "aac", "bit_rate": 192000, "source_rate": 48000},
        None,
    ]
    key = audio_quality(pa.table({"audio_probe": probes, "caption": ["x"] * 6}))
    order = sorted(range(6), key=lambda i: -key[i])
    assert order == [3, 2, 4, 1, 0, 5]


def _rows(copies: dict[str, bytes]) -> pa.Table:
    rows = [{S.SAMPLE_ID: name, S.SOURCE: "gen", S.LOCATOR: name, S.UNIT_ID: "u00-000000", S.UNIT_INDEX: i,
             S.UNIT_ROWS: len(copies), S.STATUS: S.STATUS_OK, S.MEDIA: [{"bytes": data, "kind": "audio"}]}
            for i, (name, data) in enumerate(copies.items())]
    return run_stages([AudioDecode()], to_table(rows, S.SAMPLE_SCHEMA))


def _removed(step: AudioDedup, table: pa.Table) -> dict[str, str]:
    table = step.derive(run_stages(step.signature_stages(), table))
    decision = step.decide(table.select(step.columns() + [S.SAMPLE_ID]))
    return {r[S.SAMPLE_ID]: r["duplicate_of"] for r in decision.to_pylist() if r["duplicate_of"]}


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_keep_best_keeps_the_flac_original_over_its_mp3_re_encodes() -> None:
    s, r = g.speech(TEXT)
    master = g._resample(s, r, 44100)
    table = _rows({  # the worst copy first in the input: "first" keeps it, "best" must not
        "a_mp3_64k": g.encode(master, 44100, "mp3", bit_rate=64000),
        "b_mp3_192k": g.encode(master, 44100, "mp3", bit_rate=192000),
        "c_flac": g.encode(master, 44100, "flac"),
        "d_other": g.encode(g.speech("A different sentence about the weather in London.")[0], r, "wav"),
    })
    probes = {row[S.SAMPLE_ID]: row["audio_probe"] for row in table.to_pylist()}
    assert probes["a_mp3_64k"]["bit_rate"] == 64000 and probes["c_flac"]["bit_rate"] > 0
    assert _removed(AudioDedup(keep="best"), table) == {"a_mp3_64k": "c_flac", "b_mp3_192k": "c_flac"}
    assert _removed(AudioDedup(keep="first"), table) == {"b_mp3_192k": "a_mp3_64k", "c_flac": "a_mp3_64k"}
