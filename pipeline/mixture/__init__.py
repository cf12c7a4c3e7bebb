"""mmcurate.pipeline.mixture — from curated samples to a training mixture.

Instruction synthesis (:mod:`.synthesize`), per-sample token counts (:mod:`.token_count`), the
token-budget balancer (:mod:`.budget`), loss weights (:mod:`.loss_weights`) and sequence packing
(:mod:`.packing`, :mod:`.pack_shards`). Nothing is imported here, so a stage pickles cheaply.
"""
