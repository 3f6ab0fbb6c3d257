#!/usr/bin/python3
"""Verify the exported test models against their own ONNX files.

For every <root>/<name>/model.onnx (default root: the testmodels folder):

 1. onnx.checker.check_model on the file path (full_check: also shape
    inference; external data is resolved next to the model);
 2. the layout and meta.json agree with the file: input "input" and output
    "output" with a symbolic batch axis, the opset in meta.json is the
    model's default-domain opset, the test tensors have the right names,
    dtypes and shapes;
 3. the reference outputs in test_data_set_0/output_0.pb (written from the
    PyTorch module) are reproduced from the ONNX file alone, by an
    independent evaluator, within 1e-4 relative (max |diff| / max |ref|):
      - onnx.reference.ReferenceEvaluator when the installed onnx has it
        (onnx >= 1.13), and
      - always, the small NumPy evaluator in this file (it implements the
        operators the test models use, with per-opset attribute/input
        conventions), also at batch 1 to exercise the dynamic batch axis;
 4. the gradient golden grad_input_0.pb is checked against the ONNX file:
    the NumPy evaluator runs the model in float64 and central finite
    differences of f(x) = sum_n output[n, t_n] (t = grad_targets.pb) along
    the golden direction and two random unit directions d must match
    <grad, d> within 1e-3 * |grad|, and along 64 single input elements
    (half the largest |grad|, half random) within 1e-3 * max|grad| (best of
    central and one-sided differences at steps 1e-5 and 1e-6, to step over
    ReLU/max-pool kinks).

Usage:
  /usr/bin/python3 testmodels/verify.py                        # committed models
  /usr/bin/python3 testmodels/verify.py --root testmodels/cache  # full-size exports
  /usr/bin/python3 testmodels/verify.py --only resnet --no-fd

Exit status 0 when every model passes, 1 otherwise.
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FWD_TOL = 1e-4
FD_TOL = 1e-3

try:
    from onnx.reference import ReferenceEvaluator  # onnx >= 1.13
except ImportError:  # pragma: no cover - depends on the installed onnx
    ReferenceEvaluator = None


# ---------------------------------------------------------------------------
# A small NumPy ONNX evaluator (inference, default domain)
# ---------------------------------------------------------------------------


class Unsupported(Exception):
    pass


def _attrs(node):
    out = {}
    for a in node.attribute:
        out[a.name] = onnx.helper.get_attribute_value(a)
    return out


def _pads2d(attrs, spatial_in, kernel, strides, dilations):
    """Begin/end pads per spatial axis from pads or auto_pad."""
    nd = len(spatial_in)
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        pads = list(attrs.get("pads", [0] * (2 * nd)))
        return pads[:nd], pads[nd:]
    if auto == "VALID":
        return [0] * nd, [0] * nd
    begin, end = [], []
    for i in range(nd):
        out = -(-spatial_in[i] // strides[i])
        total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial_in[i])
        small, big = total // 2, total - total // 2
        if auto == "SAME_UPPER":
            begin.append(small)
            end.append(big)
        else:
            begin.append(big)
            end.append(small)
    return begin, end


def _windows(xp, ekernel, strides, dilations, out_sizes):
    """Sliding windows over the last two axes of a padded array:
    result [..., OH, OW, kh, kw]."""
    from numpy.lib.stride_tricks import sliding_window_view

    w = sliding_window_view(xp, tuple(ekernel), axis=(-2, -1))
    w = w[..., :: strides[0], :: strides[1], :: dilations[0], :: dilations[1]]
    return w[..., : out_sizes[0], : out_sizes[1], :, :]


def op_conv(x, w, b, a):
    if x.ndim != 4:
        raise Unsupported("Conv: only 2-D convolutions")
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    strides = list(a.get("strides", [1, 1]))
    dil = list(a.get("dilations", [1, 1]))
    group = a.get("group", 1)
    pb, pe = _pads2d(a, [h, wd], [kh, kw], strides, dil)
    xp = np.pad(x, ((0, 0), (0, 0), (pb[0], pe[0]), (pb[1], pe[1])))
    ek = [(kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1]
    oh = (xp.shape[2] - ek[0]) // strides[0] + 1
    ow = (xp.shape[3] - ek[1]) // strides[1] + 1
    win = _windows(xp, ek, strides, dil, [oh, ow])  # n, c, oh, ow, kh, kw
    win = win.reshape(n, group, cg, oh, ow, kh, kw)
    wg = w.reshape(group, m // group, cg, kh, kw)
    y = np.einsum("ngcijkl,gmckl->ngmij", win, wg, optimize=True).reshape(n, m, oh, ow)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(x.dtype, copy=False)


def _pool(x, a, kind, opset):
    if x.ndim != 4:
        raise Unsupported("pooling: only 2-D")
    n, c, h, w = x.shape
    k = list(a["kernel_shape"])
    s = list(a.get("strides", [1, 1]))
    d = list(a.get("dilations", [1, 1]))
    ceil = a.get("ceil_mode", 0)
    pb, pe = _pads2d(a, [h, w], k, s, d)
    ek = [(k[i] - 1) * d[i] + 1 for i in range(2)]
    size = [h, w]
    outs, extra = [], []
    for i in range(2):
        span = size[i] + pb[i] + pe[i] - ek[i]
        o = (-(-span // s[i]) if ceil else span // s[i]) + 1
        if ceil and (o - 1) * s[i] >= size[i] + pb[i]:
            o -= 1  # the last window must start inside the input or the left padding
        outs.append(o)
        extra.append(max(0, (o - 1) * s[i] + ek[i] - (size[i] + pb[i] + pe[i])))
    padw = ((0, 0), (0, 0), (pb[0], pe[0] + extra[0]), (pb[1], pe[1] + extra[1]))
    if kind == "max":
        xp = np.pad(x, padw, constant_values=-np.inf)
        return _windows(xp, ek, s, d, outs).max(axis=(-2, -1)).astype(x.dtype, copy=False)
    xp = np.pad(x, padw)
    total = _windows(xp, ek, s, d, outs).sum(axis=(-2, -1))
    if a.get("count_include_pad", 0):
        ones = np.pad(np.ones((1, 1, h + pb[0] + pe[0], w + pb[1] + pe[1]), x.dtype),
                      ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))
    else:
        ones = np.pad(np.ones((1, 1, h, w), x.dtype), padw)
    count = _windows(ones, ek, s, d, outs).sum(axis=(-2, -1))
    return (total / count).astype(x.dtype, copy=False)


def _axes_arg(node, a, inputs, opset, pos, since):
    """Axes from an attribute (opset < since) or an optional input."""
    if opset >= since:
        if len(inputs) > pos and inputs[pos] is not None:
            return [int(v) for v in np.asarray(inputs[pos]).reshape(-1)]
        return None
    v = a.get("axes")
    return None if v is None else list(v)


def _softmax(x, a, opset, log):
    if opset < 13:
        axis = a.get("axis", 1)
        axis = axis % x.ndim
        shp = x.shape
        x2 = x.reshape(int(np.prod(shp[:axis])), -1)
        m = x2 - x2.max(axis=1, keepdims=True)
        e = np.exp(m)
        r = m - np.log(e.sum(axis=1, keepdims=True)) if log else e / e.sum(axis=1, keepdims=True)
        return r.reshape(shp)
    axis = a.get("axis", -1)
    m = x - x.max(axis=axis, keepdims=True)
    e = np.exp(m)
    return m - np.log(e.sum(axis=axis, keepdims=True)) if log else e / e.sum(axis=axis, keepdims=True)


def _reduce(x, axes, keep, fn):
    if axes is None:
        axes = list(range(x.ndim))
    return fn(x, axis=tuple(int(v) % x.ndim for v in axes), keepdims=bool(keep))


def _tensor_dtype(elem_type, fdtype):
    if elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16):
        return fdtype
    return onnx.helper.tensor_dtype_to_np_dtype(elem_type) if hasattr(onnx.helper, "tensor_dtype_to_np_dtype") \
        else onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type]


def _cast_float(arr, fdtype):
    arr = np.asarray(arr)
    if arr.dtype.kind == "f":
        return arr.astype(fdtype)
    return arr


def run_node(node, ins, opset, fdtype):
    t = node.op_type
    a = _attrs(node)
    x = ins[0] if ins else None
    if t == "Conv":
        return [op_conv(x, ins[1], ins[2] if len(ins) > 2 else None, a)]
    if t == "Gemm":
        A = ins[0].T if a.get("transA", 0) else ins[0]
        B = ins[1].T if a.get("transB", 0) else ins[1]
        y = a.get("alpha", 1.0) * (A @ B)
        if len(ins) > 2 and ins[2] is not None:
            y = y + a.get("beta", 1.0) * ins[2]
        return [y.astype(fdtype, copy=False)]
    if t == "MatMul":
        return [np.matmul(ins[0], ins[1])]
    if t == "BatchNormalization":
        if a.get("training_mode", 0):
            raise Unsupported("BatchNormalization training_mode=1")
        scale, bias, mean, var = ins[1:5]
        shp = (1, -1) + (1,) * (x.ndim - 2)
        eps = a.get("epsilon", 1e-5)
        y = (x - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + eps) * scale.reshape(shp) + bias.reshape(shp)
        return [y.astype(fdtype, copy=False)]
    if t == "Relu":
        return [np.maximum(x, 0)]
    if t == "LeakyRelu":
        return [np.where(x >= 0, x, x * a.get("alpha", 0.01)).astype(x.dtype)]
    if t == "PRelu":
        return [np.where(x >= 0, x, x * ins[1]).astype(x.dtype)]
    if t == "Clip":
        if opset < 11:
            lo, hi = a.get("min", -np.inf), a.get("max", np.inf)
        else:
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
        return [np.clip(x, lo, hi).astype(x.dtype)]
    if t == "Sigmoid":
        return [(1.0 / (1.0 + np.exp(-x))).astype(x.dtype)]
    if t == "Tanh":
        return [np.tanh(x)]
    if t == "HardSigmoid":
        return [np.clip(a.get("alpha", 0.2) * x + a.get("beta", 0.5), 0, 1).astype(x.dtype)]
    if t == "HardSwish":
        return [(x * np.clip(x / 6.0 + 0.5, 0, 1)).astype(x.dtype)]
    if t == "Erf":
        return [np.vectorize(math.erf, otypes=[x.dtype])(x)]
    if t in ("Softmax", "LogSoftmax"):
        return [_softmax(x, a, opset, t == "LogSoftmax").astype(x.dtype)]
    if t == "MaxPool":
        if len(node.output) > 1 and node.output[1]:
            raise Unsupported("MaxPool with indices")
        return [_pool(x, a, "max", opset)]
    if t == "AveragePool":
        return [_pool(x, a, "avg", opset)]
    if t == "GlobalAveragePool":
        return [x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if t == "GlobalMaxPool":
        return [x.max(axis=tuple(range(2, x.ndim)), keepdims=True)]
    if t == "Flatten":
        axis = a.get("axis", 1) % max(x.ndim, 1)
        return [x.reshape(int(np.prod(x.shape[:axis])), -1)]
    if t == "Reshape":
        shape = [int(v) for v in ins[1]]
        if not a.get("allowzero", 0):
            shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return [x.reshape(shape)]
    if t == "Squeeze":
        axes = _axes_arg(node, a, ins, opset, 1, 13)
        if axes is None:
            return [np.squeeze(x)]
        return [np.squeeze(x, axis=tuple(v % x.ndim for v in axes))]
    if t == "Unsqueeze":
        axes = _axes_arg(node, a, ins, opset, 1, 13)
        r = x.ndim + len(axes)
        y = x
        for v in sorted(v % r for v in axes):
            y = np.expand_dims(y, v)
        return [y]
    if t == "Transpose":
        perm = a.get("perm")
        return [np.transpose(x, perm)]
    if t == "Concat":
        return [np.concatenate(ins, axis=a["axis"])]
    if t == "Split":
        axis = a.get("axis", 0) % x.ndim
        if opset >= 13:
            split = [int(v) for v in ins[1]] if len(ins) > 1 and ins[1] is not None else None
        else:
            split = a.get("split")
        nout = len(node.output)
        if split is None:
            num = a.get("num_outputs", nout)
            step = -(-x.shape[axis] // num)
            split = [min(step, x.shape[axis] - i * step) for i in range(num)]
        idx = np.cumsum(split)[:-1]
        return list(np.split(x, idx, axis=axis))
    if t == "Slice":
        if opset < 10:
            starts, ends = list(a["starts"]), list(a["ends"])
            axes = list(a.get("axes", range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts, ends = [int(v) for v in ins[1]], [int(v) for v in ins[2]]
            axes = [int(v) for v in ins[3]] if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
            steps = [int(v) for v in ins[4]] if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
        sl = [slice(None)] * x.ndim
        for st, en, ax, sp in zip(starts, ends, axes, steps):
            dim = x.shape[ax]
            # clamp as ONNX does (numpy slicing clamps too, except huge negatives with negative steps)
            if sp < 0:
                st = max(min(st if st >= 0 else st + dim, dim - 1), -1)
                en = en if en >= 0 else en + dim
                en = max(en, -1)
                sl[ax] = slice(st, None if en < 0 else en, sp)
            else:
                sl[ax] = slice(st, en, sp)
        return [x[tuple(sl)]]
    if t == "Pad":
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if opset < 11:
            pads, value = list(a["pads"]), a.get("value", 0.0)
        else:
            pads = [int(v) for v in ins[1]]
            value = ins[2].item() if len(ins) > 2 and ins[2] is not None and np.asarray(ins[2]).size else 0.0
            if len(ins) > 3 and ins[3] is not None:
                raise Unsupported("Pad with axes")
        nd = x.ndim
        pw = [(pads[i], pads[i + nd]) for i in range(nd)]
        if any(p < 0 for pr in pw for p in pr):
            raise Unsupported("Pad with negative pads")
        if mode == "constant":
            return [np.pad(x, pw, constant_values=value)]
        return [np.pad(x, pw, mode={"reflect": "reflect", "edge": "edge"}[mode])]
    if t in ("Add", "Sub", "Mul", "Div"):
        u, v = ins
        if t == "Add":
            return [u + v]
        if t == "Sub":
            return [u - v]
        if t == "Mul":
            return [u * v]
        if u.dtype.kind in "iu":
            q = np.abs(u) // np.abs(v)
            return [(np.sign(u) * np.sign(v) * q).astype(u.dtype)]
        return [u / v]
    if t == "Sum":
        y = ins[0]
        for v in ins[1:]:
            y = y + v
        return [y]
    if t in ("ReduceMean", "ReduceSum"):
        axes = _axes_arg(node, a, ins, opset, 1, 18 if t == "ReduceMean" else 13)
        if axes is None and a.get("noop_with_empty_axes", 0):
            return [x]
        return [_reduce(x, axes, a.get("keepdims", 1), np.mean if t == "ReduceMean" else np.sum).astype(x.dtype)]
    if t in ("Identity", "Dropout"):
        return [x] + ([np.ones(x.shape, bool)] if len(node.output) > 1 and node.output[1] else [])
    if t == "Constant":
        if "value" in a:
            return [_cast_float(numpy_helper.to_array(a["value"]), fdtype)]
        if "value_float" in a:
            return [np.array(a["value_float"], fdtype)]
        if "value_floats" in a:
            return [np.array(a["value_floats"], fdtype)]
        if "value_int" in a:
            return [np.array(a["value_int"], np.int64)]
        if "value_ints" in a:
            return [np.array(a["value_ints"], np.int64)]
        raise Unsupported("Constant without a supported value attribute")
    if t == "Shape":
        shp = np.array(x.shape, np.int64)
        start, end = a.get("start", 0), a.get("end", None)
        return [shp[start:end]]
    if t == "Gather":
        return [np.take(x, ins[1].astype(np.int64), axis=a.get("axis", 0))]
    if t == "Cast":
        return [np.asarray(x).astype(_tensor_dtype(a["to"], fdtype))]
    if t == "ConstantOfShape":
        val = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        val = _cast_float(val, fdtype)
        return [np.full([int(v) for v in x], val.reshape(-1)[0], dtype=val.dtype)]
    if t == "Expand":
        shape = [int(v) for v in ins[1]]
        return [x * np.ones(shape, x.dtype)]
    if t == "Range":
        return [np.arange(ins[0].item(), ins[1].item(), ins[2].item()).astype(ins[0].dtype)]
    raise Unsupported(f"operator {t}")


class NumpyModel:
    """Evaluates an ONNX graph with NumPy in float32 or float64."""

    def __init__(self, model):
        self.model = model
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        for o in model.opset_import:
            if o.domain not in ("", "ai.onnx"):
                raise Unsupported(f"domain {o.domain}")
        self.inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def run(self, feeds, fdtype=np.float32):
        env = {k: _cast_float(v, fdtype) for k, v in self.inits.items()}
        env.update({k: _cast_float(v, fdtype) for k, v in feeds.items()})
        for node in self.model.graph.node:
            ins = [env[n] if n else None for n in node.input]
            outs = run_node(node, ins, self.opset, fdtype)
            for name, val in zip(node.output, outs):
                if name:
                    env[name] = np.asarray(val)
        return [env[o.name] for o in self.model.graph.output]


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t, numpy_helper.to_array(t)


def rel_err(got, ref):
    return float(np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))


def fd_check(nm, xin, targets, grad, n_coords, steps=(1e-5, 1e-6), chunk=32):
    """Finite differences of f(x) = sum_n out[n, t_n] on the ONNX model in
    float64, against the golden gradient g. Directions: g/|g| and two random
    unit vectors (error relative to |g|), plus n_coords single input elements,
    half the largest |g| and half random (error relative to max|g|).

    Piecewise-linear nets have kinks (ReLU, max pool): each estimate is the
    best of the central and the two one-sided differences at two step sizes,
    so a kink that happens to lie within one step does not count as an error.
    Batch items are independent in eval mode, so all perturbed copies of the
    test batch are evaluated as one large batch (in chunks)."""
    x = xin.astype(np.float64)
    g = grad.astype(np.float64)
    nb = x.shape[0]
    gn, gmax = np.linalg.norm(g), np.abs(g).max()
    rng = np.random.default_rng(0)
    dirs = [g / gn] + [v / np.linalg.norm(v) for v in rng.standard_normal((2,) + g.shape)]
    flat = np.abs(g).reshape(-1)
    top = np.argsort(-flat, kind="stable")[: n_coords // 2]
    rnd = rng.choice(flat.size, size=n_coords - len(top), replace=False)
    for i in np.concatenate([top, rnd]).astype(np.int64):
        d = np.zeros(g.size)
        d[i] = 1.0
        dirs.append(d.reshape(g.shape))
    batch = [x]
    for d in dirs:
        for h in steps:
            batch += [x + h * d, x - h * d]
    X = np.concatenate(batch, axis=0)
    outs = []
    for i in range(0, X.shape[0], chunk * nb):
        (o,) = nm.run({"input": X[i:i + chunk * nb]}, np.float64)
        outs.append(o)
    out = np.concatenate(outs, axis=0)
    vals = out[np.arange(out.shape[0]), np.tile(targets, out.shape[0] // nb)].reshape(-1, nb).sum(axis=1)
    f0, k = vals[0], 1
    worst_dir = worst_coord = 0.0
    for j, d in enumerate(dirs):
        gd = float((g * d).sum())
        best = np.inf
        for h in steps:
            fp, fm = vals[k], vals[k + 1]
            k += 2
            for est in ((fp - fm) / (2 * h), (fp - f0) / h, (f0 - fm) / h):
                best = min(best, abs(est - gd))
        if j < 3:
            worst_dir = max(worst_dir, best / gn)
        else:
            worst_coord = max(worst_coord, best / gmax)
    return worst_dir, worst_coord


def verify_one(mdir, do_fd=True, fd_coords=64):
    """Returns (ok, list of messages)."""
    msgs, ok = [], True

    def fail(m):
        nonlocal ok
        ok = False
        msgs.append("FAIL " + m)

    mpath = os.path.join(mdir, "model.onnx")
    onnx.checker.check_model(mpath, full_check=True)
    model = onnx.load(mpath)  # loads external data relative to the model's folder
    with open(os.path.join(mdir, "meta.json")) as f:
        meta = json.load(f)
    nm = NumpyModel(model)
    if nm.opset != meta["opset"]:
        fail(f"opset {nm.opset} != meta {meta['opset']}")
    gi, go = model.graph.input, model.graph.output
    inits = {t.name for t in model.graph.initializer}
    data_inputs = [i for i in gi if i.name not in inits]
    if [i.name for i in data_inputs] != ["input"] or [o.name for o in go] != ["output"]:
        fail("graph inputs/outputs are not exactly 'input' / 'output'")
    dim0 = data_inputs[0].type.tensor_type.shape.dim[0]
    if meta["input_shape"][0] == "N" and dim0.dim_param != "N":
        fail("batch axis of 'input' is not symbolic 'N'")
    if meta.get("external_data") and not os.path.exists(os.path.join(mdir, meta["external_data"])):
        fail("external data file missing")

    tdir = os.path.join(mdir, "test_data_set_0")
    tin, xin = load_pb(os.path.join(tdir, "input_0.pb"))
    tout, yref = load_pb(os.path.join(tdir, "output_0.pb"))
    _, targets = load_pb(os.path.join(tdir, "grad_targets.pb"))
    tg, grad = load_pb(os.path.join(tdir, "grad_input_0.pb"))
    if (tin.name, tout.name, tg.name) != ("input", "output", "grad_input"):
        fail(f"tensor names {tin.name!r} {tout.name!r} {tg.name!r}")
    if xin.dtype != np.float32 or yref.dtype != np.float32 or grad.dtype != np.float32 or targets.dtype != np.int64:
        fail("dtypes")
    if grad.shape != xin.shape or targets.shape != (xin.shape[0],):
        fail("gradient golden shapes")
    if not np.array_equal(targets, yref.argmax(axis=1)):
        fail("grad_targets is not the argmax of output_0")

    # forward with the NumPy evaluator (whole batch, and batch 1)
    (y,) = nm.run({"input": xin})
    e = rel_err(y, yref)
    msgs.append(f"numpy fwd {e:.1e}")
    if not e <= FWD_TOL:
        fail(f"numpy evaluator differs from output_0.pb: {e:.3e}")
    (y1,) = nm.run({"input": xin[:1]})
    e1 = rel_err(y1, yref[:1])
    if not e1 <= FWD_TOL:
        fail(f"numpy evaluator at batch 1 differs: {e1:.3e}")

    if ReferenceEvaluator is not None:
        ref = ReferenceEvaluator(model)
        (yr,) = ref.run(None, {"input": xin})
        er = rel_err(np.asarray(yr), yref)
        msgs.append(f"onnx.reference fwd {er:.1e}")
        if not er <= FWD_TOL:
            fail(f"onnx.reference differs from output_0.pb: {er:.3e}")

    if do_fd:
        worst_dir, worst_coord = fd_check(nm, xin, targets, grad, fd_coords)
        msgs.append(f"fd grad {worst_dir:.1e}/{worst_coord:.1e}")
        if not worst_dir <= FD_TOL:
            fail(f"directional finite differences disagree with grad_input_0.pb: {worst_dir:.3e} of |grad|")
        if not worst_coord <= FD_TOL:
            fail(f"per-element finite differences disagree with grad_input_0.pb: {worst_coord:.3e} of max|grad|")
    return ok, msgs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=HERE)
    ap.add_argument("--only", default=None, help="only models whose name contains this string")
    ap.add_argument("--no-fd", action="store_true", help="skip the finite-difference gradient check")
    ap.add_argument("--fd-coords", type=int, default=64,
                    help="single input elements checked by finite differences (default 64)")
    args = ap.parse_args()
    if ReferenceEvaluator is None:
        print(f"onnx.reference.ReferenceEvaluator is not available in onnx {onnx.__version__} (needs >= 1.13): "
              "skipping it; outputs are checked with the NumPy evaluator in verify.py only")
    names = sorted(d for d in os.listdir(args.root) if os.path.isfile(os.path.join(args.root, d, "model.onnx")))
    # only folders written by export.py (they have meta.json and test data)
    skipped = [d for d in names if not os.path.isfile(os.path.join(args.root, d, "meta.json"))
               or not os.path.isdir(os.path.join(args.root, d, "test_data_set_0"))]
    names = [d for d in names if d not in skipped]
    if skipped:
        print(f"skipping (no meta.json/test_data_set_0, not written by export.py): {', '.join(skipped)}")
    if args.only:
        names = [n for n in names if args.only in n]
    bad = []
    for name in names:
        t0 = time.time()
        try:
            ok, msgs = verify_one(os.path.join(args.root, name), do_fd=not args.no_fd, fd_coords=args.fd_coords)
        except Exception as e:  # report and continue
            ok, msgs = False, [f"FAIL {type(e).__name__}: {e}"]
        print(f"{'ok  ' if ok else 'FAIL'} {name:34s} {'  '.join(msgs)}  ({time.time() - t0:.1f}s)")
        if not ok:
            bad.append(name)
    print(f"{len(names) - len(bad)}/{len(names)} models verified" + (f"; failed: {', '.join(bad)}" if bad else ""))
    return 1 if bad or not names else 0


if __name__ == "__main__":
    sys.exit(main())
