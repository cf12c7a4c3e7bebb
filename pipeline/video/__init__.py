"""mmcurate.pipeline.video — video probing, sandboxed decoding, scene clips, frame sampling.

The video filters are in :mod:`mmcurate.filters.video`, the video columns in :mod:`mmcurate.schemas.video`.

Nothing is imported here: PyAV, numpy and Pillow load only in the modules that need them (and, for
decoding, only inside the sandbox subprocess), so a stage pickles cheaply and a driver stays light.
"""
