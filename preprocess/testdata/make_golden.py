#!/usr/bin/python3
"""Writes the reference files that preprocess tests compare against.

Run from this folder with Debian's python3 (python3-pil, python3-numpy,
python3-torchvision): /usr/bin/python3 make_golden.py

- resize_golden.json: small seeded random images and what Pillow's
  Image.resize(BILINEAR) (8-bit and mode "F") and torchvision's
  Resize(s) + CenterCrop(crop) make of them.
- cmyk.jpg: an Adobe CMYK JPEG, two flat 8x8 blocks (pure red, 50% grey).
- gray_alpha.png: a grey+alpha (LA) PNG, pixel (x, y) = (40x + 10y, 85y).
- lossless.webp: a lossless WebP, pixel (x, y) = (16x, 16y, 128).
"""
import json

import numpy as np
from PIL import Image
import torchvision
from torchvision import transforms

rng = np.random.default_rng(20240601)


def rgb(h, w):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


inputs = {}  # name -> {"h", "w", "data": C×H×W values}
cases = []


def add_input(name, a):
    inputs[name] = {"h": a.shape[0], "w": a.shape[1], "data": a.transpose(2, 0, 1).reshape(-1).tolist()}


for name, (h, w), sizes in [
    ("rgb_11x17", (11, 17), [(4, 6), (7, 5), (11, 17), (23, 31), (16, 9), (1, 1)]),
    ("rgb_40x29", (40, 29), [(6, 6), (13, 7), (40, 12)]),
]:
    a = rgb(h, w)
    add_input(name, a)
    im = Image.fromarray(a, "RGB")
    for oh, ow in sizes:
        u8 = np.asarray(im.resize((ow, oh), Image.BILINEAR))
        f = np.stack([np.asarray(Image.fromarray(a[:, :, c].astype(np.float32), "F").resize((ow, oh), Image.BILINEAR))
                      for c in range(3)])
        cases.append({
            "name": f"{name}->{oh}x{ow}", "input": name,
            "mode": "stretch", "size": [oh, ow],
            "u8": u8.transpose(2, 0, 1).reshape(-1).tolist(),
            "f32": [round(float(v), 4) for v in f.reshape(-1)],  # rounded to 1e-4 to keep this file small
        })

# torchvision Resize(shorter) + CenterCrop(crop), the "imagenet" geometry.
for name, (h, w), shorter, crop in [
    ("rgb_21x34", (21, 34), 16, 14),   # landscape, downsample
    ("rgb_34x21", (34, 21), 16, 14),   # portrait
    ("rgb_9x13", (9, 13), 20, 17),     # upsample, odd margins
    ("rgb_10x31", (10, 31), 8, 7),     # long side truncation
    ("rgb_5x6", (5, 6), 3, (3, 5)),    # crop wider than the resized image: zero padding
]:
    a = rgb(h, w)
    add_input(name, a)
    t = transforms.Compose([transforms.Resize(shorter), transforms.CenterCrop(crop)])
    size = list(crop) if isinstance(crop, tuple) else [crop, crop]
    out = np.asarray(t(Image.fromarray(a, "RGB")))
    cases.append({
        "name": f"{name}-resize{shorter}-crop{size[0]}x{size[1]}", "input": name,
        "mode": "shorter-crop", "size": size, "crop_fraction": min(size) / shorter,
        "u8": out.transpose(2, 0, 1).reshape(-1).tolist(),
    })

with open("resize_golden.json", "w") as fp:
    json.dump({"pillow": Image.__version__, "torchvision": torchvision.__version__, "inputs": inputs, "cases": cases}, fp)

cmyk = np.zeros((8, 16, 4), dtype=np.uint8)
cmyk[:, :8] = (0, 255, 255, 0)
cmyk[:, 8:] = (0, 0, 0, 128)
Image.fromarray(cmyk, "CMYK").save("cmyk.jpg", quality=95)

la = np.zeros((3, 4, 2), dtype=np.uint8)
for y in range(3):
    for x in range(4):
        la[y, x] = (40 * x + 10 * y, 85 * y)
Image.fromarray(la, "LA").save("gray_alpha.png")

wp = np.zeros((4, 5, 3), dtype=np.uint8)
for y in range(4):
    for x in range(5):
        wp[y, x] = (16 * x, 16 * y, 128)
Image.fromarray(wp, "RGB").save("lossless.webp", lossless=True)
