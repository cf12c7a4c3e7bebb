"""Set-level deduplication: exact, perceptual, MinHash and semantic; library functions plus a Ray layer."""
