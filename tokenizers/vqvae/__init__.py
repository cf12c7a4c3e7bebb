"""mmcurate.tokenizers.vqvae — a small Chameleon/LlamaGen-style discrete image tokenizer.

Modules, one concept each: :mod:`.config` (``VQConfig``), :mod:`.quantizer` (l2-normalised low-dim
codebook with dead-code restarts), :mod:`.model` (conv encoder/decoder, ``VQVAE``), :mod:`.checkpoint`
(safetensors + JSON, no pickle), :mod:`.metrics` (PSNR, SSIM, usage, perplexity), :mod:`.data`
(pixels from curated shards, photos and scenes), :mod:`.train` (Ray Train loop), :mod:`.stage`
(``VQTokenize``, ``decode_codes``). Nothing is imported here: torch loads only where it is used.
"""

__all__: list[str] = []
