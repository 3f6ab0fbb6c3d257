#!/usr/bin/python3
"""PyTorch reference timings for `make bench`.

Times, on the CPU with torch.set_num_threads(2) (default) and batch 1:
  forward           the eval-mode forward pass under torch.no_grad()
  forward_backward  the forward pass plus the gradient of the top logit with
                    respect to the input (parameters frozen, so no weight
                    gradients are computed: the work a saliency map needs)
for torchvision resnet18 and mobilenet_v2 (random weights, 3x224x224) and the
MLPerf Tiny ResNet-8 for CIFAR-10 (3x32x32). BatchNorm is folded into the
convolutions by default, as it is in the ONNX exports the Go engine runs.

Prints one JSON object on stdout; times are the median over --runs runs after
--warmup warm-up runs, in milliseconds.

Debian's PyTorch takes its BLAS from the libblas.so.3 alternative, which is the
slow reference BLAS unless an optimised one (OpenBLAS) is installed; PyTorch
sends small batch-1 convolutions (e.g. MobileNetV2's late 1x1 layers, all of
ResNet-8) through im2col + BLAS, so their times depend on it. The JSON records
the BLAS library that was loaded.

Run with Debian's PyTorch: /usr/bin/python3 scripts/torch_bench.py
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torchvision


class BasicBlock(nn.Module):
    """MLPerf Tiny ResNet-8 block: 3x3 conv, ReLU, 3x3 conv, add, ReLU; a 1x1
    convolution on the shortcut when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0)
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.relu(y + s)


class ResNet8(nn.Module):
    """ResNet-8 of MLPerf Tiny image classification: a 16-channel stem and
    three stages of one basic block each (16, 32, 64 channels), global
    average pooling, a 10-way linear layer; input 3x32x32."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 1, 1)
        self.bn = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.stage1 = BasicBlock(16, 16, 1)
        self.stage2 = BasicBlock(16, 32, 2)
        self.stage3 = BasicBlock(32, 64, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(x)))
        x = self.stage3(self.stage2(self.stage1(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), (1, 3, 224, 224)),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), (1, 3, 224, 224)),
    "resnet8": (lambda: ResNet8(), (1, 3, 32, 32)),
}


def fold_batchnorm(model):
    try:
        from torch.fx.experimental.optimization import fuse
    except ImportError:
        return model, False
    try:
        return fuse(model), True
    except Exception:  # tracing can fail on exotic models; time them unfused
        return model, False


def loaded_blas():
    """Paths of the BLAS libraries mapped into this process."""
    found = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                base = path.rsplit("/", 1)[-1]
                if "blas" in base and ".so" in base:
                    found.add(path)
    except OSError:
        pass
    return sorted(found)


def median_ms(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def bench(name, warmup, runs, fold):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make().eval()
    folded = False
    if fold:
        model, folded = fold_batchnorm(model)
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(*shape)

    def forward():
        with torch.no_grad():
            model(x)

    def forward_backward():
        xi = x.clone().requires_grad_(True)
        out = model(xi)
        top = out[0].argmax()
        (g,) = torch.autograd.grad(out[0, top], xi)
        return g

    return {
        "input": list(shape),
        "bn_folded": folded,
        "forward_ms": round(median_ms(forward, warmup, runs), 4),
        "forward_backward_ms": round(median_ms(forward_backward, warmup, runs), 4),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--models", default=",".join(MODELS),
                    help="comma-separated subset of " + ",".join(MODELS))
    ap.add_argument("--no-fold", action="store_true",
                    help="keep BatchNorm layers instead of folding them into convolutions")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    names = [m for m in args.models.split(",") if m]
    for m in names:
        if m not in MODELS:
            ap.error("unknown model %r" % m)
    result = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
        "warmup": args.warmup,
        "runs": args.runs,
        "statistic": "median",
        "models": {m: bench(m, args.warmup, args.runs, not args.no_fold) for m in names},
    }
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
