"""mmcurate.pipeline.sinks."""
