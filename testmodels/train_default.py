#!/usr/bin/python3
"""Trains the small MNIST CNN that `paneonnx explain` uses when given no
arguments, and writes it with a test digit and its preprocessing sidecar to
testmodels/default/.

Run: /usr/bin/python3 testmodels/train_default.py [--mnist DIR]
DIR holds t10k/train idx files (.gz); by default ../shared/datasets/mnist_t10k.
Only the 10 000-image test set is available offline, so the model trains on
its first 9 000 images and reports accuracy on the last 1 000.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    _, dtype, ndim = struct.unpack(">HBB", data[:4])
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data[4 + 4 * ndim:], dtype=np.uint8).reshape(dims)


class Net(nn.Module):
    """Conv-BN-ReLU-MaxPool twice, then a linear classifier."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", default=os.path.join(HERE, "..", "..", "shared", "datasets", "mnist_t10k"))
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    imgs = read_idx(os.path.join(args.mnist, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255
    labels = read_idx(os.path.join(args.mnist, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    x = torch.from_numpy((imgs - 0.1307) / 0.3081).unsqueeze(1)
    y = torch.from_numpy(labels)
    xtr, ytr, xte, yte = x[:9000], y[:9000], x[9000:], y[9000:]
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = F.cross_entropy(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            acc = (net(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch}: held-out accuracy {acc:.4f}")

    out = os.path.join(HERE, "default")
    os.makedirs(out, exist_ok=True)
    net.eval()
    torch.onnx.export(net, xte[:1], os.path.join(out, "model.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    with open(os.path.join(out, "model.preprocess.json"), "w") as f:
        json.dump({"preset": "mnist"}, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("".join(f"{d}\n" for d in range(10)))
    # A held-out digit the model classifies correctly, as an 8-bit PNG.
    from PIL import Image
    with torch.no_grad():
        pred = net(xte).argmax(1)
    k = next(i for i in range(len(xte)) if pred[i] == yte[i] and yte[i] == 7)
    Image.fromarray((imgs[9000 + k] * 255).round().astype(np.uint8)).save(os.path.join(out, "digit.png"))
    print("wrote", out, "digit label", int(yte[k]), "accuracy", acc)


if __name__ == "__main__":
    main()
