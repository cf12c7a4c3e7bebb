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
    mix = funnel.get("mixture")
    if mix and mix.get("packs") is not None:
        lines.append(f"mixture           {mix['packs']:>9} packs, efficiency {mix['efficiency']:.3f} (mixture/)")
    if "seconds" in funnel:
        lines.append(f"wall time         {funnel['seconds']:>9.1f} s")
    return "\n".join(lines)
