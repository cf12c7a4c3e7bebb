"""mmcurate.pipeline."""
