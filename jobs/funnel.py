"""The end-of-job funnel, printed for people: in, accepted, rejected by reason."""

from __future__ import annotations

from typing import Any

__all__ = ["format_funnel"]


def format_funnel(funnel: dict[str, Any]) -> str:
    rows_in = max(funnel["rows_in"], 1)
    lines = [
        f"units committed   {funnel['units']:>9}   (resumed {funnel.get('resumed_units', 0)})",
        f"input rows        {funnel['rows_in']:>9}",
        f"accepted          {funnel['accepted']:>9}   {100 * funnel['accepted'] / rows_in:5.1f} %",
        f"rejected          {funnel['rejected']:>9}   {100 * funnel['rejected'] / rows_in:5.1f} %",
    ]
    for reason, count in funnel["reasons"].items():
        lines.append(f"  {reason:<40} {count:>7}")
    for step, summary in funnel.get("outputs", {}).items():  # output steps (balance, pack, token records)
        lines.append(f"{step:<17} " + ", ".join(f"{k} {v}" for k, v in sorted(summary.items())))
    if "seconds" in funnel:
        lines.append(f"wall time         {funnel['seconds']:>9.1f} s")
    return "\n".join(lines)
