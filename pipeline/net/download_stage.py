"""The download stage: fetch each ok row's ``url`` into its ``media`` list, or reject the row.

This is the pipeline face of :func:`mmcurate.pipeline.net.fetch.fetch_many`. A batch is fetched
concurrently (threads, inside one Ray task: downloads are I/O-bound, so the stage asks for one CPU
and gets its parallelism from sockets, not processes). Each success becomes one media item with the
sniffed ``kind``/``mime`` and the sha256 of the bytes; width, height and frames stay null until the
decode stage. Each failure rejects its row with ``download_v1:<reason>`` (a closed set, see
:mod:`mmcurate.pipeline.net.reasons`) and the human detail in ``error``; no row is ever dropped.

The HTTP status, the number of tries and the server's declared Content-Type are kept as columns for
every row, ok or not, so stats can show e.g. how often a server lied about the type. Their names
are constants here because ``schemas/`` is owned elsewhere; move them there when it is next revised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import ClassVar

import pyarrow as pa

from mmcurate.pipeline.marking import mark_rejected
from mmcurate.pipeline.net.fetch import FetchPolicy, FetchResult, fetch_many
from mmcurate.pipeline.readers.base import media_item
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column

__all__ = ["HTTP_STATUS", "DOWNLOAD_ATTEMPTS", "DOWNLOAD_CONTENT_TYPE", "Download"]

HTTP_STATUS = "http_status"
DOWNLOAD_ATTEMPTS = "download_attempts"
DOWNLOAD_CONTENT_TYPE = "download_content_type"


@dataclass(kw_only=True)
class Download(Stage):
    """Fetch ``url`` with :class:`FetchPolicy` ``policy``; optionally verify ``hash_column`` (sha256 hex)."""

    name: ClassVar[str] = "download_v1"
    reads: ClassVar[tuple[str, ...]] = (S.URL,)
    writes: ClassVar[tuple[pa.Field, ...]] = (
        pa.field(S.MEDIA, pa.list_(S.MEDIA_TYPE), metadata={"doc": "one item: the downloaded bytes"}),
        pa.field(HTTP_STATUS, pa.int32(), metadata={"doc": "last HTTP status seen; null if none came back"}),
        pa.field(DOWNLOAD_ATTEMPTS, pa.int32(), metadata={"doc": "tries of the retry loop; 0 = none sent"}),
        pa.field(DOWNLOAD_CONTENT_TYPE, pa.string(), metadata={"doc": "Content-Type as declared (untrusted)"}),
    )
    resources: ClassVar[Resources] = Resources(num_cpus=1.0)
    stateful: ClassVar[bool] = False
    repeatable: ClassVar[bool] = False  # each URL is fetched once per job

    policy: FetchPolicy = field(default_factory=FetchPolicy)
    hash_column: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.policy, FetchPolicy):
            raise TypeError(f"Download.policy must be a FetchPolicy, got {type(self.policy).__name__}")

    def process_batch(self, batch: pa.Table) -> pa.Table:
        urls = [u or "" for u in batch.column(S.URL).to_pylist()]
        media = batch.column(S.MEDIA).to_pylist() if S.MEDIA in batch.column_names else [None] * len(urls)
        # Rows that already carry media (local files, tar members) keep it: the URL is provenance only.
        todo = [i for i, m in enumerate(media) if not m]
        hashes = None
        if self.hash_column is not None:
            all_hashes = batch.column(self.hash_column).to_pylist()
            hashes = [all_hashes[i] for i in todo]
        fetched = fetch_many([urls[i] for i in todo], self.policy, hashes)
        results: list[FetchResult | None] = [None] * len(urls)
        for i, res in zip(todo, fetched):
            results[i] = res

        failed: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, res in enumerate(results):
            if res is None:
                continue
            if res.ok:
                media[i] = [media_item(res.body, res.kind, res.sniffed_mime, res.sha256)]
            else:
                failed[(str(res.reason), res.error or "")].append(i)
        fields = {f.name: f for f in self.writes}
        table = put_column(batch, fields[S.MEDIA], media)
        table = put_column(table, fields[HTTP_STATUS], [r.http_status if r else None for r in results])
        table = put_column(table, fields[DOWNLOAD_ATTEMPTS], [r.attempts if r else None for r in results])
        table = put_column(table, fields[DOWNLOAD_CONTENT_TYPE], [r.content_type if r else None for r in results])
        # One mark_rejected call per distinct (reason, detail): details omit the URL, so a batch
        # has a handful of groups (404s, timeouts, ...), not one call per row.
        for (reason, detail), rows in failed.items():
            rows_set = set(rows)
            mask = [i in rows_set for i in range(table.num_rows)]
            table = mark_rejected(table, mask, self.name, self.reason(reason), detail or None)
        return table
