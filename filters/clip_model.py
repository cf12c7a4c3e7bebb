"""Loading an open_clip model from local files, and embedding images and captions with it.

Shared by the CLIP-score and T-MARS filters (and the tiny-CLIP training job). Nothing is downloaded:
the architecture comes from open_clip's built-in configs or a local config JSON (registered with
``open_clip.add_model_config``), the weights from a local safetensors / PyTorch checkpoint loaded into
``create_model(arch, pretrained=None)``. CLIP-style tokenizers are open_clip's bundled BPE; SigLIP-style
models (``hf_tokenizer_name`` in their config) need ``tokenizer_path``, a local HuggingFace tokenizer
directory, because their tokenizers live on the hub.

Embeddings are L2-normalised float32 numpy arrays, so a CLIP score is a dot product (LAION, DataComp).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TINY_CLIP_ARCH", "TINY_CLIP_CONFIG", "TINY_CLIP_WEIGHTS", "ClipEmbedder", "ClipModelFields", "load_clip"]

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"
TINY_CLIP_CONFIG = ASSETS / "tiny_clip.json"
TINY_CLIP_WEIGHTS = ASSETS / "tiny_clip.safetensors"
TINY_CLIP_ARCH = TINY_CLIP_CONFIG.stem  # open_clip registers a config file under its stem


def load_clip(
    arch: str,
    checkpoint: str | Path | None,
    model_config: str | Path | None = None,
    tokenizer_path: str | Path | None = None,
    device: str = "cpu",
) -> tuple[Any, Any]:
    """(model, tokenizer) for ``arch`` with weights from ``checkpoint`` (None: random init, for training)."""
    import open_clip

    if model_config is not None and open_clip.get_model_config(arch) is None:
        open_clip.add_model_config(Path(model_config))  # registered under the file's stem, once per process
    cfg = open_clip.get_model_config(arch)
    if cfg is None:
        raise ValueError(f"unknown open_clip architecture {arch!r}; pass model_config=<json> for a custom one")
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"CLIP checkpoint not found: {checkpoint}")
    # pretrained_text=False: HF text towers must not fetch base weights; ours come from `checkpoint`. The
    # checkpoint goes in as `pretrained` (a file path, strict load) so open_clip knows weights were loaded
    # and does not log "No pretrained weights loaded ... initialized randomly" for a model that has them.
    model = open_clip.create_model(arch, pretrained=None if checkpoint is None else str(checkpoint),
                                   pretrained_text=False, device="cpu")
    model = model.to(device).eval()

    text_cfg = cfg.get("text_cfg", {})
    if text_cfg.get("hf_tokenizer_name") or "siglip" in arch.lower():
        if tokenizer_path is None:
            raise ValueError(f"{arch} uses a HuggingFace tokenizer; pass tokenizer_path=<local tokenizer dir>")
        from open_clip.tokenizer import HFTokenizer

        tokenizer = HFTokenizer(
            str(tokenizer_path),
            context_length=text_cfg.get("context_length", 64),
            tokenizer_mode=text_cfg.get("tokenizer_mode"),
            **text_cfg.get("tokenizer_kwargs", {}),
        )
    else:
        tokenizer = open_clip.get_tokenizer(arch)
    return model, tokenizer


class ClipEmbedder:
    """A loaded model plus its eval transform; embeds PIL images and captions in micro-batches.

    On CUDA the towers run under bf16 autocast (the embeddings are returned as float32); on CPU they run
    in fp32, since CPU autocast is slower than fp32 for these shapes and changes scores.
    """

    def __init__(self, model: Any, tokenizer: Any, device: str, batch_size: int = 256) -> None:
        import torch
        from open_clip.transform import PreprocessCfg, image_transform_v2

        self.model, self.tokenizer, self.device, self.batch_size = model, tokenizer, device, batch_size
        self.transform = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
        self._torch = torch
        self._tail = self._split_transform()
        # Trailing padding is inert only for causal towers pooled at the EOT token (CLIP); bidirectional
        # towers (SigLIP) see the padding, so their token tensors keep the full context length.
        text = getattr(model, "text", model)
        pool = getattr(model, "text_pool_type", getattr(text, "pool_type", None))
        self.trim_padding = pool == "argmax" and getattr(model, "attn_mask", getattr(text, "attn_mask", None)) is not None

    @classmethod
    def from_files(
        cls,
        arch: str,
        checkpoint: str | Path | None,
        model_config: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        device: str | None = None,
        batch_size: int = 256,
    ) -> ClipEmbedder:
        import torch

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, tokenizer = load_clip(arch, checkpoint, model_config, tokenizer_path, device)
        return cls(model, tokenizer, device, batch_size)

    def _autocast(self):  # noqa: ANN202 - a context manager
        torch = self._torch
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.device.startswith("cuda") else nullcontext()

    def _normalised(self, x: Any) -> np.ndarray:
        x = x.float()
        return (x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()

    def _split_transform(self) -> tuple[Any, Any, Any] | None:
        """``(per-image head, mean, std)`` when the transform ends in to-tensor + normalise, else None."""
        from torchvision.transforms import Compose, Normalize

        steps = list(getattr(self.transform, "transforms", []))
        if len(steps) < 2 or "ToTensor" not in type(steps[-2]).__name__ or not isinstance(steps[-1], Normalize):
            return None
        torch = self._torch
        view = lambda v: torch.as_tensor(v, dtype=torch.float32).view(1, -1, 1, 1)
        return Compose(steps[:-2]), view(steps[-1].mean), view(steps[-1].std)

    def pixels(self, images: Sequence[Any]) -> Any:
        """The model's input tensor for PIL images: open_clip's eval transform.

        Resize and crop run per image; to-tensor and normalise run once on the stacked uint8 batch (the
        same float32 operations, so the same values), which saves ~0.2 ms of tensor overhead per image.
        """
        torch = self._torch
        if self._tail is None or not images:
            return torch.stack([self.transform(im) for im in images])
        head, mean, std = self._tail
        batch = torch.from_numpy(np.stack([np.asarray(head(im), dtype=np.uint8) for im in images]))
        return batch.permute(0, 3, 1, 2).contiguous().float().div(255).sub_(mean).div_(std)

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        """(n, d) unit-norm float32 embeddings of PIL images."""
        torch = self._torch
        out = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(images), self.batch_size):
                px = self.pixels(images[i : i + self.batch_size]).to(self.device)
                out.append(self._normalised(self.model.encode_image(px)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def embed_jpeg_bytes(self, datas: Sequence[bytes], decoder: Any = None) -> tuple[np.ndarray, list[Any]]:
        """Embeddings of encoded images decoded and preprocessed on the model's device (nvJPEG on CUDA),
        NaN rows where rejected, and per item its ``Reject`` or None: see :mod:`.clip_device`."""
        from mmcurate.filters.clip_device import embed_jpeg_bytes

        return embed_jpeg_bytes(self, datas, decoder)

    def tokenize(self, texts: Sequence[str]) -> Any:
        tokens = self.tokenizer(list(texts))
        if self.trim_padding and tokens.numel():
            last = int(tokens.argmax(dim=-1).max()) + 1  # EOT has the highest id in CLIP's BPE vocabulary
            tokens = tokens[:, :last]
        return tokens

    def _encode_text(self, tokens: Any) -> Any:
        m = self.model
        if not (self.trim_padding and hasattr(m, "positional_embedding") and hasattr(m, "transformer")):
            return m.encode_text(tokens)  # custom text towers slice their position table themselves
        # open_clip's CLIP.encode_text adds the full position table, so a trimmed batch goes through
        # the same layers here with the table and causal mask cut to its length (checked by a test).
        from open_clip.transformer import text_global_pool

        n = tokens.shape[1]
        cast = m.transformer.get_cast_dtype()
        x = m.token_embedding(tokens).to(cast) + m.positional_embedding[:n].to(cast)
        x = m.ln_final(m.transformer(x, attn_mask=m.attn_mask[:n, :n]))
        x = text_global_pool(x, tokens, m.text_pool_type, eos_token_id=getattr(m, "text_eos_id", None))
        proj = m.text_projection
        if proj is None:
            return x
        return proj(x) if isinstance(proj, self._torch.nn.Linear) else x @ proj

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) unit-norm float32 embeddings of captions (truncated to the model's context)."""
        torch = self._torch
        out = []
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(texts), self.batch_size):
                tokens = self.tokenize(texts[i : i + self.batch_size]).to(self.device)
                out.append(self._normalised(self._encode_text(tokens)))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    @property
    def input_side(self) -> int:
        """The longer side of the model's input (pixels); images are resized and cropped to it."""
        size = self.model.visual.preprocess_cfg.get("size", 224)
        return int(max(size) if isinstance(size, (tuple, list)) else size)

    def draft_side(self, gap: float | None) -> int | None:
        """Smallest JPEG decode side worth keeping for this model (see ``ClipModelFields.draft_gap``)."""
        return None if not gap else int(round(gap * self.input_side))

    @property
    def dim(self) -> int:
        return int(getattr(self.model.visual, "output_dim", 0))


