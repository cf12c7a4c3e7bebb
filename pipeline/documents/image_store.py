"""Where ``doc_image_fetch`` keeps what it fetched: bodies by URL hash, outcomes as a small table.

One file per unique URL, ``<store>/<sha256(url)>``, written atomically through
:mod:`mmcurate.pipeline.fs` (local or object store) by whichever worker fetched it; the pass's decision
holds only each URL's outcome (:data:`OUTCOME`), so it stays small enough to ship to every worker. Shared
by the pass (:mod:`.fetch_images`) and the stage that applies it (:mod:`.fetch_fill`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from urllib.parse import unquote_to_bytes

import pyarrow as pa

from mmcurate.pipeline import fs
from mmcurate.pipeline.net.fetch import FetchPolicy, fetch_many

__all__ = ["OUTCOME", "OUTCOMES", "decode_data_uri", "body_path", "fetch_to_store"]

OUTCOMES = "doc_images_v1_outcomes"  # decision column: the outcome of each of a document's URLs
OUTCOME = pa.struct([("url", pa.string()), ("reason", pa.string()), ("kind", pa.string()),
                     ("mime", pa.string()), ("sha256", pa.string())])


def decode_data_uri(uri: str, max_bytes: int) -> bytes:
    """Bytes of a ``data:[mime][;base64],payload`` URI; ValueError if malformed or over ``max_bytes``."""
    head, sep, payload = uri.partition(",")
    if not sep or not head.lower().startswith("data:"):
        raise ValueError("malformed data: URI")
    try:
        data = base64.b64decode(payload, validate=False) if head.lower().endswith(";base64") else \
            unquote_to_bytes(payload)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from exc
    if len(data) > max_bytes:
        raise ValueError(f"{len(data)} bytes > {max_bytes}")
    return data


def body_path(store: str, url: str) -> str:
    """Where the body fetched for ``url`` is kept: named by the URL's hash, one file per unique URL."""
    return fs.join(store, hashlib.sha256(url.encode()).hexdigest())


def fetch_to_store(urls: pa.Table, policy: FetchPolicy, store: str) -> pa.Table:
    """Fetch each URL of the ``url`` column once; keep the bodies in ``store``; the outcomes as a table."""
    listed = urls.column("url").to_pylist()
    rows = []
    for url, res in zip(listed, fetch_many(listed, policy) if listed else []):
        if res.ok and res.body is not None:
            fs.write_atomic(body_path(store, url), lambda fh, body=res.body: fh.write(body))
        rows.append({"url": url, "reason": None if res.ok else (res.reason or "fetch_failed"),
                     "kind": res.kind, "mime": res.sniffed_mime, "sha256": res.sha256})
    return pa.Table.from_pylist(rows, schema=pa.schema(list(OUTCOME)))
