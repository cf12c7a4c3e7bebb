"""mmcurate.schemas — the versioned Arrow schemas every part of mmcurate agrees on."""

from mmcurate.schemas.records import MANIFEST_SCHEMA, REJECT_SCHEMA, STATS_SCHEMA
from mmcurate.schemas.sample import SAMPLE_SCHEMA, SAMPLE_SCHEMA_VERSION, sample_schema
from mmcurate.schemas.table import conform, to_table

__all__ = [
    "MANIFEST_SCHEMA",
    "REJECT_SCHEMA",
    "STATS_SCHEMA",
    "SAMPLE_SCHEMA",
    "SAMPLE_SCHEMA_VERSION",
    "sample_schema",
    "conform",
    "to_table",
]
