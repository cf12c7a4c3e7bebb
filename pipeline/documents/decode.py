"""Image decode for documents: the ordinary :class:`ImageDecode`, applied only to rows that hold media.

A document without image bytes (text-only, or images not fetched yet) is a valid document, not a
``no_media`` reject as it is for a caption pair, so this stage leaves those rows alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.schemas import sample as S
from mmcurate.schemas.document import document_rows

__all__ = ["DocumentImageDecode"]


@dataclass(kw_only=True)
class DocumentImageDecode(ImageDecode):
    name: ClassVar[str] = "image_decode_v1"  # same stage, same reasons: only the row selection differs

    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        has_media = pc.fill_null(pc.greater(pc.list_value_length(batch.column(S.MEDIA)), 0), False)
        return pc.and_(has_media, document_rows(batch))
