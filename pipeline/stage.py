"""The stage: mmcurate's one core abstraction.

A stage maps an Arrow table of samples to the same samples with more columns (or some rows marked
rejected). The class attributes say what it is (a versioned ``name``), what it ``reads`` and
``writes`` (typed fields), what it needs (``resources``) and whether it holds heavy state
(``stateful``: Ray runs it in an actor pool so ``setup()`` loads a model once per actor). The
dataclass fields of a concrete stage are its configuration.

The same object serves three ways (see :mod:`mmcurate.pipeline.runner` and
:mod:`mmcurate.pipeline.ray_adapter`): one sample (library use), one Arrow batch, a Ray Dataset.

Expected per-row failures are data: a stage raises :class:`Reject` for a row (``RowStage``) or marks
the row itself; anything else is an unexpected exception that the runner retries row by row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from mmcurate.pipeline.params import check_params, param
from mmcurate.pipeline.reject import Reject  # noqa: F401 - re-exported: stages raise it
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import put_column

__all__ = ["Resources", "Reject", "Stage", "RowStage"]


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs from the Ray scheduler."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(kw_only=True)
class Stage(ABC):
    """Arrow table in, Arrow table out. Subclasses are ``@dataclass(kw_only=True)`` configs."""

    name: ClassVar[str]
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[pa.Field, ...]] = ()
    resources: ClassVar[Resources] = Resources()
    stateful: ClassVar[bool] = False
    # False for work that must not be done twice (a download costs the sites we fetch from): when a
    # set-level pass follows such a stage, the engine keeps the rows it produced instead of rerunning it.
    repeatable: ClassVar[bool] = True

    batch_size: int = param(256, doc="rows per call of process_batch (micro-batch inside a Ray block)", ge=1)
    _ready: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_params(self)

    def setup(self) -> None:
        """Load models and other heavy state; called once per process/actor before the first batch."""

    def teardown(self) -> None:
        """Release what ``setup`` acquired."""

    def ensure_setup(self) -> None:
        if not self._ready:
            self.setup()
            self._ready = True

    @abstractmethod
    def process_batch(self, batch: pa.Table) -> pa.Table:
        """Return the same rows, in order, with this stage's ``writes`` columns filled.

        Only rows still ``ok`` are passed in. To reject a row, set its ``status`` to ``rejected`` and its
        ``stage``/``drop_reason``/``error`` (see :func:`mmcurate.pipeline.marking.mark_rejected`).
        """

    def reason(self, code: str) -> str:
        """The drop reason this stage records for ``code``: ``<stage name>:<code>``."""
        return f"{self.name}:{code}"

    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        """Rows this stage has work for (None: all). Other ok rows pass through untouched, unconverted:
        a video stage need not turn a batch of images into Python objects to find nothing to do."""
        return None

    def __getstate__(self) -> dict[str, Any]:
        # Heavy state never travels: a pickled stage arrives un-setup and loads lazily on its worker.
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        state["_ready"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


@dataclass(kw_only=True)
class RowStage(Stage):
    """A stage whose work is naturally one row at a time (decode, caption cleaning, hashing).

    ``process_row`` returns the columns to update for that row, or raises :class:`Reject`.
    """

    # Columns ``process_row`` sees; None = every column. Narrowing it keeps large columns (media bytes)
    # out of Python for stages that never look at them.
    row_columns: ClassVar[tuple[str, ...] | None] = None

    @abstractmethod
    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """Updated column values for one sample row (a dict of the table's columns)."""

    def process_batch(self, batch: pa.Table) -> pa.Table:
        names = batch.column_names if self.row_columns is None else [
            n for n in batch.column_names if n in self.row_columns]
        updates: list[dict[str, Any]] = []
        rows = batch.select(names).to_pylist()
        for row in rows:
            try:
                updates.append(self.process_row(row))
            except Reject as rej:
                updates.append({**rej.values, S.STATUS: S.STATUS_REJECTED, S.STAGE: self.name,
                                S.DROP_REASON: self.reason(rej.reason), S.ERROR: rej.detail or None})
        return _apply_updates(batch, updates, self.writes, rows)


def _media_metadata_only(batch: pa.Table, updates: list[dict[str, Any]], rows: list[dict[str, Any]]) -> pa.Table | None:
    """``batch`` with ``media`` updated by reusing its bytes (see :mod:`.media_rewrite`), or None."""
    from mmcurate.pipeline.media_rewrite import bytes_kept, media_keeping_bytes

    if not bytes_kept(rows, updates):
        return None
    field_ = batch.schema.field(S.MEDIA)
    try:
        column = media_keeping_bytes(batch.column(S.MEDIA), [u.get(S.MEDIA) for u in updates], field_.type)
    except (ValueError, pa.ArrowException):
        return None  # null rows or items: the full rebuild below handles them
    return put_column(batch, field_, column)


def _apply_updates(batch: pa.Table, updates: list[dict[str, Any]], writes: tuple[pa.Field, ...],
                   rows: list[dict[str, Any]] | None = None) -> pa.Table:
    """``batch`` with the updated cells replaced; untouched columns are kept as they are (no copy).

    ``rows``: what the stage was given; with it, a ``media`` update that kept every item's bytes object
    rewrites only the metadata."""
    declared = {f.name: f for f in writes}
    for name in sorted({k for u in updates for k in u}):
        if name == S.MEDIA and rows is not None and name in batch.column_names:
            rewritten = _media_metadata_only(batch, updates, rows)
            if rewritten is not None:
                batch = rewritten
                continue
        if name in batch.column_names:
            field_ = batch.schema.field(name)
            old = batch.column(name).to_pylist() if any(name not in u for u in updates) else [None] * len(updates)
            batch = put_column(batch, field_, [u[name] if name in u else o for u, o in zip(updates, old)])
        else:
            field_ = declared.get(name)
            if field_ is None:
                raise KeyError(f"stage wrote undeclared column {name!r}; declare it in `writes`")
            batch = put_column(batch, field_, [u.get(name) for u in updates])
    for field_ in writes:
        if field_.name not in batch.column_names:
            batch = put_column(batch, field_, pa.nulls(batch.num_rows, field_.type))
    return batch
