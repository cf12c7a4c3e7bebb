"""Text tokens: the target LLM's tokenizer from a local ``tokenizer.json``, and a small caption BPE.

Token records need the *trainer's* text ids, so the normal path is :func:`load_text_tokenizer` on the
target model's own ``tokenizer.json`` (HuggingFace ``tokenizers``, which is the top-level package
``tokenizers``; ours is ``mmcurate.tokenizers``). Nothing is downloaded: the file must be local.

For demos, tests and models trained from scratch the project ships a default, ``assets/caption_bpe.json``:
a byte-level BPE (GPT-2 style, so any UTF-8 text round-trips without an unknown token) trained by
:func:`train_caption_bpe` on :func:`caption_corpus` — captions of the procedural scenes and photos the
project generates, plus the English package descriptions installed with our dependencies. Rebuild it:

    PYTHONSAFEPATH=1 .venv/bin/python -c "from mmcurate.tokenizers.text import build_caption_bpe; build_caption_bpe()"

:data:`SPECIAL_TOKENS` are added to the default vocabulary first (ids 0..n-1), so the multimodal
markers of :mod:`mmcurate.tokenizers.token_records` have text ids there; a target tokenizer without
them gets them appended past its vocabulary instead (see ``TokenLayout``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["SPECIAL_TOKENS", "CAPTION_BPE_PATH", "load_text_tokenizer", "default_text_tokenizer",
           "caption_corpus", "train_caption_bpe", "build_caption_bpe", "encode_texts"]

SPECIAL_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|pad|>", "<|image_start|>", "<|image_end|>",
                                   "<|video_start|>", "<|video_end|>")
CAPTION_BPE_PATH = Path(__file__).resolve().parent / "assets" / "caption_bpe.json"
# Installed distributions whose long descriptions (English prose) join the caption corpus.
_PACKAGE_TEXTS = ("numpy", "pyarrow", "pillow", "scikit-image", "tokenizers", "transformers", "ray", "torch",
                  "safetensors", "av", "webdataset", "datasketch", "tqdm", "pyyaml")


def load_text_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer in a local HuggingFace ``tokenizer.json`` (a folder holding one also works)."""
    from tokenizers import Tokenizer

    p = Path(path)
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise FileNotFoundError(f"no tokenizer.json at {p}")
    return Tokenizer.from_file(str(p))


def default_text_tokenizer() -> Tokenizer:
    """The shipped caption BPE (``assets/caption_bpe.json``)."""
    return load_text_tokenizer(CAPTION_BPE_PATH)


def caption_corpus(n_scenes: int = 20_000, seed: int = 0) -> list[str]:
    """Captions of generated scenes (both generators), photo captions and installed package descriptions."""
    from importlib import metadata

    import numpy as np

    from mmcurate.pipeline.generate.cases import scene
    from mmcurate.pipeline.generate.shapes import make_scene

    rng = np.random.default_rng(seed)
    texts = [scene(rng, size=24)[1] for _ in range(n_scenes // 2)]
    texts += [make_scene(seed * 1_000_003 + i, size=32).caption for i in range(n_scenes - n_scenes // 2)]
    texts += ["an astronaut in a white suit in front of a flag", "a cup of coffee on a saucer",
              "a tabby cat looking up", "a rocket on a launch pad", "a motorcycle parked indoors",
              "a man with a camera on a tripod", "galaxies in deep space", "old coins on a dark surface",
              "a page of printed text", "the silhouette of a horse", "a colourful logo"]
    for name in _PACKAGE_TEXTS:
        try:
            body = metadata.metadata(name).get_payload() or ""  # type: ignore[attr-defined]
        except metadata.PackageNotFoundError:
            continue
        texts += [line.strip() for line in body.splitlines() if len(line.split()) >= 4]
    return texts


def train_caption_bpe(texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2,
                      special_tokens: Sequence[str] = SPECIAL_TOKENS) -> Tokenizer:
    """A byte-level BPE trained on ``texts``; ``special_tokens`` get ids ``0..len-1``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  special_tokens=list(special_tokens), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def build_caption_bpe(out: str | Path = CAPTION_BPE_PATH, vocab_size: int = 4096) -> Tokenizer:
    """Train the default caption BPE on :func:`caption_corpus` and write it to ``out`` atomically."""
    from mmcurate.pipeline.atomic import atomic_write

    tok = train_caption_bpe(caption_corpus(), vocab_size=vocab_size)
    text = tok.to_str(pretty=False).encode()
    atomic_write(Path(out), lambda fh: fh.write(text))
    return tok


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str | None]) -> list[list[int]]:
    """Token ids of each text (no special tokens added); ``None`` or empty gives ``[]``."""
    present = [(i, t) for i, t in enumerate(texts) if t]
    out: list[list[int]] = [[] for _ in texts]
    if present:
        encs = tokenizer.encode_batch([t for _, t in present], add_special_tokens=False)
        for (i, _), enc in zip(present, encs):
            out[i] = list(enc.ids)
    return out
