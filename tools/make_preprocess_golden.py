#!/usr/bin/python3
"""Generates the preprocessing golden data in tests/frontends/data/preprocess/.

Run with Debian's python (torch 1.13, torchvision 0.14, Pillow):
    /usr/bin/python3 tools/make_preprocess_golden.py

Writes small synthetic PNG fixtures (deterministic, seeded) and, for each case
in CASES, what torchvision computes for them:
  <case>.<backend>.u8   the uint8 image after [Grayscale] -> Resize -> CenterCrop,
                        (H, W, C) bytes, i.e. lapq::Image::pixels
  <case>.<backend>.f32  after ToTensor + Normalize (+ BGR reorder), float32
                        little-endian (C, H, W); written only for some cases
backend "pil":    PIL image through torchvision.transforms.functional (PIL's
                  bilinear resize, what datasets.ImageFolder pipelines do)
backend "tensor": uint8 CHW tensor through F.resize(antialias=True)
and golden.txt, one line per (case, backend):
  <case> <backend> <image> <u8 file> <f32 file or -> <overrides...>
where the overrides are lapq's "key=value" preprocessing overrides
(frontends/image/preprocess_config.h) that describe the same pipeline.
Also writes a few odd PNGs (16-bit RGB, palette, gray+alpha) for decoder tests.
"""
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "frontends", "data", "preprocess")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def make_images(rng):
    """Synthetic content: gradients + edges + noise, so rounding paths are exercised."""
    imgs = {}
    # 64x48 RGB: gradient plus strong uniform noise.
    y, x = np.mgrid[0:48, 0:64]
    base = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.float64)
    noise = rng.integers(-60, 61, size=base.shape)
    imgs["rgb_64x48.png"] = np.clip(base + noise, 0, 255).astype(np.uint8)
    # 40x90 (W x H) gray: vertical stripes and noise.
    y, x = np.mgrid[0:90, 0:40]
    g = 128 + 90 * np.sin(x * 0.9) * np.cos(y * 0.21) + rng.integers(-20, 21, size=x.shape)
    imgs["gray_40x90.png"] = np.clip(g, 0, 255).astype(np.uint8)
    # 150x110 RGB: checkerboard, bands and a diagonal edge (large downscale factor).
    y, x = np.mgrid[0:110, 0:150]
    r = ((x // 7 + y // 5) % 2) * 230 + 10
    gch = (x * 37 // 10) % 256
    b = np.where(x * 0.6 + y > 90, 240, 15)
    imgs["rgb_150x110.png"] = np.clip(np.stack([r, gch, b], axis=-1), 0, 255).astype(np.uint8)
    # 20x20 RGB noise (the CIFAR-like case: no resize, no crop).
    imgs["rgb_20x20.png"] = rng.integers(0, 256, size=(20, 20, 3)).astype(np.uint8)
    return imgs


# name, image, size for Resize (int = shorter side, (h, w) = exact, None),
# crop (h, w) or None, color, mean, std, write f32, backends
CASES = [
    ("down", "rgb_64x48.png", 20, (16, 16), "rgb", IMAGENET_MEAN, IMAGENET_STD, True, ["pil", "tensor"]),
    ("up", "rgb_64x48.png", 37, (29, 29), "rgb", IMAGENET_MEAN, IMAGENET_STD, False, ["pil", "tensor"]),
    ("bigdown", "rgb_150x110.png", 24, (24, 24), "rgb", IMAGENET_MEAN, IMAGENET_STD, False, ["pil", "tensor"]),
    ("gray", "gray_40x90.png", 17, (15, 13), "gray", [0.5], [0.25], True, ["pil", "tensor"]),
    ("rgb2gray", "rgb_64x48.png", 20, (16, 16), "gray", [0.5], [0.25], False, ["pil", "tensor"]),
    ("bgr", "rgb_64x48.png", 20, (16, 16), "bgr", [0.406, 0.456, 0.485], [0.225, 0.224, 0.229], True, ["pil"]),
    ("exact", "rgb_64x48.png", (9, 30), None, "rgb", IMAGENET_MEAN, IMAGENET_STD, False, ["pil", "tensor"]),
    ("row1", "rgb_150x110.png", (1, 7), None, "rgb", IMAGENET_MEAN, IMAGENET_STD, False, ["pil", "tensor"]),
    ("cifar", "rgb_20x20.png", None, None, "rgb", IMAGENET_MEAN, IMAGENET_STD, True, ["pil"]),
    ("pad", "rgb_20x20.png", None, (23, 18), "rgb", IMAGENET_MEAN, IMAGENET_STD, False, ["pil"]),
]


def pil_luma_check(arr):
    """Our decoder converts RGB to gray with PIL's integer formula; check it."""
    got = np.asarray(Image.fromarray(arr).convert("L")).astype(np.int64)
    a = arr.astype(np.int64)
    want = (a[..., 0] * 19595 + a[..., 1] * 38470 + a[..., 2] * 7471 + 0x8000) >> 16
    assert np.array_equal(got, want), "PIL's convert('L') formula differs from lapq's"


def run_case(path, size, crop, color, mean, std, backend):
    pil = Image.open(path)
    pil.load()
    if color == "gray" and pil.mode != "L":
        pil = pil.convert("L")
    elif color != "gray":
        pil = pil.convert("RGB")
    if backend == "pil":
        img = pil
        if size is not None:
            img = F.resize(img, [size] if isinstance(size, int) else list(size), InterpolationMode.BILINEAR)
        if crop is not None:
            img = F.center_crop(img, list(crop))
        u8 = np.asarray(img)
        x = F.to_tensor(img)
    else:
        arr = np.asarray(pil)
        t = torch.from_numpy(arr.copy())
        t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1).contiguous()
        if size is not None:
            t = F.resize(t, [size] if isinstance(size, int) else list(size), InterpolationMode.BILINEAR,
                         antialias=True)
        if crop is not None:
            t = F.center_crop(t, list(crop))
        assert t.dtype == torch.uint8
        u8 = t.permute(1, 2, 0).numpy()
        x = t.float().div(255)
    if u8.ndim == 2:
        u8 = u8[..., None]
    if color == "bgr":
        x = x[[2, 1, 0]]
    x = F.normalize(x, mean, std)
    return np.ascontiguousarray(u8, dtype=np.uint8), x.numpy().astype("<f4")


def overrides(size, crop, color, mean, std, backend, shape):
    o = []
    o.append("resize=none" if size is None else
             f"resize={size}" if isinstance(size, int) else f"resize={size[0]},{size[1]}")
    o.append("crop=none" if crop is None else f"crop={crop[0]},{crop[1]}")
    o.append(f"color={color}")
    o.append(f"input_size={shape[0]},{shape[1]},{shape[2]}")
    o.append("mean=" + ",".join(repr(m) for m in mean))
    o.append("std=" + ",".join(repr(s) for s in std))
    o.append(f"resize_backend={backend}")
    return o


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png16_rgb(path, arr16):
    """Minimal 16-bit RGB PNG (PIL cannot write one)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def main():
    print("torch", torch.__version__, "torchvision", torchvision.__version__, "Pillow", Image.__version__)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261126)
    imgs = make_images(rng)
    for name, arr in imgs.items():
        Image.fromarray(arr).save(os.path.join(OUT, name), optimize=True)
        if arr.ndim == 3:
            pil_luma_check(arr)

    lines = ["# case backend image u8 f32 overrides... (generated by tools/make_preprocess_golden.py)"]
    for name, image, size, crop, color, mean, std, want_f32, backends in CASES:
        for backend in backends:
            u8, f32 = run_case(os.path.join(OUT, image), size, crop, color, mean, std, backend)
            stem = f"{name}.{backend}"
            with open(os.path.join(OUT, stem + ".u8"), "wb") as f:
                f.write(u8.tobytes())
            f32_name = "-"
            if want_f32:
                f32_name = stem + ".f32"
                with open(os.path.join(OUT, f32_name), "wb") as f:
                    f.write(f32.tobytes())
            shape = (u8.shape[2], u8.shape[0], u8.shape[1])
            lines.append(" ".join([name, backend, image, stem + ".u8", f32_name] +
                                  overrides(size, crop, color, mean, std, backend, shape)))
    # How far apart the two backends are (for docs/preprocessing.md).
    for name, image, size, crop, color, mean, std, _, backends in CASES:
        if len(backends) == 2:
            a, _ = run_case(os.path.join(OUT, image), size, crop, color, mean, std, "pil")
            b, _ = run_case(os.path.join(OUT, image), size, crop, color, mean, std, "tensor")
            d = np.abs(a.astype(int) - b.astype(int))
            print(f"{name}: pil vs tensor max |diff| {d.max()}, differing {np.mean(d > 0) * 100:.1f}%")
    with open(os.path.join(OUT, "golden.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    # Decoder fixtures.
    arr16 = np.array([[[0x0000, 0x00FF, 0x0100], [0x1234, 0x8000, 0xFFFF]],
                      [[0xABCD, 0x7F80, 0x0001], [0xFF00, 0x00FF, 0x4242]]], dtype=np.uint16)
    write_png16_rgb(os.path.join(OUT, "rgb16_2x2.png"), arr16)
    pal = Image.fromarray(imgs["rgb_20x20.png"][:8, :8]).quantize(colors=5)
    pal.save(os.path.join(OUT, "palette_8x8.png"))
    np.asarray(pal.convert("RGB")).tofile(os.path.join(OUT, "palette_8x8.rgb"))
    la = np.stack([imgs["gray_40x90.png"][:6, :5], np.full((6, 5), 77, np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(os.path.join(OUT, "gray_alpha_5x6.png"))
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
