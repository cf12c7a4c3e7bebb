"""OCR throughput: Tesseract (tesserocr C API) vs PP-OCRv4 (RapidOCR, onnxruntime), side by side.

Both engines see the same generated images in the same run, one thread each, so the ratio is fair on a
shared machine (run it when the box is otherwise idle). Images are rendered signs / captions / memes on
photo-like noise at web sizes, plus text-free images (most of a web crawl has no text, and the cost
of finding nothing counts). Prints images/s per engine, the ratio and a word-level agreement check.

    .venv/bin/python bench/ocr.py --n 24 --side 640 --threads 1
"""

from __future__ import annotations

import argparse
import os
import random
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmcurate.filters.ocr import read_image
from mmcurate.filters.ocr_engines import RapidOcrEngine, TesseractEngine

WORDS = "fresh bread daily sale open today coffee books garden city river music summer winter night market".split()


def make_image(seed: int, side: int) -> tuple[Image.Image, list[str]]:
    """A noisy photo-like background with 0-3 lines of 1-4 words (a quarter of the images have none)."""
    rng = random.Random(seed)
    w, h = side, int(side * rng.uniform(0.6, 1.0))
    base = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    noise = np.random.default_rng(seed).normal(0, 18, (h // 8, w // 8, 3))
    bg = np.clip(base + np.kron(noise, np.ones((8, 8, 1)))[:h, :w], 0, 255).astype(np.uint8)
    img = Image.fromarray(bg)
    draw = ImageDraw.Draw(img)
    words: list[str] = []
    for line in range(rng.choice((0, 1, 2, 3))):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        size = rng.randint(side // 24, side // 10)
        ink = (255, 255, 255) if base.mean() < 128 else (0, 0, 0)
        draw.text((rng.randint(5, w // 4), 10 + line * (h // 3)), text, font=ImageFont.load_default(size=size), fill=ink)
        words += text.split()
    return img, words


def run(engine, images: list[Image.Image], max_side: int) -> tuple[float, list[set[str]]]:
    read_image(engine, images[0], max_side)  # warm-up (graph init, first allocation)
    t = time.perf_counter()
    found = [set(read_image(engine, im, max_side)[0].text.lower().split()) for im in images]
    return len(images) / (time.perf_counter() - t), found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--side", type=int, default=640)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    os.environ["OMP_THREAD_LIMIT"] = str(args.threads)  # Tesseract's OpenMP, read when it first runs
    data = [make_image(i, args.side) for i in range(args.n)]
    images, truth = [d[0] for d in data], [set(d[1]) for d in data]
    results = {}
    for name, engine in (("tesseract", TesseractEngine()), ("pp-ocrv4", RapidOcrEngine(threads=args.threads))):
        rate, found = run(engine, images, args.side)
        recall = sum(len(f & t) for f, t in zip(found, truth)) / max(1, sum(len(t) for t in truth))
        results[name] = rate
        print(f"{name:10s} {rate:7.2f} img/s  word recall {recall:.2f}  ({args.n} images, {args.side}px, "
              f"{args.threads} thread)", flush=True)
    print(f"ratio tesseract / pp-ocrv4 = {results['tesseract'] / results['pp-ocrv4']:.2f}x")


if __name__ == "__main__":
    main()
