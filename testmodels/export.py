#!/usr/bin/python3
"""Export the paneonnx test models: small CNNs with random weights, their
reference outputs and gradient goldens.

Every model is a "mini" version of a torchvision architecture family (same
blocks and operator patterns, narrow widths, small inputs, 10 classes) built
from torchvision's own classes where torchvision allows the widths to be set,
and otherwise from small modules assembled out of torchvision's building
blocks (BasicBlock, Bottleneck, Fire, Inception, BasicConv2d, make_layers).
There are no pretrained weights: every parameter is drawn from a seeded
generator, then calibrated on a random batch so that the network is numerically
interesting:

  * Conv/Linear weights are rescaled (in forward order) so that each layer's
    output has unit standard deviation on the calibration batch, so
    activations neither explode nor vanish with depth;
  * BatchNorm layers get non-trivial inference statistics: running_mean and
    running_var near (not equal to) the statistics of their actual input,
    weight (gamma) in +-[0.6, 1.4] with about 10% negative, bias ~ N(0, 0.2^2);
    BN is therefore never the identity;
  * the last Conv/Linear is scaled so the logits have standard deviation 3.

Everything is exported in eval mode with torch.onnx.export (dynamic batch
axis, input "input", output "output"), and each model folder follows the ONNX
test layout:

  <name>/model.onnx                         (plus weights.bin for external data)
  <name>/meta.json                          family, opset, shapes, hints, notes
  <name>/test_data_set_0/input_0.pb         TensorProto "input", batch 2, N(0,1)
  <name>/test_data_set_0/output_0.pb        TensorProto "output" (PyTorch, float32)
  <name>/test_data_set_0/grad_targets.pb    int64 [N]: t_n = argmax_c output[n, c]
  <name>/test_data_set_0/grad_input_0.pb    float32, shape of the input:
                                            d(sum_n output[n, t_n]) / d input

The gradient golden comes from PyTorch autograd on the PyTorch module itself
(never from the ONNX file), in float64 (module.double(), then cast to float32).
For a model whose exported output is a Softmax, "output" means the softmax
probabilities, so the golden is the gradient of the probabilities.

Seeds depend only on the architecture key, so the exports of one architecture
at different opsets share the same weights and the same test input.

Usage:
  /usr/bin/python3 testmodels/export.py                 # small models -> testmodels/
  /usr/bin/python3 testmodels/export.py --only resnet   # names containing "resnet"
  /usr/bin/python3 testmodels/export.py --full --out testmodels/cache
                                                        # full-size torchvision nets
                                                        # (224x224, batch 1; not committed)
"""

import argparse
import copy
import io
import json
import os
import shutil
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import densenet as tv_densenet
from torchvision.models import efficientnet as tv_efficientnet
import importlib
tv_googlenet = importlib.import_module("torchvision.models.googlenet")
from torchvision.models import mobilenetv2 as tv_mobilenetv2
from torchvision.models import mobilenetv3 as tv_mobilenetv3
from torchvision.models import resnet as tv_resnet
from torchvision.models import shufflenetv2 as tv_shufflenetv2
from torchvision.models import squeezenet as tv_squeezenet
from torchvision.models import vgg as tv_vgg
from torchvision.ops.misc import Conv2dNormActivation

import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
NUM_CLASSES = 10
BATCH = 2
LOGIT_STD = 3.0

IMAGENET_PREPROCESS = {
    "layout": "NCHW",
    "channels": "RGB",
    "scale": "pixel values to [0,1], then (x - mean) / std",
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "resize": "to the input's H x W",
    "note": "random weights: the committed test inputs are N(0,1) samples already in tensor space",
}


def stable_seed(key):
    """A seed that depends only on the string key (not on Python's hash salt)."""
    return zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF


# ---------------------------------------------------------------------------
# Mini architectures
# ---------------------------------------------------------------------------


