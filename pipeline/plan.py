"""The fixed shard plan: every input cut into numbered work units before anything runs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from mmcurate.pipeline.readers.base import Reader, WorkUnit

__all__ = ["plan_units", "plan_hash"]


def plan_units(readers: Sequence[Reader]) -> list[WorkUnit]:
    """Units of all inputs, in input order; ids ``u<input>-<n>`` are stable for a given input."""
    units = []
    for i, reader in enumerate(readers):
        for n, spec in enumerate(reader.plan()):
            units.append(WorkUnit(unit_id=f"u{i:02d}-{n:06d}", input_index=i, spec=json.dumps(spec, sort_keys=True)))
    return units


def plan_hash(units: Sequence[WorkUnit]) -> str:
    """Changes when any input gains, loses or reorders a row (a rerun must not mix plans)."""
    h = hashlib.sha256()
    for u in units:
        h.update(f"{u.unit_id}\0{u.input_index}\0{u.spec}\n".encode())
    return h.hexdigest()[:16]
