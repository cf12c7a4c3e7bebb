"""The demo's input: a few hundred realistic image-caption pairs with trouble mixed in.

Real photos (scikit-image's) cropped at seeded positions and procedurally generated scenes, in JPEG,
PNG and WebP, with sidecar ``.txt``/``.json`` captions; plus corrupt files, odd formats, hostile
captions, exact duplicates, and a few small videos (good ones with planted cuts, a static slideshow, a
truncated file, an audio-only file, one below the resolution floor).
:func:`make_demo_folder` returns, for every file it planted on purpose,
the reason code the pipeline should record (``None`` for samples that must be accepted), so tests can
check the whole funnel against it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from mmcurate.pipeline.generate import cases as mc

__all__ = ["make_demo_folder", "DUPLICATE_PREFIX"]

# Expected value for a planted exact copy: "duplicate:<original>"; dedup keeps exactly one of the two.
DUPLICATE_PREFIX = "duplicate:"


def _write(root: Path, name: str, data: bytes, caption: bytes | str | None) -> None:
    (root / name).write_bytes(data)
    if caption is not None:
        stem = name.rsplit(".", 1)[0]
        (root / f"{stem}.txt").write_bytes(caption.encode() if isinstance(caption, str) else caption)


def _good_samples(root: Path, rng: np.random.Generator, n_scenes: int, n_crops: int) -> dict[str, str | None]:
    expected: dict[str, str | None] = {}
    formats = [("JPEG", "jpg", {"quality": 90}), ("PNG", "png", {}), ("WEBP", "webp", {"quality": 85})]
    for i in range(n_scenes):
        im, caption = mc.scene(rng)
        fmt, ext, kw = formats[i % 3]
        name = f"scene_{i:04d}.{ext}"
        if i % 5 == 0:  # some captions come as JSON sidecars with metadata
            (root / name).write_bytes(mc.encode(im, fmt, **kw))
            meta = {"caption": caption, "license": "CC0", "generator": "mmcurate.scene"}
            (root / f"scene_{i:04d}.json").write_text(json.dumps(meta))
        else:
            _write(root, name, mc.encode(im, fmt, **kw), caption)
        expected[name] = None
    photos = list(mc.skimage_photos().items())
    for i in range(n_crops if photos else 0):
        caption, photo = photos[i % len(photos)]
        photo = photo.convert("RGB")
        w, h = photo.size
        cw, ch = int(w * 0.6), int(h * 0.6)
        x, y = int(rng.integers(0, w - cw)), int(rng.integers(0, h - ch))
        crop = photo.crop((x, y, x + cw, y + ch)).resize((256, int(256 * ch / cw)))
        name = f"photo_{i:04d}.jpg"
        _write(root, name, mc.encode(crop, "JPEG", quality=88), f"a photo of {caption}")
        expected[name] = None
    return expected


def _odd_formats(root: Path, rng: np.random.Generator) -> dict[str, str | None]:
    """Odd but valid files, each a distinct scene (so dedup keeps them all)."""
    def pic(size: int = 96) -> Image.Image:
        return mc.scene(rng, size=size)[0]

    cases: dict[str, tuple[bytes, str | bytes | None, str | None]] = {
        "odd_cmyk.jpg": (mc.cmyk_jpeg(pic()), "a CMYK print-ready photo", None),
        "odd_16bit.png": (mc.sixteen_bit_png(), "a 16-bit grey gradient", None),
        "odd_palette_alpha.png": (mc.palette_alpha_png(), "a red square on transparency", None),
        "odd_la.png": (mc.la_png(), "a grey ellipse with alpha", None),
        "odd_animated.gif": (mc.animated_gif(), "an animated colour loop", None),
        "odd_exif_rotated.jpg": (mc.exif_rotated_jpeg(pic().resize((80, 40))), "a photo taken sideways", None),
        "odd_bmp.bmp": (mc.encode(pic(), "BMP"), "a bitmap picture", None),
        "odd_tiff.tif": (mc.encode(pic(), "TIFF"), "a TIFF picture", None),
        "odd_cp1252.jpg": (mc.encode(pic(), "JPEG"), b"caf\xe9 cr\xe8me br\xfbl\xe9e", None),
        "odd_html_caption.png": (mc.encode(pic(), "PNG"), "<p>Buy <b>now</b> &amp; save</p><script>x()</script>", None),
    }
    return _plant(root, cases)


def _bad_files(root: Path, base: Image.Image) -> dict[str, str | None]:
    cases: dict[str, tuple[bytes, str | bytes | None, str | None]] = {
        "bad_truncated.jpg": (mc.truncated_jpeg(base), "a broken download", "image_decode_v1:image_truncated"),
        "bad_header_only.jpg": (mc.encode(base, "JPEG")[:10], "ten bytes", "image_decode_v1:image_truncated"),
        "bad_empty.jpg": (b"", "nothing", "image_decode_v1:empty_body"),
        "bad_html.jpg": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "an error page",
                         "image_decode_v1:not_an_image"),
        "bad_pdf.jpg": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "a pdf", "image_decode_v1:format_not_allowed"),
        "bad_bomb.png": (mc.png_header_only(30000, 30000), "a pixel bomb", "image_decode_v1:decompression_bomb"),
        "bad_too_many_pixels.png": (mc.png_header_only(9000, 9000), "81 megapixels", "image_decode_v1:too_many_pixels"),
        "bad_text_bomb.png": (mc.text_bomb_png(), "a metadata bomb", "image_decode_v1:metadata_bomb"),
        "bad_tiny.png": (mc.encode(Image.new("RGB", (1, 1)), "PNG"), "one pixel", "image_decode_v1:too_small"),
        "bad_aspect.png": (mc.encode(Image.new("RGB", (2000, 20)), "PNG"), "a thin strip", "image_decode_v1:aspect_ratio"),
        "bad_caption_empty.jpg": (mc.encode(base, "JPEG"), "   \n\t ", "caption_clean_v1:caption_empty"),
        "bad_caption_1mb.jpg": (mc.encode(base, "JPEG"), "word " * 200_000, "caption_clean_v1:caption_too_long"),
        "bad_caption_bytes.jpg": (mc.encode(base, "JPEG"), b"\x81\x8d\x8f\x90\x9d", "folder_reader_v1:caption_encoding"),
        "bad_no_caption.jpg": (mc.encode(base, "JPEG"), None, "caption_clean_v1:caption_empty"),
    }
    planted = _plant(root, cases)
    (root / "bad_orphan_caption.txt").write_text("a caption whose image went missing")
    planted["bad_orphan_caption.txt"] = "folder_reader_v1:missing_media"
    return planted


def _videos(root: Path) -> dict[str, str | None]:
    from mmcurate.pipeline.generate import video as mv

    moving = mv.make_video(size=(192, 144), fps=10, n_frames=60, cuts=(25,))
    cases: dict[str, tuple[bytes, str | bytes | None, str | None]] = {
        "video_cuts.mp4": (moving, "coloured scenes with a moving white square", None),
        "video_vp9.webm": (mv.make_video(codec="libvpx-vp9", fmt="webm", size=(192, 144), fps=10, n_frames=40),
                           "a white square sliding across red", None),
        "video_static.mp4": (mv.make_video(size=(192, 144), fps=10, n_frames=40, moving=False, cuts=(20,)),
                             "a slideshow of two still slides", "video_motion_v1:static"),
        "video_truncated.mp4": (moving[:600], "a download cut short", "video_clips_v1:truncated"),
        "video_audio_only.m4a": (mv.make_audio_only(1.0), "a tone with no picture", "video_clips_v1:no_video_stream"),
        "video_tiny.mp4": (mv.make_video(size=(64, 48), fps=10, n_frames=30), "a thumbnail-sized clip",
                           "video_resolution_v1:too_small"),
    }
    return _plant(root, cases)


def _plant(root: Path, cases: dict[str, tuple[bytes, str | bytes | None, str | None]]) -> dict[str, str | None]:
    for name, (data, caption, _) in cases.items():
        _write(root, name, data, caption)
    return {name: reason for name, (_, _, reason) in cases.items()}


def make_demo_folder(root: str | Path, n_scenes: int = 220, n_crops: int = 60, n_duplicates: int = 8,
                     seed: int = 0, with_video: bool = True) -> dict[str, str | None]:
    """Fill ``root`` with the demo input; returns {file: expected reason or None if accepted}."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    expected = _good_samples(root, rng, n_scenes, n_crops)
    base, _ = mc.scene(rng, size=96)
    expected |= _odd_formats(root, rng)
    expected |= _bad_files(root, base)
    if with_video:
        expected |= _videos(root)
    for i, name in enumerate(sorted(n for n, r in expected.items() if r is None and n.startswith("scene_"))[:n_duplicates]):
        copy = f"dup_{i:02d}_{name}"
        shutil.copyfile(root / name, root / copy)
        stem = name.rsplit(".", 1)[0]
        for ext in (".txt", ".json"):
            if (root / f"{stem}{ext}").exists():
                shutil.copyfile(root / f"{stem}{ext}", root / f"dup_{i:02d}_{stem}{ext}")
        expected[copy] = f"{DUPLICATE_PREFIX}{name}"  # one of the pair goes: the one with the larger sample_id
    return expected
