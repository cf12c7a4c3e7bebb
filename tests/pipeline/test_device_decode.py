"""The device decode path (pipeline/device_decode.py): ImageDecode's reject reasons on the bad-image matrix,
Pillow's pixels for good JPEGs, and open_clip's eval transform on the device. ``cpu`` runs everywhere
(torchvision's libjpeg); ``cuda`` (nvJPEG) only where there is a GPU."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mmcurate.pipeline import device_decode as dd
from mmcurate.pipeline.decode_image import ImageDecode
from mmcurate.pipeline.generate import cases as mc
from mmcurate.pipeline.stage import Reject

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def _decode_matrix() -> list[tuple[str, bytes]]:
    """The bad-image cases of test_decode_image.py, exactly as that test parametrises them."""
    spec = importlib.util.spec_from_file_location("_decode_matrix", Path(__file__).with_name("test_decode_image.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    mark = next(m for m in module.test_bad_images_are_rejected_with_their_reason.pytestmark if m.name == "parametrize")
    return [(f"matrix_{name}", data) for name, (data, _) in zip(mark.kwargs["ids"], mark.args[1])]


def _photo(name: str = "a cup of coffee on a saucer") -> Image.Image:
    return mc.skimage_photos()[name].convert("RGB")


def _damaged_scan(data: bytes) -> bytes:
    """Random bytes over the middle of the entropy-coded data; header and EOI intact (Pillow: corrupt)."""
    mid = len(data) // 3
    return data[:mid] + np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes() + data[mid + 3000:]


GOOD = mc.encode(_photo(), "JPEG", quality=90)
# JPEG cases that exercise the routing itself (the matrix above is mostly other formats).
ROUTED = {
    "jpeg_good": GOOD,
    "jpeg_padded_after_eoi": GOOD + b"\x00" * 16,
    "jpeg_grey": mc.encode(_photo().convert("L"), "JPEG", quality=90),
    "jpeg_progressive": mc.encode(_photo(), "JPEG", quality=85, progressive=True),
    "jpeg_444": mc.encode(_photo(), "JPEG", quality=95, subsampling=0),
}
TO_PILLOW = {
    "jpeg_truncated": mc.truncated_jpeg(_photo(), 0.6),
    "jpeg_truncated_tail": GOOD[:-200],
    "jpeg_cmyk": mc.cmyk_jpeg(_photo()),
    "jpeg_exif_rotated": mc.exif_rotated_jpeg(_photo(), orientation=6),
    "jpeg_tiny": mc.encode(Image.new("RGB", (8, 8), (1, 2, 3)), "JPEG"),
    "jpeg_long": mc.encode(Image.new("RGB", (2000, 40), (9, 9, 9)), "JPEG"),
    "png": mc.encode(_photo(), "PNG"),
    "png_palette_alpha": mc.palette_alpha_png(),
    "png_la": mc.la_png(),
    "png_16bit": mc.sixteen_bit_png(),
    "gif_animated": mc.animated_gif(size=(48, 48)),
}
# Header and EOI intact, scan damaged: routed to the device, refused by libjpeg, judged by Pillow. nvJPEG
# may decode such data to garbage instead (the documented gap: image_decode_v1 has judged it in a job).
DAMAGED = {"jpeg_damaged_scan": _damaged_scan(GOOD)}
CASES = _decode_matrix() + [*ROUTED.items(), *TO_PILLOW.items(), *DAMAGED.items()]


def _verdict(data: bytes) -> tuple[str, tuple[int, int] | None]:
    """ImageDecode's verdict: (reason, None) or ("ok", (height, width) of the normalised image)."""
    try:
        item = ImageDecode().decode_item({"bytes": data, "kind": "image"})
    except Reject as rej:
        return rej.reason, None
    return "ok", (item["height"], item["width"])


def _got(result: dd.Decoded, device: str) -> tuple[str, tuple[int, int] | None]:
    if isinstance(result, Reject):
        return result.reason, None
    assert result.dtype == torch.uint8 and result.shape[0] == 3 and result.device.type == device
    return "ok", tuple(result.shape[1:])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "data"), CASES, ids=[name for name, _ in CASES])
def test_reject_reasons_match_image_decode(name: str, data: bytes, device: str) -> None:
    got = _got(dd.decode_images([data], device)[0], device)
    if device == "cuda" and name in DAMAGED and got[0] == "ok":
        pytest.xfail("nvJPEG decoded a damaged scan that Pillow calls corrupt (documented gap)")
    assert got == _verdict(data)


@pytest.mark.parametrize("device", DEVICES)
def test_one_batch_of_everything_gives_each_item_its_own_verdict(device: str) -> None:
    # One decode_jpeg call fails as a whole on the damaged item: the retry must keep the good ones.
    datas = [data for _, data in CASES]
    got = [_got(r, device) for r in dd.decode_images(datas, device)]
    want = [_verdict(d) for d in datas]
    if device == "cuda":
        keep = [i for i, (name, _) in enumerate(CASES) if name not in DAMAGED]
        got, want = [got[i] for i in keep], [want[i] for i in keep]
    assert got == want