class MiniResNet(nn.Module):
    """torchvision ResNet layout (7x7/2 stem, 3x3/2 max pool, four stages,
    global average pool, fc) with torchvision's BasicBlock or Bottleneck and the
    usual conv1x1+BN downsample shortcut, at narrow widths."""

    def __init__(self, block, layers, widths, stem=8, num_classes=NUM_CLASSES):
        super().__init__()
        self.inplanes = stem
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, widths[0], layers[0], 1)
        self.layer2 = self._make_layer(block, widths[1], layers[1], 2)
        self.layer3 = self._make_layer(block, widths[2], layers[2], 2)
        self.layer4 = self._make_layer(block, widths[3], layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                tv_resnet.conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


class MiniVGG(nn.Module):
    """torchvision VGG layout: features from torchvision's make_layers(cfg,
    batch_norm=True), adaptive average pool (a no-op at this input size, like
    VGG's 7x7 at 224), flatten, and the three-Linear classifier with Dropout."""

    def __init__(self, cfg, pool=2, hidden=64, num_classes=NUM_CLASSES):
        super().__init__()
        self.features = tv_vgg.make_layers(cfg, batch_norm=True)
        last = [c for c in cfg if c != "M"][-1]
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Linear(last * pool * pool, hidden),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


class MiniSqueezeNet(nn.Module):
    """SqueezeNet 1.1 layout with torchvision's Fire module (ceil-mode max
    pools, conv classifier + ReLU + global average pool), narrow widths."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        Fire = tv_squeezenet.Fire
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 4, 8, 8),
            Fire(16, 4, 8, 8),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 8, 16, 16),
            Fire(32, 8, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(32, 12, 24, 24),
            Fire(48, 12, 24, 24),
            Fire(48, 16, 32, 32),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Conv2d(64, num_classes, kernel_size=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class MiniGoogLeNet(nn.Module):
    """GoogLeNet layout (no aux heads, no input transform) with torchvision's
    Inception and BasicConv2d (conv + BN(eps=1e-3) + ReLU), ceil-mode max pools,
    fewer Inception blocks and narrow widths."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        B = tv_googlenet.BasicConv2d
        I = tv_googlenet.Inception
        self.conv1 = B(3, 8, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = B(8, 8, kernel_size=1)
        self.conv3 = B(8, 16, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = I(16, 8, 8, 8, 4, 4, 4)  # -> 24
        self.inception3b = I(24, 8, 8, 12, 4, 8, 4)  # -> 32
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = I(32, 12, 8, 12, 4, 4, 4)  # -> 32
        self.inception4b = I(32, 12, 8, 16, 4, 8, 8)  # -> 44
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = I(44, 16, 8, 16, 4, 8, 8)  # -> 48
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.2)
        self.fc = nn.Linear(48, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.maxpool4(self.inception4b(self.inception4a(x)))
        x = self.inception5a(x)
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


class MiniAlexNet(nn.Module):
    """torchvision AlexNet layout (11x11/4 stem, three max pools, adaptive
    average pool, Dropout/Linear classifier), narrow widths. At 64x64 the
    features end at 1x1, so the adaptive pool is (1, 1)."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(16, 24, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(24, 24, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(24, 24, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(24, 24, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5),
            nn.Linear(24, 32),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.5),
            nn.Linear(32, 32),
            nn.ReLU(inplace=True),
            nn.Linear(32, num_classes),
        )

    def forward(self, x):
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(x)


class PoolingNet(nn.Module):
    """Pooling corner cases at input 20x20, each ceil-mode pool chosen so that
    ceil and floor mode give different output sizes (the extra window hangs
    over the right/bottom edge) while no window starts inside the right
    padding (where PyTorch drops the window and the plain ONNX output-size
    formula would not):
      MaxPool 3/2 pad 1 ceil_mode            20 -> 11 (floor: 10)
      AveragePool 2/2 ceil_mode, count_include_pad=False   11 -> 6 (floor: 5);
        the last window holds a single input element, divisor 1
      AveragePool 3/2 pad 1 ceil_mode, count_include_pad=False  6 -> 4 (floor: 3)
      AveragePool 3/1 pad 1 count_include_pad=True (exported as Pad + AveragePool)  4 -> 4
      MaxPool 2/1 dilation 2 pad 1          4 -> 4"""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool2 = nn.AvgPool2d(2, stride=2, ceil_mode=True, count_include_pad=False)
        self.conv3 = nn.Conv2d(8, 12, 3, padding=1)
        self.pool3 = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
        self.conv4 = nn.Conv2d(12, 12, 3, padding=1)
        self.pool4 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
        self.pool5 = nn.MaxPool2d(2, stride=1, dilation=2, padding=1)
        self.fc = nn.Linear(12 * 4 * 4, num_classes)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))
        x = self.pool2(F.relu(self.conv2(x)))
        x = self.pool3(F.relu(self.conv3(x)))
        x = self.pool5(self.pool4(F.relu(self.conv4(x))))
        return self.fc(torch.flatten(x, 1))


class GemmSoftmaxNet(nn.Module):
    """Conv features, flatten, two Linear layers (Gemm) and a final Softmax:
    the exported output is the class probabilities."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return F.softmax(self.fc2(x), dim=1)


class ViewReshapeNet(nn.Module):
    """Flattens with x.view(x.size(0), -1): with a dynamic batch axis the
    exporter writes Shape -> Gather -> Unsqueeze -> Concat -> Reshape, the
    shape sub-graph that the importer must constant-fold."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16 * 2 * 2, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class StandaloneBNNet(nn.Module):
    """BatchNormalization nodes that cannot be folded into a preceding
    Conv/Gemm: BN on the network input, Conv -> ReLU -> BN, BN after a max pool,
    BatchNorm1d after Linear -> ReLU. Some gammas are negative."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(3)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16, 16)
        self.bn4 = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.bn1(F.relu(self.conv1(self.bn_in(x))))  # input BN, Conv -> ReLU -> BN
        x = F.max_pool2d(x, 2)
        x = self.bn3(F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2))  # BN after MaxPool
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        x = self.bn4(F.relu(self.fc1(x)))  # Linear -> ReLU -> BN1d
        return self.fc2(x)


class MiscOpsNet(nn.Module):
    """Less common CNN operators: LeakyReLU, PReLU (per channel), reflection
    and replication padding, dilated and grouped convolution, ReLU6 (Clip),
    Tanh, Sigmoid gating, a channel-mean (ReduceMean), Sub/Div with constants,
    a global max pool and a MatMul with a constant matrix."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.pad1 = nn.ReflectionPad2d(1)
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.act1 = nn.LeakyReLU(0.1)
        self.pad2 = nn.ReplicationPad2d((1, 2, 2, 1))
        self.conv2 = nn.Conv2d(8, 16, 3, dilation=2, stride=1)
        self.act2 = nn.PReLU(16, init=0.2)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.conv4 = nn.Conv2d(16, 16, 1)
        self.gmp = nn.AdaptiveMaxPool2d(1)
        self.proj = nn.Parameter(torch.zeros(16, num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x):
        x = (x - 0.25) / 1.5
        x = self.act1(self.conv1(self.pad1(x)))
        x = self.act2(self.conv2(self.pad2(x)))
        x = F.relu6(self.conv3(x))
        gate = torch.sigmoid(x.mean(dim=1, keepdim=True))  # spatial attention
        x = torch.tanh(self.conv4(x)) * gate
        x = torch.flatten(self.gmp(x), 1)
        return torch.matmul(x, self.proj) + self.bias


def mini_mobilenet_v2():
    """torchvision MobileNetV2 block structure (t, n, s as in the original,
    fewer repeats) with width_mult 0.25 on narrower stage widths
    16-24-32-48-64-80-96 and a 64 (instead of 1280) channel last 1x1 conv."""
    setting = [
        [1, 16, 1, 1],
        [6, 24, 2, 2],
        [6, 32, 2, 2],
        [6, 48, 2, 2],
        [6, 64, 1, 1],
        [6, 80, 1, 2],
        [6, 96, 1, 1],
    ]
    m = tv_mobilenetv2.MobileNetV2(num_classes=NUM_CLASSES, width_mult=0.25, inverted_residual_setting=setting)
    last_in = m.features[-1][0].in_channels
    m.features[-1] = Conv2dNormActivation(last_in, 64, kernel_size=1, activation_layer=nn.ReLU6)
    m.last_channel = 64
    m.classifier[1] = nn.Linear(64, NUM_CLASSES)
    return m


def mini_mobilenet_v3(arch="mobilenet_v3_small", width_mult=0.125, **kw):
    """torchvision MobileNetV3 (Hardswish, SE with Hardsigmoid) via its config builder, classifier hidden width 64."""
    setting, _ = tv_mobilenetv3._mobilenet_v3_conf(arch, width_mult=width_mult, **kw)
    return tv_mobilenetv3.MobileNetV3(setting, last_channel=64, num_classes=NUM_CLASSES)


def mini_efficientnet():
    """torchvision EfficientNet-B0 config at width 0.125 and depth 0.34 (SiLU,
    SE with sigmoid), the last (192 -> 320) stage dropped, 96-channel head."""
    setting, _ = tv_efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.125, depth_mult=0.34)
    return tv_efficientnet.EfficientNet(setting[:-1], dropout=0.2, num_classes=NUM_CLASSES, last_channel=96)


def mini_densenet():
    return tv_densenet.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, bn_size=2,
                                num_classes=NUM_CLASSES)


def mini_shufflenet_v2():
    return tv_shufflenetv2.ShuffleNetV2([2, 2, 2], [8, 16, 32, 64, 128], num_classes=NUM_CLASSES)


# ---------------------------------------------------------------------------
# Model table
# ---------------------------------------------------------------------------

# Each entry: arch key -> dict(build, family, input (C,H,W), opsets, notes).
# try_opsets: opsets that PyTorch 1.13 is known not to export for this model;
# they are attempted on every run and the exporter's error is recorded in
# export_failures.tsv (so the list stays true when PyTorch changes):
#   shufflenet_v2 @ 9: chunk() on a tensor whose batch dim is dynamic needs
#     Split with computed sizes; opset 9 has only the static 'split'
#     attribute, so the exporter fails (prim::ConstantChunk, unknown dim).
#   pooling @ 9: MaxPool-8 has no 'dilations' attribute (added in opset 10),
#     so the dilated max pool cannot be exported.
ARCHS = {
    "resnet_basic": dict(
        family="resnet", input=(3, 48, 48), opsets=[9, 11, 13, 17],
        build=lambda: MiniResNet(tv_resnet.BasicBlock, [1, 1, 1, 1], [8, 16, 16, 24]),
        notes="torchvision BasicBlock, layers [1,1,1,1], widths 8-16-16-24; 1x1 conv+BN downsample in stages 2-4"),
    "resnet_bottleneck": dict(
        family="resnet", input=(3, 48, 48), opsets=[13],
        build=lambda: MiniResNet(tv_resnet.Bottleneck, [1, 1, 2, 1], [4, 8, 12, 16]),
        notes="torchvision Bottleneck (expansion 4), layers [1,1,2,1], planes 4-8-12-16; 1x1 downsample in every stage"),
    "vgg_bn": dict(
        family="vgg", input=(3, 32, 32), opsets=[9, 11, 13, 17],
        build=lambda: MiniVGG([8, "M", 16, "M", 16, 16, "M", 24, 24, "M"], hidden=32),
        notes="torchvision make_layers(batch_norm=True) cfg [8,M,16,M,16,16,M,24,24,M], classifier 96-32-32-10"),
    "squeezenet": dict(
        family="squeezenet", input=(3, 48, 48), opsets=[9, 11, 13, 17],
        build=MiniSqueezeNet,
        notes="SqueezeNet 1.1 layout with torchvision Fire modules; ceil_mode max pools; conv classifier; no BN"),
    "densenet": dict(
        family="densenet", input=(3, 64, 64), opsets=[9, 11, 13, 17],
        build=mini_densenet,
        notes="torchvision DenseNet(growth_rate=8, block_config=(2,2,2,2), num_init_features=16, bn_size=2); "
              "pre-activation BN after Concat stays a standalone BatchNormalization node"),
    "mobilenet_v2": dict(
        family="mobilenet_v2", input=(3, 48, 48), opsets=[9, 11, 13, 17],
        build=mini_mobilenet_v2,
        notes="torchvision MobileNetV2(width_mult=0.25) with fewer repeats, stage widths 16-24-32-48-64-80-96 (x0.25) and a 64-channel last conv; ReLU6 = Clip"),
    "mobilenet_v3_small": dict(
        family="mobilenet_v3", input=(3, 48, 48), opsets=[13, 17],
        build=mini_mobilenet_v3,
        notes="torchvision MobileNetV3 small config, width_mult=0.125, classifier hidden 64; Hardswish (HardSigmoid+Mul below opset 14, "
              "HardSwish from 14), SE gate with Hardsigmoid"),
    "mobilenet_v3_large_dilated": dict(
        family="mobilenet_v3", input=(3, 48, 48), opsets=[13],
        build=lambda: mini_mobilenet_v3("mobilenet_v3_large", 0.125, reduced_tail=True, dilated=True),
        notes="torchvision MobileNetV3 large config, width_mult=0.125, classifier hidden 64, reduced_tail, dilated=True (dilation-2 "
              "depthwise convs in the last stage, output stride 16)"),
    "efficientnet_b0": dict(
        family="efficientnet", input=(3, 48, 48), opsets=[13],
        build=mini_efficientnet,
        notes="torchvision EfficientNet-B0 config, width_mult=0.125, depth_mult=0.34, last stage dropped, 96-channel head; SiLU = Sigmoid+Mul, SE with "
              "SiLU and Sigmoid gate; StochasticDepth is the identity in eval mode"),
    "googlenet": dict(
        family="googlenet", input=(3, 48, 48), opsets=[13],
        build=MiniGoogLeNet,
        notes="GoogLeNet layout with torchvision Inception/BasicConv2d, 5 Inception blocks, ceil_mode max pools, "
              "aux_logits=False, transform_input=False"),
    "shufflenet_v2": dict(
        family="shufflenet_v2", input=(3, 48, 48), opsets=[13], try_opsets=[9],
        build=mini_shufflenet_v2,
        notes="torchvision ShuffleNetV2(stages_repeats=[2,2,2], stages_out_channels=[8,16,32,64,128]); channel "
              "shuffle = Reshape/Transpose/Reshape with shape sub-graphs, chunk = Split, global pool = ReduceMean"),
    "alexnet": dict(
        family="alexnet", input=(3, 64, 64), opsets=[13],
        build=MiniAlexNet,
        notes="torchvision AlexNet layout, widths 16-24-24-24-24, classifier 24-32-32-10; features end at 1x1"),
    "pooling": dict(
        family="ops", input=(3, 20, 20), opsets=[11, 13], try_opsets=[9],
        build=PoolingNet,
        notes="MaxPool ceil_mode with padding, AveragePool count_include_pad=False + ceil_mode, AveragePool "
              "count_include_pad=True with padding, dilated MaxPool"),
    "gemm_softmax": dict(
        family="ops", input=(3, 32, 32), opsets=[11, 13],
        build=GemmSoftmaxNet, output_kind="softmax",
        notes="Conv/ReLU/MaxPool features, Gemm, ReLU, Gemm, Softmax(axis=1) at the end: output is probabilities "
              "and grad_input_0 is d(sum_n prob[n, t_n])/d input"),
    "viewreshape": dict(
        family="ops", input=(3, 16, 16), opsets=[9, 11],
        build=ViewReshapeNet,
        notes="x.view(x.size(0), -1) before the fc: Shape/Gather/Unsqueeze/Concat -> Reshape shape sub-graph"),
    "bn_standalone": dict(
        family="ops", input=(3, 16, 16), opsets=[9, 13, 17],
        build=StandaloneBNNet,
        notes="BatchNormalization that cannot fold: on the input, after Conv->ReLU, after MaxPool, BatchNorm1d "
              "after Linear->ReLU; some negative gammas"),
    "misc_ops": dict(
        family="ops", input=(3, 24, 24), opsets=[9, 13],
        build=MiscOpsNet,
        notes="Sub/Div by constants, reflect and edge Pad, LeakyRelu, PRelu, dilated conv, grouped conv, Clip "
              "(ReLU6), ReduceMean over channels, Sigmoid gate (Mul), Tanh, GlobalMaxPool, MatMul + Add"),
}

# Extra exports of an architecture with special export settings:
# name -> (arch key, opset, options)
SPECIAL_EXPORTS = {
    "resnet_basic_bnkeep_op13": ("resnet_basic", 13, dict(
        preserve_bn=True,
        notes="exported with training=TrainingMode.PRESERVE and do_constant_folding=False: every BatchNorm2d stays "
              "a BatchNormalization node after its Conv (nothing folded)")),
    "mobilenet_v2_extdata_op13": ("mobilenet_v2", 13, dict(
        external=True,
        notes="all initializers in external data: weights.bin next to model.onnx (location 'weights.bin', "
              "size_threshold=0)")),
}


# ---------------------------------------------------------------------------
# Random weights and calibration
# ---------------------------------------------------------------------------


def randomize(model, gen):
    """Draw every parameter from the seeded generator (independent of the
    module-construction RNG): conv/linear weights He-normal, biases small."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + 0.3 * torch.rand(m.weight.shape, generator=gen))
        if isinstance(model, MiscOpsNet):
            model.proj.copy_(torch.randn(model.proj.shape, generator=gen) / model.proj.shape[0] ** 0.5)
            model.bias.copy_(torch.randn(model.bias.shape, generator=gen) * 0.1)


def calibrate(model, x, gen, logit_std=LOGIT_STD, pre_softmax=None):
    """One forward pass over the calibration batch x with pre-hooks that, in
    forward order, (a) rescale each Conv/Linear weight (and bias) so that its
    output has unit std, (b) set each BatchNorm's running statistics near the
    statistics of its actual input and draw its affine parameters. Then rescale
    the last Conv/Linear so that the logits have std logit_std."""
    order = []
    handles = []

    def lin_hook(mod, inp):
        xin = inp[0]
        with torch.no_grad():
            if isinstance(mod, nn.Conv2d):
                y = mod._conv_forward(xin, mod.weight, None)
            else:
                y = F.linear(xin, mod.weight)
            s = float(y.std())
            if s > 0:
                mod.weight.mul_(1.0 / s)
        order.append(mod)

    def bn_hook(mod, inp):
        xin = inp[0]
        with torch.no_grad():
            dims = [0] + list(range(2, xin.dim()))
            mean = xin.mean(dims)
            var = xin.var(dims, unbiased=False)
            c = mean.shape[0]
            mod.running_mean.copy_(mean + 0.2 * var.sqrt() * torch.randn(c, generator=gen))
            mod.running_var.copy_((var + 1e-3) * torch.exp(0.4 * torch.randn(c, generator=gen)))
            if mod.affine:
                mag = 0.6 + 0.8 * torch.rand(c, generator=gen)
                sign = torch.where(torch.rand(c, generator=gen) < 0.1, -1.0, 1.0)
                mod.weight.copy_(mag * sign)
                mod.bias.copy_(0.2 * torch.randn(c, generator=gen))

    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            handles.append(m.register_forward_pre_hook(lin_hook))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            handles.append(m.register_forward_pre_hook(bn_hook))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    # Logit scale: the last Conv/Linear is followed only by positively
    # homogeneous ops (ReLU, pooling, flatten), so scaling its weight and bias
    # scales the logits. For a model ending in Softmax, measure before it.
    last = order[-1]
    with torch.no_grad():
        logits = pre_softmax(x) if pre_softmax is not None else model(x)
        s = float(logits.std())
        k = logit_std / s
        last.weight.mul_(k)
        if last.bias is not None:
            last.bias.mul_(k)


def build_model(key, spec):
    seed = stable_seed(key)
    torch.manual_seed(seed)
    model = spec["build"]()
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    randomize(model, gen)
    c, h, w = spec["input"]
    xcal = torch.randn((32, c, h, w), generator=gen)
    pre = None
    if isinstance(model, GemmSoftmaxNet):
        def pre(x, m=model):
            x = F.max_pool2d(F.relu(m.conv2(F.relu(m.conv1(x)))), 2)
            return m.fc2(F.relu(m.fc1(torch.flatten(x, 1))))
    if isinstance(model, MiscOpsNet):
        # proj is a Parameter, not a Linear: give it unit-std outputs by hand first
        with torch.no_grad():
            calibrate(model, xcal, gen, logit_std=1.0)
            feats = []
            hook = model.gmp.register_forward_hook(lambda m, i, o: feats.append(torch.flatten(o, 1)))
            model(xcal)
            hook.remove()
            z = feats[0] @ model.proj
            model.proj.mul_(LOGIT_STD / float(z.std()))
            model.bias.mul_(LOGIT_STD / float(z.std()))
    else:
        calibrate(model, xcal, gen, pre_softmax=pre)
    xin = torch.randn((BATCH, c, h, w), generator=torch.Generator().manual_seed(stable_seed(key + ":input")))
    return model, xin


# ---------------------------------------------------------------------------
# Export and goldens
# ---------------------------------------------------------------------------


def tensor_file(path, arr, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def onnx_export(model, xin, opset, preserve_bn=False, dynamic=True):
    buf = io.BytesIO()
    kwargs = dict(
        input_names=["input"],
        output_names=["output"],
        opset_version=opset,
        do_constant_folding=not preserve_bn,
    )
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
    if preserve_bn:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, xin, buf, **kwargs)
    return onnx.load_from_string(buf.getvalue())


def grad_golden(model, xin, targets):
    """d(sum_n out[n, t_n]) / d input with autograd on the PyTorch module,
    in float64 when the module converts, else float32."""
    try:
        m64 = copy.deepcopy(model).double().eval()
        x = xin.detach().double().clone().requires_grad_(True)
        out = m64(x)
        dtype = "float64"
    except Exception:  # pragma: no cover - every current model converts
        m64 = copy.deepcopy(model).eval()
        x = xin.detach().clone().requires_grad_(True)
        out = m64(x)
        dtype = "float32"
    sel = out.gather(1, torch.as_tensor(targets).view(-1, 1)).sum()
    (g,) = torch.autograd.grad(sel, x)
    return g.detach().float().numpy(), dtype, out.detach().double().numpy()


def op_types(m):
    return sorted({n.op_type for n in m.graph.node})


def dir_size(path):
    """Bytes under path, not counting the (uncommitted) cache folder."""
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in ("cache", "__pycache__")]
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def write_model(out_root, name, model, xin, opset, family, notes, preprocess, output_kind="logits",
                preserve_bn=False, external=False, dynamic=True):
    mdir = os.path.join(out_root, name)
    if os.path.exists(mdir):
        shutil.rmtree(mdir)  # external data is appended by onnx.save_model: start clean
    os.makedirs(os.path.join(mdir, "test_data_set_0"))

    m = onnx_export(model, xin, opset, preserve_bn=preserve_bn, dynamic=dynamic)
    mpath = os.path.join(mdir, "model.onnx")
    if external:
        onnx.save_model(m, mpath, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="weights.bin", size_threshold=0)
    else:
        onnx.save_model(m, mpath)

    with torch.no_grad():
        out = model(xin).numpy()
    targets = out.argmax(axis=1).astype(np.int64)
    grad, gdtype, out64 = grad_golden(model, xin, targets)
    srt = np.sort(out, axis=1)
    margin = float((srt[:, -1] - srt[:, -2]).min())
    if not np.array_equal(out64.argmax(axis=1), targets):
        raise RuntimeError(f"{name}: float32 and float64 argmax differ")
    if not np.isfinite(grad).all() or not np.isfinite(out).all():
        raise RuntimeError(f"{name}: non-finite output or gradient")

    tdir = os.path.join(mdir, "test_data_set_0")
    tensor_file(os.path.join(tdir, "input_0.pb"), xin.numpy().astype(np.float32), "input")
    tensor_file(os.path.join(tdir, "output_0.pb"), out.astype(np.float32), "output")
    tensor_file(os.path.join(tdir, "grad_targets.pb"), targets, "grad_targets")
    tensor_file(os.path.join(tdir, "grad_input_0.pb"), grad.astype(np.float32), "grad_input")

    ops = op_types(m)
    meta = {
        "name": name,
        "family": family,
        "opset": opset,
        "ir_version": int(m.ir_version),
        "input_name": "input",
        "output_name": "output",
        "input_shape": ["N"] + list(xin.shape[1:]) if dynamic else list(xin.shape),
        "test_batch": int(xin.shape[0]),
        "output_shape": ["N", int(out.shape[1])] if dynamic else list(out.shape),
        "output_kind": output_kind,
        "num_classes": int(out.shape[1]),
        "preprocess": preprocess,
        "notes": notes,
        "op_types": ops,
        "external_data": "weights.bin" if external else None,
        "standalone_batchnorm_nodes": sum(1 for n in m.graph.node if n.op_type == "BatchNormalization"),
        "seed_key": name.rsplit("_op", 1)[0] if not (preserve_bn or external) else None,
        "golden": {
            "outputs": "PyTorch module, float32, eval mode",
            "grad_targets": "argmax over classes of output_0 per batch item",
            "grad_input_0": "d(sum_n output[n, t_n]) / d input by PyTorch autograd on the module "
                             f"(computed in {gdtype}, stored as float32)",
            "grad_dtype": gdtype,
            "output_std": float(out.std()),
            "min_top1_margin": margin,
        },
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "onnx_version": onnx.__version__,
    }
    with open(os.path.join(mdir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    model_bytes = os.path.getsize(mpath)
    if external:
        model_bytes += os.path.getsize(os.path.join(mdir, "weights.bin"))
    return dict(name=name, family=family, opset=opset, input_shape="x".join(str(d) for d in xin.shape[1:]),
                ops=ops, model_bytes=model_bytes, dir_bytes=dir_size(mdir), out_std=float(out.std()),
                margin=margin)


def export_small(out_root, only=None):
    torch.set_num_threads(1)  # reproducible float summation order
    rows, failures = [], []
    jobs = []
    for key, spec in ARCHS.items():
        for opset in spec["opsets"]:
            jobs.append((f"{key}_op{opset}", key, opset, {}))
        for opset in spec.get("try_opsets", []):
            jobs.append((f"{key}_op{opset}", key, opset, {"expect_failure": True}))
    for name, (key, opset, opts) in SPECIAL_EXPORTS.items():
        jobs.append((name, key, opset, opts))
    for name, key, opset, opts in jobs:
        if only and only not in name:
            continue
        spec = ARCHS[key]
        model, xin = build_model(key, spec)
        notes = spec["notes"] + ("; " + opts["notes"] if "notes" in opts else "")
        preprocess = IMAGENET_PREPROCESS if spec["family"] != "ops" else {
            "layout": "NCHW", "note": "synthetic operator test model: inputs are N(0,1) in tensor space"}
        try:
            row = write_model(out_root, name, model, xin, opset, spec["family"], notes, preprocess,
                              output_kind=spec.get("output_kind", "logits"),
                              preserve_bn=opts.get("preserve_bn", False), external=opts.get("external", False))
        except Exception as e:  # record and continue: documented in index and README
            shutil.rmtree(os.path.join(out_root, name), ignore_errors=True)
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            msg = msg.split(". Please feel free")[0].split(" [Caused by")[0]
            failures.append((name, bool(opts.get("expect_failure")), f"{type(e).__name__}: {msg}"))
            if opts.get("expect_failure"):
                print(f"{name:34s} not exportable (known): {type(e).__name__}")
            else:
                print(f"FAILED {name}: {type(e).__name__}: {msg}", file=sys.stderr)
            continue
        if opts.get("expect_failure"):
            print(f"{name:34s} now exports (was a known failure); not kept")
            shutil.rmtree(os.path.join(out_root, name), ignore_errors=True)
            continue
        rows.append(row)
        print(f"{name:34s} opset {opset:2d}  {row['model_bytes']:8d} B model  {row['dir_bytes']:8d} B dir  "
              f"logit std {row['out_std']:.2f}  margin {row['margin']:.3g}  ops {','.join(row['ops'])}")
    return rows, failures


def write_index(out_root, rows, failures):
    rows = sorted(rows, key=lambda r: r["name"])
    path = os.path.join(out_root, "index.tsv")
    with open(path, "w") as f:
        f.write("name\tfamily\topset\tinput_chw\tmodel_bytes\tdir_bytes\top_types\n")
        for r in rows:
            f.write(f"{r['name']}\t{r['family']}\t{r['opset']}\t{r['input_shape']}\t{r['model_bytes']}\t"
                    f"{r['dir_bytes']}\t{','.join(r['ops'])}\n")
    fpath = os.path.join(out_root, "export_failures.tsv")
    with open(fpath, "w") as f:
        f.write("name\tknown\terror\n")
        for name, known, err in failures:
            f.write(f"{name}\t{'yes' if known else 'no'}\t{err}\n")


# ---------------------------------------------------------------------------
# Full-size torchvision models (not committed)
# ---------------------------------------------------------------------------

FULL = {
    "resnet18": torchvision.models.resnet18,
    "resnet50": torchvision.models.resnet50,
    "mobilenet_v2": torchvision.models.mobilenet_v2,
    "densenet121": torchvision.models.densenet121,
}


def export_full(out_root, only=None):
    rows = []
    for arch, ctor in FULL.items():
        if only and only not in arch:
            continue
        seed = stable_seed("full:" + arch)
        torch.manual_seed(seed)
        model = ctor(weights=None, num_classes=1000).eval()
        gen = torch.Generator().manual_seed(seed)
        randomize(model, gen)
        calibrate(model, torch.randn((4, 3, 224, 224), generator=gen), gen)
        xin = torch.randn((1, 3, 224, 224), generator=torch.Generator().manual_seed(stable_seed("full:" + arch + ":input")))
        row = write_model(out_root, f"{arch}_full_op13", model, xin, 13, arch,
                          f"full-size torchvision {arch}(weights=None), random seeded weights with calibrated BN "
                          "statistics, 224x224, batch 1", IMAGENET_PREPROCESS)
        rows.append(row)
        print(f"{row['name']:34s} {row['model_bytes']:10d} B model  logit std {row['out_std']:.2f}  ops "
              f"{','.join(row['ops'])}")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="output folder (default: the testmodels folder)")
    ap.add_argument("--full", action="store_true", help="export the full-size torchvision models instead")
    ap.add_argument("--only", default=None, help="export only models whose name contains this string")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.full:
        rows = export_full(args.out, args.only)
        write_index(args.out, rows, [])
        return 0
    rows, failures = export_small(args.out, args.only)
    if args.only is None:
        write_index(args.out, rows, failures)
    total = dir_size(args.out) if args.only is None else sum(r["dir_bytes"] for r in rows)
    unexpected = [f for f in failures if not f[1]]
    print(f"{len(rows)} models, {total} bytes in {args.out}; {len(failures) - len(unexpected)} known export "
          f"failures, {len(unexpected)} unexpected")
    for name, known, err in failures:
        print(f"  export failure{' (known)' if known else ''}: {name}: {err}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
