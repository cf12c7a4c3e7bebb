"""A tiny, randomly initialised Whisper checkpoint, saved the way transformers saves a real one.

No Whisper weights may be downloaded here, so tests and the demo exercise the local-checkpoint path
(:class:`~mmcurate.pipeline.audio.asr_local.LocalWhisper`) with a model of Whisper's architecture made
on the spot: 80 mel bins, one encoder and one decoder layer of width 64, a byte-level vocabulary (every
byte one token, as in Whisper's BPE before its merges) and Whisper's special tokens. Its transcripts are
not words; what it proves is that a ``save_pretrained`` folder loads offline and transcribes exactly as
transformers' own ``WhisperProcessor`` + ``generate`` do. Every token but the lower-case letters, the
space and end-of-text is suppressed, so transcripts are word-like ASCII (never empty, always valid
UTF-8, with a word error rate), and ``init_std`` is large enough that different audio gives different text.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["make_whisper_checkpoint", "WHISPER_SPECIALS"]

WHISPER_SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|translate|>",
                    "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")


def _byte_symbols() -> list[str]:
    """GPT-2's printable stand-in for each of the 256 bytes (the alphabet Whisper's BPE is built on)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def _suppressed(vocab_size: int, eot: int) -> list[int]:
    """Every id but the bytes of a-z and space (ids are byte values) and end-of-text."""
    allowed = {*range(ord("a"), ord("z") + 1), ord(" "), eot}
    return [i for i in range(vocab_size) if i not in allowed]


def _tokenizer(folder: Path):  # noqa: ANN202 - transformers' type, imported lazily
    from transformers import WhisperTokenizer

    (folder / "vocab.json").write_text(json.dumps({s: i for i, s in enumerate(_byte_symbols())}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    eot = WHISPER_SPECIALS[0]
    return WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), unk_token=eot, bos_token=eot,
                            eos_token=eot, pad_token=eot, additional_special_tokens=list(WHISPER_SPECIALS[1:]))


def make_whisper_checkpoint(folder: str | Path, seed: int = 0, width: int = 64, init_std: float = 0.5) -> Path:
    """Write the checkpoint (model, generation config, feature extractor, tokenizer) to ``folder``."""
    import torch
    from transformers import (
        GenerationConfig,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(out)
    ids = tokenizer.convert_tokens_to_ids(list(WHISPER_SPECIALS))
    eot, sot, notimestamps = ids[0], ids[1], ids[-1]
    config = WhisperConfig(vocab_size=len(tokenizer), num_mel_bins=80, d_model=width, encoder_layers=1,
                           decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                           encoder_ffn_dim=2 * width, decoder_ffn_dim=2 * width, max_source_positions=1500,
                           max_target_positions=448, decoder_start_token_id=sot, eos_token_id=eot,
                           pad_token_id=eot, bos_token_id=eot, init_std=init_std)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, max_length=448,
        no_timestamps_token_id=notimestamps, is_multilingual=False, suppress_tokens=_suppressed(len(tokenizer), eot),
        begin_suppress_tokens=[eot])
    model.save_pretrained(out)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=80), tokenizer=tokenizer).save_pretrained(out)
    return out