@dataclass(kw_only=True)
class ClipModelFields:
    """The model part of a CLIP-based stage's config (mixed into the CLIP-score and T-MARS filters).

    Defaults are the bundled tiny CLIP. For OpenAI ViT-B/32 weights saved locally:
    ``arch="ViT-B-32", checkpoint="/models/vit_b_32.safetensors", model_config=None``.
    """

    arch: str = TINY_CLIP_ARCH
    checkpoint: str = str(TINY_CLIP_WEIGHTS)
    model_config: str | None = str(TINY_CLIP_CONFIG)  # JSON for archs open_clip does not ship
    tokenizer_path: str | None = None  # local HF tokenizer dir, needed by SigLIP-style archs
    device: str | None = None  # None: cuda when available, else cpu
    num_gpus: float = 0.0  # scheduler hint for the Ray actor pool
    num_cpus: float = 1.0
    # JPEGs are decoded at a reduced DCT scale whose sides stay >= draft_gap x the model's input side,
    # then resized as usual (Pillow's thumbnail() does the same with its reducing_gap=2). At 64 px
    # from 256-px JPEGs this halves the stage's pre-model time; scores move by ~1e-3 (bench/clip_score.py
    # prints the gap). None: full-size decode, bit-identical to a plain open_clip preprocessing.
    draft_gap: float | None = 2.0

    @staticmethod
    def check_cosine(name: str, value: float | None) -> None:
        """A score threshold is a cosine similarity: None (score only) or within [-1, 1]."""
        if value is not None and not -1.0 <= value <= 1.0:
            raise ValueError(f"{name} is a cosine similarity in [-1, 1], got {value}")

    def load_embedder(self, batch_size: int) -> ClipEmbedder:
        return ClipEmbedder.from_files(
            self.arch, self.checkpoint, self.model_config, self.tokenizer_path, self.device, batch_size
        )
