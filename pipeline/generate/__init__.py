"""mmcurate.pipeline.generate — procedural media whose content is known, in one place.

The demo's input (:mod:`.demo_folder`), the tests' good and bad image cases (:mod:`.cases`), the tiny
CLIP's training scenes (:mod:`.scenes`), videos with planted cuts (:mod:`.video`) and audio with known
content (:mod:`.audio`). Library code (tokenizer and VQ-VAE training data) draws from here too, so
nothing below the job layer has to import ``mmcurate.jobs`` for data. Nothing is imported here.
"""
