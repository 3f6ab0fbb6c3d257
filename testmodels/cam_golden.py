#!/usr/bin/python3
"""Reference CAM maps for package cam's golden tests.

For a few test models this rebuilds the PyTorch module that export.py
exported (same builder, same seeded weights and test input; checked against
the committed output_0.pb), folds every BatchNorm2d into the Conv2d right
before it where the ONNX exporter did (FullGrad depends on which biases
exist; BatchNorm2d after a ReLU, a pool or on the input stays),
and computes the eight CAM baselines on test_data_set_0's input with
target = argmax, in float64, following pytorch-grad-cam's semantics (its
formulas are reimplemented here, it is not a dependency):

  * BaseCAM: cam = ReLU(sum_k w_k A_k); scale_cam_image: per image
    x - min, / (1e-7 + max), then cv2.resize(np.float32(x), (W, H)) with the
    default INTER_LINEAR; aggregate_multi_layers: ReLU, mean over the one
    layer, scale_cam_image again;
  * GradCAM, GradCAMPlusPlus, XGradCAM, LayerCAM: their get_cam_weights /
    get_cam_image;
  * EigenCAM: get_2d_projection, plus paneonnx's sign rule (the
    largest-magnitude value, first in row-major order, made positive);
  * ScoreCAM: UpsamplingBilinear2d (align_corners=True), (u - min) /
    (max - min + 1e-8), batches of 16 masked inputs, softmax of the target
    logits;
  * AblationCAM: AblationLayer in batches of 32, w = (y - y_k) / y, with
    one ablation value per image, min(A) - 1e7 when min(A) != 0 (SPEC 7.1).
    AblationLayer itself re-reads min() on the partly ablated batch, so its
    i-th copy gets min(A) - (i+1)*1e7; that accident of its implementation
    is computed too and its distance to the golden recorded in meta.json
    (ablationcam_cascade_max_diff: 0 when min(A) = 0 or a ReLU follows the
    layer; large when a linear path leads to the logits, as after
    bn_standalone's bn3);
  * FullGrad: every Conv2d / BatchNorm2d with a bias,
    scale_accross_batch_and_channels, channel sums, final scale_cam_image.

Activations and gradients are read at the module outputs with forward hooks
that hand a clone downstream (so in-place operations after the layer, such as
`out += identity` in BasicBlock, cannot alter them) and torch.autograd.grad;
every ReLU runs out of place.

Writes, per model, testmodels/<model>/cam_golden/:
  <rule>_<method>.pb      float32 [N, H, W]: the final map (rule: "default"
                          or "penultimate-conv")
  <rule>_<method>_raw.pb  float32 [N, h, w]: the cam after the ReLU, before
                          any scaling (not for fullgrad)
  meta.json               targets, layers, versions, notes

Usage: /usr/bin/python3 testmodels/cam_golden.py
"""

import json
import os
import sys

import cv2
import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import export  # noqa: E402  (the builders of the test models)

LAYER_METHODS = ["gradcam", "gradcam++", "scorecam", "ablationcam", "xgradcam", "eigencam", "layercam"]


def mobilenet_penultimate(m):
    return m.features[-2].conv[-2]


def vgg_penultimate(m):
    return [c for c in m.features if isinstance(c, nn.Conv2d)][-2]


# model folder -> (architecture key, default target module, the penultimate
# convolution (the paper's choice), the methods to run on it, and the
# (Conv2d, BatchNorm2d) attribute pairs to fold, None for every adjacent pair)
MODELS = {
    "resnet_basic_op13": ("resnet_basic", lambda m: m.layer4[-1],
                          lambda m: m.layer4[-1].conv1, ["gradcam", "ablationcam"], None),
    "vgg_bn_op13": ("vgg_bn", lambda m: m.features[-1], vgg_penultimate, LAYER_METHODS, None),
    "mobilenet_v2_op13": ("mobilenet_v2", lambda m: m.features[-1], mobilenet_penultimate,
                          ["gradcam", "ablationcam"], None),
    # BatchNorm2d on the input, after a ReLU and after a max pool stays (FullGrad
    # takes their biases); only conv2 + bn2 fold.
    "bn_standalone_op13": ("bn_standalone", lambda m: m.bn3, lambda m: m.conv1,
                           ["gradcam", "ablationcam"], [("conv2", "bn2")]),
}


