"""mmcurate.pipeline.readers."""
