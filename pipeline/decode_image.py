"""Image decode and validation (Pillow), as a stage.

Bad images are data, not errors: each failure mode maps to one closed reason code. Safety first:
only allowed ``formats`` are even parsed, Pillow's bomb warning is an error, and our own pixel limit
is checked on the header size *before* ``load()`` allocates anything. Accepted images are normalised
for trainers: EXIF orientation applied, CMYK / 16-bit / alpha / palette-alpha converted correctly to
RGB, animated images reduced to their first frame (flagged). Bytes are re-encoded only when pixels
changed; otherwise the original file is kept bit-exact.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

from PIL import Image, ImageOps, UnidentifiedImageError

from mmcurate.pipeline.image_checks import NEEDS_REENCODE_MODES, looks_like_text, sniff_foreign_format, to_rgb
from mmcurate.pipeline.params import param
from mmcurate.pipeline.stage import Reject, RowStage
from mmcurate.schemas import sample as S

__all__ = ["ImageDecode", "DEFAULT_FORMATS", "DECODE_REASONS"]

DEFAULT_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
DECODE_REASONS = (
    "empty_body", "not_an_image", "format_not_allowed", "unsupported_format", "decompression_bomb",
    "too_many_pixels", "metadata_bomb", "image_truncated", "corrupt", "too_small", "aspect_ratio", "no_media",
)
_EXIF_ORIENTATION = 0x0112


@dataclass(kw_only=True)
class ImageDecode(RowStage):
    """Decode every image media item of a sample; a sample with one bad image is rejected whole."""

    name: ClassVar[str] = "image_decode_v1"
    reads: ClassVar[tuple[str, ...]] = (S.MEDIA,)
    row_columns: ClassVar[tuple[str, ...] | None] = (S.MEDIA,)

    formats: tuple[str, ...] = param(DEFAULT_FORMATS, doc="image formats accepted (by content, not by name)")
    max_pixels: int = param(50_000_000, doc="more pixels than this (from the header, before decoding): rejected", ge=1)
    min_side: int = param(16, doc="a shorter side than this: rejected too_small", ge=1)
    max_aspect: float = param(20.0, doc="long side / short side above this: rejected aspect_ratio", ge=1)
    jpeg_quality: int = param(95, doc="JPEG quality when pixels had to change (EXIF, CMYK, alpha, 16-bit)", ge=1, le=100)
    require_media: bool = param(True, doc="a row without any media item is rejected no_media")
    _formats: tuple[str, ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.formats = tuple(f.upper() for f in self.formats)
        unknown = [f for f in self.formats if f not in _pillow_formats()]
        if unknown:  # EXE would mark every image an exception at run time
            raise ValueError(f"formats: unknown image format {unknown[0][:20]!r}; Pillow knows {sorted(_pillow_formats())}")

    def process_row(self, row: dict[str, Any]) -> dict[str, Any]:
        media = row[S.MEDIA] or []
        if self.require_media and not media:
            raise Reject("no_media", "sample has no media")
        out = []
        for index, item in enumerate(media):
            if item["kind"] != "image":
                out.append(item)
                continue
            try:
                out.append(self.decode_item(item))
            except Reject as rej:
                # A size reject knows the item's width and height: keep them on the rejected row.
                measured = {S.MEDIA: [*out, {**item, **rej.values}, *media[index + 1:]]} if rej.values else None
                raise Reject(rej.reason, f"media[{index}]: {rej.detail}", values=measured) from None
        return {S.MEDIA: out}

    def _open(self, data: bytes) -> Image.Image:
        if not data:
            raise Reject("empty_body", "0 bytes")
        try:
            return Image.open(io.BytesIO(data), formats=list(self.formats))
        except Image.DecompressionBombError as exc:
            raise Reject("decompression_bomb", str(exc)) from None
        except UnidentifiedImageError as exc:
            found = sniff_foreign_format(data)
            if found is not None and found not in self.formats:
                raise Reject("format_not_allowed", f"{found} not in {list(self.formats)}") from None
            if found is not None:
                raise Reject("unsupported_format", f"{found} layout Pillow cannot read: {exc}") from None
            kind = "text/HTML body" if looks_like_text(data) else "unrecognised bytes"
            raise Reject("not_an_image", kind) from None
        except ValueError as exc:  # e.g. "Decompressed data too large" from PNG text chunks
            raise Reject("metadata_bomb", str(exc)) from None
        except (OSError, SyntaxError, EOFError) as exc:
            code = "image_truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise Reject(code, f"{type(exc).__name__}: {exc}") from None

    def _check_size(self, width: int, height: int) -> None:
        size = {"width": width, "height": height}  # header size (before any EXIF transpose)
        if width * height > self.max_pixels:
            raise Reject("too_many_pixels", f"{width}x{height} > {self.max_pixels} px", values=size)
        if max(width, height) / max(min(width, height), 1) > self.max_aspect:
            raise Reject("aspect_ratio", f"{width}x{height} beyond {self.max_aspect}:1", values=size)
        if min(width, height) < self.min_side:
            raise Reject("too_small", f"{width}x{height}, min side {self.min_side}", values=size)

    def _load_first_frame(self, im: Image.Image) -> tuple[Image.Image, int]:
        n_frames = int(getattr(im, "n_frames", 1)) if getattr(im, "is_animated", False) else 1
        if n_frames > 1:
            im.seek(0)
        try:
            im.load()
        except Image.DecompressionBombError as exc:
            raise Reject("decompression_bomb", str(exc)) from None
        except ValueError as exc:
            raise Reject("metadata_bomb", str(exc)) from None
        except OSError as exc:
            code = "image_truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise Reject(code, str(exc)) from None
        except (SyntaxError, EOFError, NotImplementedError, OverflowError, MemoryError) as exc:
            raise Reject("corrupt", f"{type(exc).__name__}: {exc}") from None
        return im, n_frames

    @staticmethod
    def _draft_if_kept(im: Image.Image) -> bool:
        """Validate a JPEG whose bytes will be kept as they are by decoding it at 1/8 scale.

        The decoder still reads every entropy-coded byte (truncation and corruption are caught the
        same way), at a fraction of the cost of a full-size decode. Only JPEGs that need no pixel
        change (RGB or grey, no EXIF rotation) qualify: the others are decoded fully and re-encoded.
        """
        if im.format != "JPEG" or im.mode not in ("RGB", "L"):
            return False
        if im.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
            return False
        width, height = im.size
        im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
        return True

    def decode_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Validate and normalise one image media item (dict of the media struct)."""
        data = item["bytes"] or b""
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                im = self._open(data)
                self._check_size(*im.size)
                fmt, mode, size = im.format, im.mode, im.size
                reduced = self._draft_if_kept(im)
                im, n_frames = self._load_first_frame(im)
            except Image.DecompressionBombWarning as exc:
                raise Reject("decompression_bomb", str(exc)) from None
        ops: list[str] = []
        if n_frames > 1:
            ops.append("first_frame")
        if im.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
            im = ImageOps.exif_transpose(im)
            ops.append("exif_transpose")
        needs_rgb = mode in NEEDS_REENCODE_MODES or (mode == "P" and "transparency" in im.info)
        if needs_rgb:
            im, op = to_rgb(im)
            ops += [op] if op else []
        width, height = size if reduced else im.size
        out = dict(item, width=width, height=height, source_mode=mode, n_frames=n_frames,
                   mime=Image.MIME.get(fmt or "", "application/octet-stream"), ops=ops)
        if ops:
            out["bytes"], out["mime"] = self._encode(im, fmt)
        return out

    def _encode(self, im: Image.Image, source_format: str | None) -> tuple[bytes, str]:
        buf = io.BytesIO()
        if source_format == "JPEG":
            im.convert("RGB").save(buf, format="JPEG", quality=self.jpeg_quality)
            return buf.getvalue(), "image/jpeg"
        if im.mode not in ("RGB", "L"):
            im, _ = to_rgb(im)
        im.save(buf, format="PNG", optimize=False)
        return buf.getvalue(), "image/png"


def _pillow_formats() -> set[str]:
    from PIL import Image

    Image.init()
    return set(Image.OPEN)
