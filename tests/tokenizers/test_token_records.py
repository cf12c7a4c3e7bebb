"""Token records: interleaving, id layout (images, video clips with timestamps), spans and counts; shards +
manifest readable by pyarrow alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from mmcurate.schemas import sample as S
from mmcurate.schemas.token_record import COUNTS, TOKEN_RECORD_SCHEMA, TOKEN_RECORD_VERSION
from mmcurate.tokenizers.audio_spans import AudioSpan, audio_spans
from mmcurate.tokenizers.text import default_text_tokenizer, train_caption_bpe
from mmcurate.tokenizers.token_records import (
    AUDIO_MARKERS,
    ClipCodes,
    TokenLayout,
    build_record,
    timestamp_encoder,
    token_records,
    write_token_shards,
)
from mmcurate.tokenizers.vqvae.stage import VQ_CLIP_CODES, VQ_CODES, VQ_GRID, VQTokenize


@pytest.fixture(scope="module")
def layout() -> TokenLayout:
    return TokenLayout.from_tokenizer(default_text_tokenizer(), codebook_size=512)


def test_layout_uses_tokenizer_markers_or_appends_them(layout: TokenLayout) -> None:
    # The shipped BPE has the image/video markers but not the audio ones: those follow the image codes.
    assert layout.image_offset == 4096 and layout.appended == () and layout.audio_offset == 4096 + 512
    assert layout.appended_after_codes == tuple(AUDIO_MARKERS.values()) and layout.vocab_size == 4096 + 512 + 3
    assert [layout.special_ids[k] for k in AUDIO_MARKERS] == [4608, 4609, 4610]
    bare = train_caption_bpe(["plain text only"] * 5, vocab_size=270, special_tokens=["<unk>"])
    other = TokenLayout.from_tokenizer(bare, codebook_size=16)
    n = bare.get_vocab_size()
    assert other.special_ids == {"eos": n, "image_start": n + 1, "image_end": n + 2, "video_start": n + 3,
                                 "video_end": n + 4, "audio_start": n + 5 + 16, "audio_end": n + 6 + 16,
                                 "audio_pad": n + 7 + 16}
    assert other.image_offset == n + 5 and other.to_dict()["timestamp_format"].format(12.5) == "<12.5 seconds>"


def test_build_record_interleaves_and_counts(layout: TokenLayout) -> None:
    rec = build_record("s", [10, 11, 12], [([0, 1, 2, 3], 2, 2, 0), ([5, 6], 1, 2, 2)], layout)
    sp = layout.special_ids
    off = layout.image_offset
    assert rec["input_ids"] == [sp["image_start"], off, off + 1, off + 2, off + 3, sp["image_end"],
                                sp["image_start"], off + 5, off + 6, sp["image_end"], 10, 11, 12, sp["eos"]]
    assert [(s["modality"], s["start"], s["length"], s["media_index"]) for s in rec["spans"]] == [
        ("image", 1, 4, 0), ("image", 7, 2, 2), ("text", 10, 3, None)]
    assert [rec[k] for k in COUNTS] == [14, 3, 6, 0, 0, 0, 5]
    text_first = build_record("s", [10], [([0], 1, 1, 0)], layout, image_first=False)
    assert text_first["input_ids"][:2] == [10, sp["image_start"]]
    with pytest.raises(ValueError, match="grid"):
        build_record("s", [], [([0, 1, 2], 2, 2, 0)], layout)


def _ids(text: str) -> list[int]:
    return default_text_tokenizer().encode(text, add_special_tokens=False).ids


def test_video_clips_get_markers_timestamps_and_frame_codes(layout: TokenLayout) -> None:
    # An image (media 0) and a video (media 1) cut into two clips; the clips are listed out of media order
    # on purpose: the record follows media order, then clip order.
    clips = [ClipCodes(1, 0, [0.0, 0.5], [[1, 2], [3, 4]], 1, 2), ClipCodes(1, 1, [2.3], [[7, 8]], 1, 2)]
    rec = build_record("v", [10, 11], [([5], 1, 1, 0)], layout, clips=clips,
                       timestamp_ids=timestamp_encoder(default_text_tokenizer()))
    sp, off = layout.special_ids, layout.image_offset
    t0, t05, t23 = _ids("<0.0 seconds>"), _ids("<0.5 seconds>"), _ids("<2.3 seconds>")
    assert len(t0) > 1 and all(i < off for i in t0 + t05 + t23)  # plain text ids, several per timestamp
    assert rec["input_ids"] == [
        sp["image_start"], off + 5, sp["image_end"],
        sp["video_start"], *t0, sp["image_start"], off + 1, off + 2, sp["image_end"],
        *t05, sp["image_start"], off + 3, off + 4, sp["image_end"], sp["video_end"],
        sp["video_start"], *t23, sp["image_start"], off + 7, off + 8, sp["image_end"], sp["video_end"],
        10, 11, sp["eos"]]
    spans = [(s["modality"], s["length"], s["media_index"], s["clip_index"], s["timestamp"]) for s in rec["spans"]]
    assert spans == [("image", 1, 0, None, None),
                     ("timestamp", len(t0), 1, 0, 0.0), ("video_frame", 2, 1, 0, 0.0),
                     ("timestamp", len(t05), 1, 0, 0.5), ("video_frame", 2, 1, 0, 0.5),
                     ("timestamp", len(t23), 1, 1, 2.3), ("video_frame", 2, 1, 1, 2.3),
                     ("text", 2, None, None, None)]
    ids = rec["input_ids"]
    for s in rec["spans"]:  # code spans sit between image markers; timestamp spans hold exactly the text ids
        if s["modality"] == "video_frame":
            assert (ids[s["start"] - 1], ids[s["start"] + s["length"]]) == (sp["image_start"], sp["image_end"])
        if s["modality"] == "timestamp":
            assert ids[s["start"]:s["start"] + s["length"]] == _ids(f"<{s['timestamp']:.1f} seconds>")
    assert rec["image_grids"] == [{"h": 1, "w": 1}] + [{"h": 1, "w": 2}] * 3
    assert [rec[k] for k in COUNTS[1:]] == [2, 1, 6, len(t0 + t05 + t23), 0, 2 + 2 * 2 + 2 * 3 + 1]
    assert rec["n_tokens"] == len(ids) == sum(rec[k] for k in COUNTS[1:])
    assert build_record("v", [10], [], layout, False, clips[1:], lambda t: [99])["input_ids"][:3] == [
        10, sp["video_start"], 99]
    with pytest.raises(ValueError, match="timestamp_ids"):
        build_record("v", [], [], layout, clips=clips)
    with pytest.raises(ValueError, match="timestamps"):
        build_record("v", [], [], layout, clips=[ClipCodes(1, 0, [0.0], [[1, 2], [3, 4]], 1, 2)],
                     timestamp_ids=lambda t: [])


def test_audio_windows_become_placeholder_spans_after_their_media_item(layout: TokenLayout) -> None:
    # A video (media 0, one clip) whose soundtrack has two windows, then a caption: the windows follow the
    # clip of the video they belong to, each between audio markers, its placeholders as many as counted.
    sp, off = layout.special_ids, layout.image_offset
    clip = ClipCodes(0, 0, [0.0], [[1]], 1, 1)
    windows = [AudioSpan(0, 0.0, 2.0, 3), AudioSpan(0, 2.0, 3.5, 2)]
    rec = build_record("av", [10], [], layout, clips=[clip], timestamp_ids=lambda t: [99], audio=windows)
    assert rec["input_ids"] == [
        sp["video_start"], 99, sp["image_start"], off + 1, sp["image_end"], sp["video_end"],
        sp["audio_start"], *[sp["audio_pad"]] * 3, sp["audio_end"],
        sp["audio_start"], *[sp["audio_pad"]] * 2, sp["audio_end"], 10, sp["eos"]]
    audio = [(s["start"], s["length"], s["media_index"], s["timestamp"], s["end"])
             for s in rec["spans"] if s["modality"] == "audio"]
    assert audio == [(7, 3, 0, 0.0, 2.0), (12, 2, 0, 2.0, 3.5)]
    assert rec["n_audio"] == 5 and rec["n_special"] == 4 + 4 + 1
    assert rec["n_tokens"] == len(rec["input_ids"]) == sum(rec[k] for k in COUNTS[1:])
    with pytest.raises(ValueError, match="0 tokens"):
        build_record("a", [], [], layout, audio=[AudioSpan(0, 0.0, 0.01, 0)])


def test_audio_spans_come_from_counted_windows_or_the_whole_recording() -> None:
    media = [{"kind": "image"}, {"kind": "audio"}]
    windows = [{"window_index": 0, "start_s": 0.0, "end_s": 4.0, "tokens_audio": 100},
               {"window_index": 1, "start_s": 4.0, "end_s": 5.0, "tokens_audio": 25}]
    row = {S.SAMPLE_ID: "a", S.MEDIA: media, "audio_windows": windows, "tokens_audio": 125}
    assert audio_spans(row) == [AudioSpan(1, 0.0, 4.0, 100), AudioSpan(1, 4.0, 5.0, 25)]
    whole = {S.SAMPLE_ID: "b", S.MEDIA: [{"kind": "video"}], "tokens_audio": 50, "audio_probe": {"duration_s": 2.0}}
    assert audio_spans(whole) == [AudioSpan(0, 0.0, 2.0, 50)]
    assert audio_spans({S.SAMPLE_ID: "c", S.MEDIA: [{"kind": "image"}], "tokens_audio": 0}) == []
    with pytest.raises(ValueError, match=r"windows \[1\] have no token count"):
        audio_spans({**row, "audio_windows": [windows[0], {**windows[1], "tokens_audio": None}]})


def test_shards_and_manifest_load_with_pyarrow_alone(layout: TokenLayout, tmp_path: Path) -> None:
    schema = pa.schema([pa.field(S.SAMPLE_ID, pa.string()), pa.field(S.CAPTION, pa.string()),
                        pa.field(S.STATUS, pa.string()), *VQTokenize.writes])
    clip = {"media_index": 0, "clip_index": 0, "frame_index": [0, 2], "frame_ts": [0.0, 1.0],
            "codes": [[1, 2, 3, 4], [5, 6, 7, 8]], "grid": {"h": 2, "w": 2}}
    samples = pa.Table.from_pylist([
        {S.SAMPLE_ID: "a", S.CAPTION: "one blue circle", S.STATUS: "ok",
         VQ_CODES: [[1, 2, 3, 4], None], VQ_GRID: [{"h": 2, "w": 2}, None]},
        {S.SAMPLE_ID: "b", S.CAPTION: None, S.STATUS: "ok", VQ_CODES: [], VQ_GRID: []},
        {S.SAMPLE_ID: "c", S.CAPTION: "dropped", S.STATUS: "rejected", VQ_CODES: None, VQ_GRID: None},
        {S.SAMPLE_ID: "v", S.CAPTION: "a video", S.STATUS: "ok", VQ_CODES: [None], VQ_GRID: [None],
         VQ_CLIP_CODES: [clip]},
    ], schema=schema)
    records = token_records(samples, default_text_tokenizer(), layout)
    assert records.schema.equals(TOKEN_RECORD_SCHEMA) and records.column("sample_id").to_pylist() == ["a", "b", "v"]
    assert all(f.metadata and b"doc" in f.metadata for f in TOKEN_RECORD_SCHEMA)
    video = records.to_pylist()[2]
    assert [s["modality"] for s in video["spans"]] == ["timestamp", "video_frame", "timestamp", "video_frame", "text"]
    assert video["n_video"] == 8 and video["n_timestamp"] == len(_ids("<0.0 seconds>") + _ids("<1.0 seconds>"))
    manifest = write_token_shards(records, tmp_path, layout, rows_per_shard=2)
    assert [s["rows"] for s in manifest["shards"]] == [2, 1] and manifest["totals"]["n_image"] == 4
    assert manifest["totals"]["n_video"] == 8 and manifest["schema"] == "token_record/v3"
    assert manifest["totals"]["n_tokens"] == sum(manifest["totals"][k] for k in COUNTS[1:])
    code = (
        "import json, sys, pyarrow.parquet as pq, pathlib; root = pathlib.Path(sys.argv[1]); "
        "m = json.loads((root / 'manifest.json').read_text()); "
        "import pyarrow as pa; t = pa.concat_tables([pq.read_table(root / s['path']) for s in m['shards']]); "
        "assert 'mmcurate' not in sys.modules; "
        "print(json.dumps([t.schema.metadata[b'mmcurate.schema'].decode(), t.column('n_tokens').to_pylist()]))"
    )
    out = subprocess.run([sys.executable, "-I", "-c", code, str(tmp_path)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    version, n_tokens = json.loads(out.stdout)
    assert version == TOKEN_RECORD_VERSION and n_tokens == records.column("n_tokens").to_pylist()
    assert not list(tmp_path.glob("*.mmcurate-tmp-*"))