def read_pb(path):
    from onnx import TensorProto
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def write_pb(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name).SerializeToString())


def fold_batchnorm(model, pairs=None):
    """Folds BatchNorm2d into the Conv2d before it, leaving nn.Identity in
    its place: the named (conv, bn) attributes of the model, or with pairs
    None every BatchNorm2d that directly follows a Conv2d among a module's
    children (definition order is execution order in the models that use
    it; the output check in run_model catches a wrong fold)."""
    for parent in list(model.modules()) if pairs is None else [model]:
        names = list(parent._modules.keys())
        for a, b in pairs or zip(names, names[1:]):
            conv, bn = parent._modules[a], parent._modules[b]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                parent._modules[a] = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
                parent._modules[b] = nn.Identity()
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    return model


class Capture:
    """Forward hooks that keep a module's output and pass a clone on."""

    def __init__(self, modules):
        self.out = {}
        self.handles = [m.register_forward_hook(self._hook(i)) for i, m in enumerate(modules)]

    def _hook(self, i):
        def hook(mod, inp, out):
            self.out[i] = out
            return out.clone()
        return hook

    def remove(self):
        for h in self.handles:
            h.remove()


# --- pytorch-grad-cam's pipeline -------------------------------------------


def scale_cam_image(cam, target_size=None):
    result = []
    for img in cam:
        img = img - np.min(img)
        img = img / (1e-7 + np.max(img))
        if target_size is not None:
            img = cv2.resize(np.float32(img), target_size)
        result.append(img)
    return np.float32(result)


def scale_accross_batch_and_channels(tensor, target_size):
    b, c = tensor.shape[:2]
    result = scale_cam_image(tensor.reshape(b * c, *tensor.shape[2:]), target_size)
    return result.reshape(b, c, target_size[1], target_size[0])


def finish(cam, size):
    """compute_cam_per_layer after get_cam_image, and aggregate_multi_layers,
    for one target layer. Returns (final maps, cam after the ReLU)."""
    cam = np.maximum(cam, 0)
    scaled = scale_cam_image(cam, size)[:, None, :]
    agg = np.mean(np.maximum(scaled, 0), axis=1)
    return scale_cam_image(agg), cam


def weighted(weights, a):
    return (weights[:, :, None, None] * a).sum(axis=1)


def gradcam(a, g):
    return weighted(np.mean(g, axis=(2, 3)), a)


def gradcam_pp(a, g):
    g2 = g ** 2
    g3 = g2 * g
    sum_a = np.sum(a, axis=(2, 3))
    aij = g2 / (2 * g2 + sum_a[:, :, None, None] * g3 + 0.000001)
    aij = np.where(g != 0, aij, 0)
    return weighted(np.sum(np.maximum(g, 0) * aij, axis=(2, 3)), a)


def xgradcam(a, g):
    sum_a = np.sum(a, axis=(2, 3))
    return weighted((g * a / (sum_a[:, :, None, None] + 1e-7)).sum(axis=(2, 3)), a)


def layercam(a, g):
    return (np.maximum(g, 0) * a).sum(axis=1)


def eigencam(a):
    out = []
    for act in a:
        x = act.reshape(act.shape[0], -1).transpose()
        x = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(x, full_matrices=True)
        proj = x @ vt[0, :]
        if proj[np.argmax(np.abs(proj))] < 0:
            proj = -proj
        out.append(proj.reshape(act.shape[1:]))
    return np.array(out)


