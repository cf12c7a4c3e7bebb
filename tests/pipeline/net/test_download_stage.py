"""The Download stage through the runner: media filled for ok rows, coded rejects for the rest."""

from __future__ import annotations

import hashlib
import pickle

import pyarrow as pa

from mmcurate.pipeline.net.download_stage import DOWNLOAD_ATTEMPTS, HTTP_STATUS, Download
from mmcurate.pipeline.net.fetch import FetchPolicy
from mmcurate.pipeline.runner import apply_to_rows, output_schema, run_stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table


def _stage() -> Download:
    return Download(policy=FetchPolicy(allow_private_networks=True, total_timeout=2.0, backoff_base=0.05))


def test_rows_filled_or_rejected(http_server, png_bytes: bytes) -> None:
    rows = [{S.URL: http_server.url("/img.png")}, {S.URL: http_server.url("/404")},
            {S.URL: http_server.url("/html")}, {S.URL: None}, {S.URL: "file:///etc/passwd"}]
    out = apply_to_rows(_stage(), rows)
    assert [r[S.STATUS] for r in out] == ["ok", "rejected", "rejected", "rejected", "rejected"]
    assert [r[S.DROP_REASON] for r in out] == [
        None, "download_v1:http_404", "download_v1:content_type_mismatch", "download_v1:bad_url",
        "download_v1:scheme_not_allowed",
    ]
    item = out[0][S.MEDIA][0]
    assert item["bytes"] == png_bytes and (item["kind"], item["mime"]) == ("image", "image/png")
    assert item["sha256"] == hashlib.sha256(png_bytes).hexdigest() and item["ops"] == [] and item["width"] is None
    assert [r[HTTP_STATUS] for r in out] == [200, 404, 200, None, None]
    assert [r[DOWNLOAD_ATTEMPTS] for r in out] == [1, 1, 1, 0, 0]
    assert out[1][S.MEDIA] is None and out[1][S.ERROR] == "HTTP 404"


def test_run_stage_typed_schema_and_passthrough(http_server) -> None:
    stage = _stage()
    base = output_schema(stage, S.SAMPLE_SCHEMA)
    assert base.field(HTTP_STATUS).type == pa.int32() and base.field(DOWNLOAD_ATTEMPTS).type == pa.int32()
    common = {S.SOURCE: "t", S.UNIT_ID: "u", S.UNIT_ROWS: 2}
    rows = [
        {**common, S.SAMPLE_ID: "a", S.LOCATOR: "0", S.UNIT_INDEX: 0, S.STATUS: "ok",
         S.URL: http_server.url("/video.mp4")},
        {**common, S.SAMPLE_ID: "b", S.LOCATOR: "1", S.UNIT_INDEX: 1, S.STATUS: "rejected",
         S.STAGE: "earlier_v1", S.DROP_REASON: "earlier_v1:x", S.URL: http_server.url("/img.png")},
    ]
    out = run_stage(stage, to_table(rows, S.SAMPLE_SCHEMA)).to_pylist()
    assert out[0][S.MEDIA][0]["kind"] == "video" and out[0][S.STATUS] == "ok"
    assert out[1][S.DROP_REASON] == "earlier_v1:x" and out[1][S.MEDIA] is None  # untouched, never fetched


def test_stage_pickles_and_hash_column(http_server, png_bytes: bytes) -> None:
    stage = pickle.loads(pickle.dumps(Download(policy=FetchPolicy(allow_private_networks=True), hash_column="h")))
    schema = S.sample_schema([pa.field("h", pa.string())])
    good = hashlib.sha256(png_bytes).hexdigest()
    out = apply_to_rows(stage, [{S.URL: http_server.url("/img.png"), "h": good},
                                {S.URL: http_server.url("/img.png"), "h": "f" * 64}],
                        schema=S.sample_schema([*schema, *stage.writes]))
    assert [r[S.DROP_REASON] for r in out] == [None, "download_v1:hash_mismatch"]
