"""Token records: interleaving, id layout, spans and counts; shards + manifest readable by pyarrow alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from mmcurate.schemas import sample as S
from mmcurate.tokenizers.text import default_text_tokenizer, train_caption_bpe
from mmcurate.tokenizers.token_records import (
    TOKEN_RECORD_SCHEMA,
    TOKEN_RECORD_VERSION,
    TokenLayout,
    build_record,
    token_records,
    write_token_shards,
)
from mmcurate.tokenizers.vqvae.stage import VQ_CODES, VQ_GRID


@pytest.fixture(scope="module")
def layout() -> TokenLayout:
    return TokenLayout.from_tokenizer(default_text_tokenizer(), codebook_size=512)


def test_layout_uses_tokenizer_markers_or_appends_them(layout: TokenLayout) -> None:
    assert layout.image_offset == 4096 and layout.appended == () and layout.vocab_size == 4096 + 512
    bare = train_caption_bpe(["plain text only"] * 5, vocab_size=270, special_tokens=["<unk>"])
    other = TokenLayout.from_tokenizer(bare, codebook_size=16)
    n = bare.get_vocab_size()
    assert other.special_ids == {"eos": n, "image_start": n + 1, "image_end": n + 2}
    assert other.image_offset == n + 3


def test_build_record_interleaves_and_counts(layout: TokenLayout) -> None:
    rec = build_record("s", [10, 11, 12], [([0, 1, 2, 3], 2, 2, 0), ([5, 6], 1, 2, 2)], layout)
    sp = layout.special_ids
    off = layout.image_offset
    assert rec["input_ids"] == [sp["image_start"], off, off + 1, off + 2, off + 3, sp["image_end"],
                                sp["image_start"], off + 5, off + 6, sp["image_end"], 10, 11, 12, sp["eos"]]
    assert [(s["modality"], s["start"], s["length"], s["media_index"]) for s in rec["spans"]] == [
        ("image", 1, 4, 0), ("image", 7, 2, 2), ("text", 10, 3, None)]
    assert (rec["n_tokens"], rec["n_text"], rec["n_image"], rec["n_special"]) == (14, 3, 6, 5)
    text_first = build_record("s", [10], [([0], 1, 1, 0)], layout, image_first=False)
    assert text_first["input_ids"][:2] == [10, sp["image_start"]]
    with pytest.raises(ValueError, match="grid"):
        build_record("s", [], [([0, 1, 2], 2, 2, 0)], layout)


def test_shards_and_manifest_load_with_pyarrow_alone(layout: TokenLayout, tmp_path: Path) -> None:
    samples = pa.Table.from_pylist([
        {S.SAMPLE_ID: "a", S.CAPTION: "one blue circle", S.STATUS: "ok",
         VQ_CODES: [[1, 2, 3, 4], None], VQ_GRID: [{"h": 2, "w": 2}, None]},
        {S.SAMPLE_ID: "b", S.CAPTION: None, S.STATUS: "ok", VQ_CODES: [], VQ_GRID: []},
        {S.SAMPLE_ID: "c", S.CAPTION: "dropped", S.STATUS: "rejected", VQ_CODES: None, VQ_GRID: None},
    ])
    records = token_records(samples, default_text_tokenizer(), layout)
    assert records.schema.equals(TOKEN_RECORD_SCHEMA) and records.column("sample_id").to_pylist() == ["a", "b"]
    assert all(f.metadata and b"doc" in f.metadata for f in TOKEN_RECORD_SCHEMA)
    manifest = write_token_shards(records, tmp_path, layout, rows_per_shard=1)
    assert [s["rows"] for s in manifest["shards"]] == [1, 1] and manifest["totals"]["n_image"] == 4
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
    assert not list(tmp_path.glob("*.tmp-*"))
