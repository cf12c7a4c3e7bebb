"""Fixtures for the filter tests: generated media only (rendered words, procedural scenes), no network."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from PIL import Image, ImageDraw, ImageFont

from mmcurate.filters.media import image_item
from mmcurate.schemas import sample as S
from mmcurate.schemas.table import to_table


@pytest.fixture(scope="session")
def word_image() -> Callable[..., Image.Image]:
    """Render ``text`` in Pillow's bundled TrueType font (FreeType), dark on light by default."""

    def render(text: str, size: tuple[int, int] = (640, 200), font_size: int = 48, xy: tuple[int, int] = (24, 40),
               bg: tuple[int, int, int] = (245, 245, 240), ink: tuple[int, int, int] = (10, 10, 10)) -> Image.Image:
        img = Image.new("RGB", size, bg)
        ImageDraw.Draw(img).text(xy, text, font=ImageFont.load_default(size=font_size), fill=ink)
        return img

    return render


@pytest.fixture(scope="session")
def make_rows() -> Callable[..., list[dict[str, Any]]]:
    """Sample rows (content columns only) from (images, caption) pairs; an image may be a media dict."""

    def rows(pairs: list[tuple[list[Any], str | None]]) -> list[dict[str, Any]]:
        return [
            {S.MEDIA: [im if isinstance(im, dict) else image_item(im) for im in images], S.CAPTION: caption}
            for images, caption in pairs
        ]

    return rows


@pytest.fixture(scope="session")
def make_table() -> Callable[..., pa.Table]:
    """A schema-true sample table (bookkeeping filled) from content rows, for `run_stage`."""

    def table(rows: list[dict[str, Any]]) -> pa.Table:
        full = [
            {S.SAMPLE_ID: f"s{i}", S.SOURCE: "test", S.LOCATOR: str(i), S.UNIT_ID: "u0", S.UNIT_INDEX: i,
             S.UNIT_ROWS: len(rows), S.STATUS: S.STATUS_OK, **r}
            for i, r in enumerate(rows)
        ]
        return to_table(full, S.SAMPLE_SCHEMA)

    return table
