"""Interleaved image-text documents (OBELICS / MMC4 style): readers, extraction, filters, writers."""
