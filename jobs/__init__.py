"""mmcurate.jobs."""