def test_routing_sends_plain_jpegs_to_the_device_and_the_rest_to_pillow() -> None:
    decoder = ImageDecode()
    assert all(dd.device_eligible(d, decoder) for d in [*ROUTED.values(), *DAMAGED.values()])
    assert not any(dd.device_eligible(d, decoder) for d in TO_PILLOW.values())
    assert not any(dd.device_eligible(d, decoder) for _, d in _decode_matrix())
    assert not dd.device_eligible(GOOD, ImageDecode(formats=("PNG",)))  # the allow-list still rules
    host = dd.prepare(list(ROUTED.values()) + [TO_PILLOW["png"]], decoder)
    assert host.jpeg_index == list(range(len(ROUTED))) and list(host.cpu) == [len(ROUTED)]


def test_eoi_rule_allows_padding_only() -> None:
    assert dd.eoi_terminated(GOOD) and dd.eoi_terminated(GOOD + b"\r\n\x00 ")
    assert not dd.eoi_terminated(GOOD[:-1]) and not dd.eoi_terminated(GOOD + b"trailing junk")


def _pillow_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("device", DEVICES)
def test_good_jpegs_decode_to_pillows_pixels(device: str) -> None:
    """torchvision's libjpeg and Pillow's are both libjpeg-turbo (3.1 and 3.2 here), same IDCT (islow) and
    chroma upsampling: bit-identical. nvJPEG uses its own IDCT and upsampling: a few levels at edges."""
    datas = [mc.encode(im.convert("RGB" if im.mode not in ("RGB", "L") else im.mode), "JPEG", quality=q, subsampling=s)
             for im, (q, s) in zip(mc.skimage_photos().values(), [(90, 2), (95, 0), (75, 1)] * 4)]
    for data, got in zip(datas, dd.decode_images(datas, device)):
        diff = np.abs(got.permute(1, 2, 0).cpu().numpy().astype(np.int16) - _pillow_pixels(data))
        if device == "cpu":
            assert diff.max() == 0
        else:
            assert diff.mean() < 1.5 and np.percentile(diff, 99.9) <= 12, (diff.mean(), diff.max())


def _open_clip_transform(side: int):  # noqa: ANN202 - a torchvision Compose
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return image_transform_v2(PreprocessCfg(size=(side, side)), is_train=False)


MEAN, STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


@pytest.mark.parametrize("device", DEVICES)
def test_clip_preprocess_reproduces_open_clips_transform(device: str) -> None:
    """Same decoded pixels in; the resized crops differ by Pillow's uint8 rounding between its passes."""
    photo = _photo("a rocket on a launch pad")
    crops = [photo.crop(box) for box in [(0, 0, 401, 333), (10, 20, 310, 620), (0, 0, 224, 224), (5, 5, 105, 185),
                                          (0, 0, 401, 333), (50, 50, 450, 350)]]  # landscape, portrait, exact, upscale
    tensors = [torch.from_numpy(np.array(c)).permute(2, 0, 1).to(device) for c in crops]
    ours = dd.clip_preprocess(tensors, 224, MEAN, STD).cpu()
    ref = torch.stack([_open_clip_transform(224)(c) for c in crops])
    levels = ((ours - ref) * torch.tensor(STD).view(1, 3, 1, 1) * 255).abs()
    assert ours.shape == ref.shape == (6, 3, 224, 224)
    assert levels.mean() < 0.5 and levels.max() <= 6, (levels.mean(), levels.max())  # measured: 0.12, 3
    assert levels[2].max() < 1e-3  # already 224x224: no resize, exact
    alone = torch.cat([dd.clip_preprocess([t], 224, MEAN, STD).cpu() for t in tensors])
    assert torch.equal(ours, alone)  # grouping by size and restoring the order changes nothing


@pytest.mark.parametrize("device", DEVICES)
def test_to_pixels_rule_matches_the_vq_preprocessing(device: str) -> None:
    from mmcurate.tokenizers.vqvae.data import to_pixels

    photo = _photo("a tabby cat looking up")
    crops = [photo, photo.crop((0, 0, 300, 451 - 200)), photo.crop((0, 0, 200, 300))]
    tensors = [torch.from_numpy(np.array(c)).permute(2, 0, 1).to(device) for c in crops]
    ours = dd.resize_centre_crop(tensors, 128, "to_pixels").permute(0, 2, 3, 1).cpu().numpy()
    ref = np.stack([to_pixels(c, 128) for c in crops]).astype(np.float32)
    # to_pixels resizes with reducing_gap=3 (a box pre-shrink first); measured: mean 0.15, max 1 level.
    assert ours.shape == ref.shape and np.abs(ours - ref).mean() < 0.5 and np.abs(ours - ref).max() <= 2
