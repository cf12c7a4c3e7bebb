"""Job files without alias bombs or tags, a bounded --where parser, and inert terminal output."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcurate.jobs.stats.inspect import format_row
from mmcurate.jobs.stats.where import WhereError, parse_where
from mmcurate.jobs.terminal import inert
from mmcurate.jobs.yaml_safe import YamlError, load_yaml
from mmcurate.schemas import sample as S

BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))

YAML_BAD = [
    ("alias_bomb", BOMB, "aliases"),
    ("python_object", "x: !!python/object/apply:os.system [ls]\n", "not allowed"),
    ("python_name", "x: !!python/name:os.system\n", "not allowed"),
    ("custom_tag", "x: !env HOME\n", "not allowed"),
    ("merge_key", "base: &b {a: 1}\njob: {<<: *b}\n", "aliases"),
    ("deep", "x: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested deeper"),
    ("syntax", "steps: [\n  {use: x\n", "line"),
]


@pytest.mark.parametrize(("text", "needle"), [c[1:] for c in YAML_BAD], ids=[c[0] for c in YAML_BAD])
def test_yaml_refusals_are_one_short_line(text: str, needle: str) -> None:
    with pytest.raises(YamlError) as err:
        load_yaml(text)
    assert needle in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 300


def test_yaml_plain_data_and_paths(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text("inputs:\n  - {kind: csv, path: x.csv}\nsteps: [{use: image_decode, min_side: 16}]\nok: true\n")
    expected = {"inputs": [{"kind": "csv", "path": "x.csv"}], "steps": [{"use": "image_decode", "min_side": 16}],
                "ok": True}
    assert load_yaml(job) == expected == load_yaml(str(job)) == load_yaml(job.read_text())


@pytest.mark.parametrize("text", ["(" * 150 + "a > 1" + ")" * 150, "not " * 5000 + "a > 1", "-" * 5000 + "a"])
def test_where_depth_is_bounded_with_a_short_message(text: str) -> None:
    with pytest.raises(WhereError, match="nested deeper") as err:
        parse_where(text)
    assert len(str(err.value)) < 200


def test_where_normal_nesting_still_parses() -> None:
    assert parse_where("((a > 1) and not (b < 2)) or -c == 3").names == {"a", "b", "c"}


OSC = "\x1b]0;pwned\x07"
CSI = "\x1b[2J\x1b[H"


@pytest.mark.parametrize("evil", [OSC, CSI, "\x9b31m", "\u202eevil", "a\rb", "\x00", "\x7f"])
def test_inert_escapes_every_control_sequence(evil: str) -> None:
    out = inert(f"x{evil}y")
    assert out.isprintable() and out.startswith("x") and out.endswith("y") and "\\" in out


def test_inspect_rows_print_no_raw_escape() -> None:
    row = {"path": f"shards/{OSC}.parquet#1", S.SAMPLE_ID: "s", S.CAPTION: f"hi {CSI} there\nnext",
           "reason": f"x:{CSI}", S.SOURCE: OSC, S.LOCATOR: "\x1b[31mred", S.ERROR: "e\x07", "score": 1.0}
    text = format_row(0, row)
    assert "\x1b" not in text and "\x07" not in text
    assert all(line.isprintable() for line in text.split("\n"))
    assert "hi \\x1b[2J\\x1b[H there\\x0anext" in text