def scorecam(model, x, a, targets, batch=16):
    with torch.no_grad():
        up = nn.UpsamplingBilinear2d(size=x.shape[-2:])(torch.from_numpy(a))
        flat = up.view(up.size(0), up.size(1), -1)
        maxs, mins = flat.max(dim=-1)[0][:, :, None, None], flat.min(dim=-1)[0][:, :, None, None]
        up = (up - mins) / (maxs - mins + 1e-8)
        inputs = x[:, None] * up[:, :, None]
        scores = []
        for t, tensor in zip(targets, inputs):
            for i in range(0, tensor.size(0), batch):
                scores.extend(float(o[t]) for o in model(tensor[i:i + batch]))
        scores = torch.tensor(scores, dtype=torch.float64).view(a.shape[0], a.shape[1])
        w = torch.softmax(scores, dim=-1).numpy()
    return weighted(w, a)


def ablationcam(model, layer, x, a, targets, cascade, batch=32):
    """AblationCAM with AblationLayer: the target module's output is replaced
    by batches of ablated copies. With cascade, min() is re-read on the
    partly ablated batch as AblationLayer.__call__ does, so the i-th copy of
    a batch gets min(A) - (i+1)*1e7 when min(A) != 0; without, every copy
    gets min(A) - 1e7 (SPEC 7.1, paneonnx's rule)."""
    state = {}

    def hook(mod, inp, out):
        act = state["act"]
        lo = torch.min(act)
        for i in range(act.size(0)):
            if cascade:
                lo = torch.min(act)
            if lo == 0:
                act[i, state["idx"][i], :] = 0
            else:
                act[i, state["idx"][i], :] = lo - 1e7
        return act

    with torch.no_grad():
        original = np.array([float(o[t]) for o, t in zip(model(x), targets)])
        h = layer.register_forward_hook(hook)
        k = a.shape[1]
        new = np.zeros(a.shape[:2])
        for n in range(a.shape[0]):
            for i in range(0, k, batch):
                idx = list(range(i, min(i + batch, k)))
                state["act"] = torch.from_numpy(a[n]).unsqueeze(0).repeat(len(idx), 1, 1, 1).clone()
                state["idx"] = idx
                out = model(x[n:n + 1].repeat(len(idx), 1, 1, 1))
                new[n, idx] = [float(o[targets[n]]) for o in out]
        h.remove()
    w = (original[:, None] - new) / original[:, None]
    return weighted(w, a)


def fullgrad(x, gx, biases, grads):
    size = (x.shape[-1], x.shape[-2])
    terms = [scale_accross_batch_and_channels(np.abs(gx * x), size)]
    for b, g in zip(biases, grads):
        r = scale_accross_batch_and_channels(np.abs(b[None, :, None, None] * g), size)
        terms.append(np.sum(r, axis=1)[:, None, :])
    cam = np.sum(np.concatenate(terms, axis=1), axis=1)[:, None, :]
    return scale_cam_image(np.sum(cam, axis=1))


def bias_of(m):
    if isinstance(m, nn.BatchNorm2d):
        return (-(m.running_mean * m.weight / torch.sqrt(m.running_var + m.eps)) + m.bias).detach().numpy()
    return m.bias.detach().numpy()


# --- driver -----------------------------------------------------------------


