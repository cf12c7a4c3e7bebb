"""mmcurate.pipeline.audio: audio ingest (sniffed by content, decoded in the sandbox), measurements,
segmentation and fingerprints."""
