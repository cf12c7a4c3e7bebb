"""The GPU media path without Ray: images/s from JPEG bytes for decode, CLIP scoring and VQ tokenize.

On a device machine (one short call; about a minute with the default 5,000 images, most of it the naive
loop and building the JPEGs):

    .venv/bin/python bench/gpu.py --n 5000

The input is ``--n`` real-photo JPEGs built in memory by ``bench/_photos.py`` (the ingest benchmark's:
crops, turns and resizes of scikit-image's bundled photographs, colour and grey), 20-60 KB each, of many
different sizes, as web images are.
Models are random-init (``open_clip.create_model("ViT-B-32", pretrained=None)``, nothing downloaded),
the same compute as trained weights. Every figure is the best of ``--repeats`` timed passes over all
images after a warm-up batch, with the device synchronised before the clock stops.

(a) device JPEG decode alone: ``torchvision.io.decode_jpeg(list, device)`` per batch (nvJPEG on CUDA,
    libjpeg on CPU); then mmcurate's ``decode_images``, which adds the Pillow header parse that routing
    needs (``mmcurate.pipeline.device_decode``).
(b) the naive loop (the anchor): per batch, PIL decode, open_clip's eval transform, ViT-B/32 in fp32 on
    the device, cosine against a caption embedding.
(c) mmcurate's CLIP path end to end from JPEG bytes: ``ClipEmbedder.embed_jpeg_bytes`` (device decode,
    device preprocessing, bf16 autocast on CUDA, prefetch overlap), then the same cosine; and (c)/(b).
(d) VQ 256² tokenize with the shipped ``vqvae_small`` (f=8, 32x32 codes an image): from JPEG bytes
    (device decode, the tokenizer's resize + centre crop on the device, ``VQTokenize.encode_pixels``),
    and the encode alone from uint8 pixels already on the host.
"""

from __future__ import annotations

import argparse
import io
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from _photos import photo_jpegs
from PIL import Image

