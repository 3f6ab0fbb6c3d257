#!/usr/bin/python3
"""Combines the benchmark outputs of scripts/bench.sh into a Markdown report."""
import json
import os
import platform
import re
import sys

out = sys.argv[1]


def parse(path):
    """Returns {benchmark name without -P suffix: ms/op} from go test -bench output, the median where the
    benchmark reports one (median-ms), and {name/what: ms} for every other metric reported as what-ms."""
    res = {}
    if not os.path.exists(path):
        return res
    for line in open(path):
        m = re.match(r"^(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$", line)
        if m:
            ms = float(m.group(3)) / 1e6
            med = re.search(r"([\d.]+) median-ms", m.group(4))
            res[m.group(1)] = float(med.group(1)) if med else ms
            for v, what in re.findall(r"([\d.]+) (\S+)-ms", m.group(4)):
                if what != "median":
                    res[f"{m.group(1)}/{what}"] = float(v)
            paired = re.search(r"([\d.]+) iom-per-forward", m.group(4))
            if paired:
                res[f"{m.group(1)}/iom-per-forward"] = float(paired.group(1))
    return res


go = parse(os.path.join(out, "go.txt"))
ort = parse(os.path.join(out, "ort.txt"))
cam = parse(os.path.join(out, "cam.txt"))
torch = json.load(open(os.path.join(out, "torch.json")))["models"]

models = [("ResNet18", "resnet18", "resnet18"), ("MobileNetV2", "mobilenet_v2_1.0_224_quant", "mobilenet_v2"),
          ("ResNet8", "cifar10_resnet8_mlperf_tiny", "resnet8")]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
print(f"Machine: {cpu}, {os.cpu_count()} cores. Batch 1, latency in ms (medians; paneonnx's four columns interleaved;"
      " the paired ratio is the median of each iteration's explain over its own forward).\n")
print("| model | paneonnx forward | ONNX Runtime forward | forward ratio | PyTorch forward | paneonnx explain (iom) | explain / own forward | paired | PyTorch forward+backward | explain / PyTorch f+b | paneonnx grad | paneonnx full PANE |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")


def f(v):
    return "—" if v is None else f"{v:.2f}"


def r(a, b):
    return "—" if a is None or b is None else f"{a / b:.2f}×"


for name, ortname, tname in models:
    fwd = go.get(f"BenchmarkExplain/{name}/forward")
    exc = go.get(f"BenchmarkExplain/{name}/iom")
    grad = go.get(f"BenchmarkExplain/{name}/grad")
    full = go.get(f"BenchmarkExplain/{name}/full")
    o = ort.get(f"BenchmarkORT/{ortname}") or ort.get(f"BenchmarkORT/{ortname.split('_full')[0]}")
    if name == "ResNet18":
        o = ort.get("BenchmarkORT/resnet18")
    t = torch.get(tname, {})
    tf, tfb = t.get("forward_ms"), t.get("forward_backward_ms")
    paired = go.get(f"BenchmarkExplain/{name}/iom-per-forward")
    pr = "—" if paired is None else f"{paired:.2f}×"
    print(f"| {name} | {f(fwd)} | {f(o)} | {r(fwd, o)} | {f(tf)} | {f(exc)} | {r(exc, fwd)} | {pr} | {f(tfb)} | {r(exc, tfb)} | {f(grad)} | {f(full)} |")

if cam:
    print("\nCAM baselines, ms per image (forward pass included):\n")
    names = sorted({k.split("/")[2] for k in cam if k.count("/") >= 2})
    mods = sorted({k.split("/")[1] for k in cam if k.count("/") >= 2})
    print("| method | " + " | ".join(mods) + " |")
    print("|---|" + "---|" * len(mods))
    for n in names:
        print(f"| {n} | " + " | ".join(f(cam.get(f"BenchmarkCAM/{m}/{n}")) for m in mods) + " |")
