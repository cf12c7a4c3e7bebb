"""mmcurate.filters."""
