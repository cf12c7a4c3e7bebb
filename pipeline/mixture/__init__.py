"""mmcurate.pipeline.mixture — from curated samples to a training mixture.

The token-budget balancer (:mod:`.budget`), loss weights (:mod:`.loss_weights`) and sequence packing
(:mod:`.packing`, :mod:`.pack_shards`). Instruction synthesis lives in :mod:`mmcurate.pipeline.synthesis`,
per-sample token counts in :mod:`mmcurate.tokenizers.token_count`, the mixture columns in
:mod:`mmcurate.schemas.mixture`. Nothing is imported here, so a stage pickles cheaply.
"""
