#!/usr/bin/python3
"""Writes the reference files that render tests compare against.

Run from this folder with Debian's python3 (python3-opencv, python3-numpy):
/usr/bin/python3 make_golden.py

- jet_lut.json: cv2.applyColorMap(k, COLORMAP_JET) for k = 0..255, as RGB.
- jet_overlay.json: a small mask and photo and what pytorch-grad-cam's
  show_cam_on_image(photo, mask, use_rgb=True) makes of them (its code is
  short and restated below, with cv2 doing the colour mapping).
- npy/*.npy: numpy.save of float32 arrays with value i·0.25 − 1 at flat
  index i, one file per shape.
"""
import json

import cv2
import numpy as np

lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8).reshape(1, 256), cv2.COLORMAP_JET)[0]
with open("jet_lut.json", "w") as fp:
    json.dump({"opencv": cv2.__version__, "rgb": lut[:, ::-1].tolist()}, fp)


def show_cam_on_image(img, mask, use_rgb=False, colormap=cv2.COLORMAP_JET, image_weight=0.5):
    heatmap = cv2.applyColorMap(np.uint8(255 * mask), colormap)
    if use_rgb:
        heatmap = cv2.cvtColor(heatmap, cv2.COLOR_BGR2RGB)
    heatmap = np.float32(heatmap) / 255
    if np.max(img) > 1:
        raise Exception("The input image should np.float32 in the range [0, 1]")
    cam = (1 - image_weight) * heatmap + image_weight * img
    cam = cam / np.max(cam)
    return np.uint8(255 * cam)


h, w = 6, 9
ys, xs = np.mgrid[0:h, 0:w]
mask = (((xs * 7 + ys * 3) % 50).astype(np.float32) / np.float32(49)).astype(np.float32)
mask[0, 0], mask[0, 1] = 1.0, 0.0
photo = np.stack([((xs * 5 + ys * 11) % 256), ((xs * 13 + ys * 2) % 256), ((xs + ys * 29) % 256)], axis=-1)
photo = (photo.astype(np.float32) / np.float32(255)).astype(np.float32)
out = show_cam_on_image(photo, mask, use_rgb=True)
with open("jet_overlay.json", "w") as fp:
    json.dump({
        "h": h, "w": w,
        "mask": [float(v) for v in mask.reshape(-1)],
        "photo": [float(v) for v in photo.transpose(2, 0, 1).reshape(-1)],  # C×H×W
        "out": out.reshape(-1).tolist(),  # H×W×RGB
    }, fp)

for shape in [(2, 3, 4), (5,), (1, 1, 2, 2), (), (0,)]:
    n = int(np.prod(shape))
    a = (np.arange(n, dtype=np.float32) * np.float32(0.25) - np.float32(1)).reshape(shape)
    name = "x".join(str(d) for d in shape) if shape else "scalar"
    np.save(f"npy/{name}.npy", a)