def run_model(folder, key, default_fn, penult_fn, penult_methods, pairs):
    mdir = os.path.join(HERE, folder)
    tdir = os.path.join(mdir, "test_data_set_0")
    model, xin = export.build_model(key, export.ARCHS[key])
    x32 = read_pb(os.path.join(tdir, "input_0.pb"))
    if not np.array_equal(xin.numpy(), x32):
        raise RuntimeError(f"{folder}: the rebuilt test input differs from input_0.pb")
    model = fold_batchnorm(model.eval(), pairs).double().eval()
    x = torch.from_numpy(x32.astype(np.float64))
    with torch.no_grad():
        out = model(x).numpy()
    ref = read_pb(os.path.join(tdir, "output_0.pb"))
    err = np.abs(out - ref).max() / np.abs(ref).max()
    if err > 1e-4:
        raise RuntimeError(f"{folder}: the folded module's output differs from output_0.pb by {err:.3g}")
    targets = [int(t) for t in out.argmax(axis=1)]
    if targets != [int(t) for t in read_pb(os.path.join(tdir, "grad_targets.pb"))]:
        raise RuntimeError(f"{folder}: targets differ from grad_targets.pb")
    kept = sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules())
    exported = sum(n.op_type == "BatchNormalization" for n in onnx.load(os.path.join(mdir, "model.onnx")).graph.node)
    if kept != exported:
        raise RuntimeError(f"{folder}: {kept} BatchNorm modules left, the ONNX file has {exported} BatchNormalization nodes")

    bias_mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) and m.bias is not None]
    layers = {"default": default_fn(model), "penultimate-conv": penult_fn(model)}
    mods = list(layers.values()) + bias_mods
    cap = Capture(mods)
    xg = x.clone().requires_grad_(True)
    logits = model(xg)
    cap.remove()
    loss = sum(logits[n, t] for n, t in enumerate(targets))
    tensors = [cap.out[i] for i in range(len(mods))]
    grads = torch.autograd.grad(loss, [xg] + tensors)
    grads = [g.detach().numpy() for g in grads]
    acts = [t.detach().numpy() for t in tensors]
    size = (x.shape[-1], x.shape[-2])

    gdir = os.path.join(mdir, "cam_golden")
    os.makedirs(gdir, exist_ok=True)
    for f in os.listdir(gdir):
        os.remove(os.path.join(gdir, f))
    written, cascade_diff = {}, {}
    for i, (rule, layer) in enumerate(layers.items()):
        a, g = acts[i], grads[1 + i]
        methods = LAYER_METHODS if rule == "default" else penult_methods
        for name in methods:
            if name == "gradcam":
                cam = gradcam(a, g)
            elif name == "gradcam++":
                cam = gradcam_pp(a, g)
            elif name == "xgradcam":
                cam = xgradcam(a, g)
            elif name == "layercam":
                cam = layercam(a, g)
            elif name == "eigencam":
                cam = eigencam(a)
            elif name == "scorecam":
                cam = scorecam(model, x, a, targets)
            elif name == "ablationcam":
                cam = ablationcam(model, layer, x, a, targets, cascade=False)
                quirk, _ = finish(ablationcam(model, layer, x, a, targets, cascade=True), size)
            final, raw = finish(cam, size)
            if name == "ablationcam":
                cascade_diff[rule] = float(np.abs(quirk - final).max())
            write_pb(os.path.join(gdir, f"{rule}_{name}.pb"), final, f"{rule}_{name}")
            write_pb(os.path.join(gdir, f"{rule}_{name}_raw.pb"), raw, f"{rule}_{name}_raw")
            written.setdefault(rule, []).append(name)
            print(f"{folder:20s} {rule:16s} {name:12s} layer {tuple(a.shape[1:])}")
    nb = len(layers)
    fg = fullgrad(x.numpy(), grads[0], [bias_of(m) for m in bias_mods], grads[1 + nb:])
    write_pb(os.path.join(gdir, "default_fullgrad.pb"), fg, "default_fullgrad")
    written["default"].append("fullgrad")
    print(f"{folder:20s} default          fullgrad     {len(bias_mods)} bias layers")

    meta = {
        "model": folder,
        "targets": targets,
        "methods": written,
        "layers": {rule: type(m).__name__ for rule, m in layers.items()},
        "fullgrad_bias_layers": len(bias_mods),
        "ablationcam_cascade_max_diff": cascade_diff,
        "module_output_rel_err": float(err),
        "notes": "float64 module with BatchNorm folded into the preceding Conv2d; pytorch-grad-cam semantics "
                 "reimplemented (see cam_golden.py); final maps [N,H,W], raw cams [N,h,w] after the ReLU",
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "opencv_version": cv2.__version__,
        "numpy_version": np.__version__,
    }
    with open(os.path.join(gdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    torch.set_num_threads(1)
    for folder, spec in MODELS.items():
        run_model(folder, *spec)
    total = 0
    for folder in MODELS:
        gdir = os.path.join(HERE, folder, "cam_golden")
        total += sum(os.path.getsize(os.path.join(gdir, f)) for f in os.listdir(gdir))
    print(f"{total} bytes of goldens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
