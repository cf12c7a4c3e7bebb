"""The thresholds a job set, read from its recorded steps, and the score column each one cuts.

A job records its resolved steps (``job.json``: ``steps: [{use: ocr, max_text_area: 0.2}, ...]``).
Every ``min_*`` / ``max_*`` number of a step is a threshold; the report draws it on the histogram of the
column it cuts. Steps write their columns under their versioned stage name (``ocr`` writes
``ocr_v1_text_area``), so the column is found among the folder's numeric score columns: those of the
step's stage (``stage_name(use)`` when the caller has the step table, else ``<use>_v<N>_*``) whose
suffix names the parameter (``max_text_area`` -> ``text_area``, ``min_side`` -> ``min_side``); a
``min_score`` cuts the column its ``reduce`` parameter names (``mean`` by default); a stage with a
single numeric column takes every threshold of that step. A parameter matching no column (``max_side``,
a resize bound) is not a cut and is not drawn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["StepThreshold", "step_thresholds", "threshold_column", "job_thresholds"]

_BOUND = re.compile(r"^(min|max)_(.+)$")


@dataclass(frozen=True)
class StepThreshold:
    """``steps[index]`` (``use``) sets ``param`` = ``value``: rows below a min / above a max are cut."""

    index: int
    use: str
    param: str
    value: float
    bound: str  # "min" or "max"
    params: Mapping[str, Any]  # the step's other parameters (``reduce`` picks a CLIP column)

    @property
    def stem(self) -> str:
        return _BOUND.match(self.param).group(2)  # type: ignore[union-attr]


def step_thresholds(steps: Iterable[Mapping[str, Any]],
                    is_filter: Callable[[str], bool] | None = None) -> list[StepThreshold]:
    """Every numeric ``min_*`` / ``max_*`` parameter of the (filter) steps, in step order."""
    out: list[StepThreshold] = []
    for i, step in enumerate(steps):
        use = str(step.get("use", ""))
        if not use or (is_filter is not None and not is_filter(use)):
            continue
        for key, value in step.items():
            match = _BOUND.match(str(key))
            if match and isinstance(value, int | float) and not isinstance(value, bool):
                out.append(StepThreshold(i, use, key, float(value), match.group(1), dict(step)))
    return out


def _stage_columns(use: str, columns: Sequence[str], stage: str | None) -> dict[str, str]:
    """suffix -> column for the columns written by ``use``'s stage."""
    pattern = re.compile(rf"^{re.escape(stage)}_(.+)$") if stage else re.compile(rf"^{re.escape(use)}_v\d+_(.+)$")
    found = {}
    for column in columns:
        match = pattern.match(column)
        if match:
            found[match.group(1)] = column
    return found


def threshold_column(threshold: StepThreshold, columns: Sequence[str], stage: str | None = None) -> str | None:
    """The score column among ``columns`` that ``threshold`` cuts, or None."""
    own = _stage_columns(threshold.use, columns, stage)
    for suffix in (threshold.param, threshold.stem):
        if suffix in own:
            return own[suffix]
    if threshold.stem == "score":
        reduce = str(threshold.params.get("reduce", "mean"))
        if reduce in own:
            return own[reduce]
    near = [c for s, c in own.items() if s.endswith(threshold.stem) or threshold.stem in s.split("_")]
    if len(near) == 1:
        return near[0]
    return next(iter(own.values())) if len(own) == 1 else None


def job_thresholds(steps: Iterable[Mapping[str, Any]], columns: Sequence[str],
                   stage_name: Callable[[str], str | None] | None = None) -> dict[str, list[float]]:
    """``{score column: [thresholds]}`` for the steps of a recorded job."""
    out: dict[str, list[float]] = {}
    for t in step_thresholds(steps):
        column = threshold_column(t, columns, stage_name(t.use) if stage_name else None)
        if column is not None and t.value not in out.setdefault(column, []):
            out[column].append(t.value)
    return {k: v for k, v in out.items() if v}