GOALS = {"clip": 10_000, "ratio": 1.3, "vq": 2_000}  # images/s on one H100/H200 (issue 19)
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], n: int, repeats: int, device: torch.device) -> tuple[float, object]:
    """(images/s of the best of ``repeats`` runs of ``fn`` over ``n`` images, the last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return n / best, out


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def line(label: str, rate: float, goal: str = "") -> None:
    print(f"{label:<62s} {rate:10,.0f} img/s   {goal}".rstrip(), flush=True)


def bench_decode(jpegs: list[bytes], device: torch.device, batch: int, repeats: int, warm: int) -> None:
    from torchvision.io import ImageReadMode, decode_jpeg

    from mmcurate.pipeline.device_decode import decode_images

    tensors = [torch.frombuffer(bytearray(d), dtype=torch.uint8) for d in jpegs]
    decode_jpeg(tensors[:warm], mode=ImageReadMode.RGB, device=device)  # warm-up: nvJPEG handles, allocator
    rate, _ = timed(lambda: [decode_jpeg(c, mode=ImageReadMode.RGB, device=device) for c in batches(tensors, batch)],
                    len(jpegs), repeats, device)
    name = "nvJPEG" if device.type == "cuda" else "libjpeg"
    line(f"(a) device JPEG decode alone ({name}, decode_jpeg, batch {batch})", rate)
    rate, _ = timed(lambda: [decode_images(c, device) for c in batches(jpegs, batch)], len(jpegs), repeats, device)
    line("    mmcurate decode_images (+ Pillow header parse, routing)", rate)


def bench_clip(jpegs: list[bytes], device: torch.device, batch: int, repeats: int, warm: int) -> None:
    import open_clip

    from mmcurate.filters.clip_model import ClipEmbedder

    model = open_clip.create_model("ViT-B-32", pretrained=None, device=device).eval()
    embedder = ClipEmbedder(model, open_clip.get_tokenizer("ViT-B-32"), str(device), batch_size=batch)
    text = torch.from_numpy(embedder.embed_texts(["a photograph"])[0]).to(device)
    transform = embedder.transform  # open_clip's eval transform (PIL)

    def naive(items: list[bytes]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for chunk in batches(items, batch):
                px = torch.stack([transform(Image.open(io.BytesIO(d)).convert("RGB")) for d in chunk]).to(device)
                f = model.encode_image(px)
                out.append((f / f.norm(dim=-1, keepdim=True)) @ text)
        return torch.cat(out).cpu().numpy()

    def ours(items: list[bytes]) -> np.ndarray:
        emb, _ = embedder.embed_jpeg_bytes(items)
        return emb @ text.cpu().numpy()

    naive(jpegs[:warm]), ours(jpegs[:warm])  # warm-up
    base, naive_scores = timed(lambda: naive(jpegs), len(jpegs), repeats, device)
    line("(b) naive loop: PIL decode > transform > ViT-B/32 fp32 > score", base)
    rate, our_scores = timed(lambda: ours(jpegs), len(jpegs), repeats, device)
    dtype = "bf16" if device.type == "cuda" else "fp32"
    line(f"(c) mmcurate CLIP path from JPEG bytes (embed_jpeg_bytes, {dtype})", rate, f"goal >= {GOALS['clip']:,}")
    diff = float(np.nanmax(np.abs(np.asarray(our_scores) - np.asarray(naive_scores))))
    print(f"    ratio (c)/(b) {rate / base:49.2f}x        goal >= {GOALS['ratio']}x"
          f"   (max |score difference| {diff:.4f})", flush=True)


def bench_vq(jpegs: list[bytes], device: torch.device, batch: int, repeats: int, warm: int) -> None:
    from mmcurate.pipeline.device_decode import decode_images, resize_centre_crop
    from mmcurate.pipeline.stage import Reject
    from mmcurate.tokenizers.vqvae.checkpoint import shipped_small
    from mmcurate.tokenizers.vqvae.stage import VQTokenize

    cuda = device.type == "cuda"
    stage = VQTokenize(resolution=256, device=device.type, num_gpus=1.0 if cuda else 0.0,
                       encode_batch_size=batch if cuda else 16)
    stage.ensure_setup()

    def from_jpeg(items: list[bytes]) -> np.ndarray:
        pixels = []
        for chunk in batches(items, batch):
            images = [t for t in decode_images(chunk, device) if not isinstance(t, Reject)]
            pixels.append(resize_centre_crop(images, 256, "to_pixels").to(torch.uint8).permute(0, 2, 3, 1))
        return stage.encode_pixels(torch.cat(pixels))  # one host sync for the whole set

    from_jpeg(jpegs[:warm])  # warm-up
    rate, codes = timed(lambda: from_jpeg(jpegs), len(jpegs), repeats, device)
    grid = np.asarray(codes).shape[1:]
    cfg = stage._model.cfg
    model = f"{shipped_small().name}, shipped, f={cfg.downsample}, {cfg.codebook_size} codes"
    line(f"(d) VQ 256² tokenize from JPEG bytes ({model})", rate, f"goal >= {GOALS['vq']:,}")
    host = np.random.default_rng(0).integers(0, 256, (len(jpegs), 256, 256, 3), dtype=np.uint8)
    rate, _ = timed(lambda: stage.encode_pixels(host), len(jpegs), repeats, device)
    line(f"    VQ encode alone from uint8 host pixels ({grid[0]}x{grid[1]} codes each)", rate)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=5000, help="JPEG crops to build and run")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--batch", type=int, default=None, help="images per batch (default: 256 on cuda, 32 on cpu)")
    p.add_argument("--repeats", type=int, default=None, help="timed passes per measure, the best kept (default: 2 on "
                   "cuda, 1 on cpu)")
    args = p.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    batch, repeats = args.batch or (256 if cuda else 32), args.repeats or (2 if cuda else 1)
    warm = batch if cuda else 2  # a CPU run is a smoke test: warm the code paths, not the clocks
    warnings.filterwarnings("ignore", message=".*decoding and encoding capabilities of TorchVision", category=DeprecationWarning)
    t = time.perf_counter()
    jpegs = photo_jpegs(args.n)
    kb = np.array([len(d) for d in jpegs]) / 1024
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"{len(jpegs):,} JPEG photo crops, {kb.min():.0f}-{kb.max():.0f} KB (median {np.median(kb):.0f}), "
          f"built in {time.perf_counter() - t:.1f} s; device {name}; batch {batch}; goals are for one H100/H200",
          flush=True)
    bench_decode(jpegs, device, batch, repeats, warm)
    bench_clip(jpegs, device, batch, repeats, warm)
    bench_vq(jpegs, device, batch, repeats, warm)


if __name__ == "__main__":
    main()
