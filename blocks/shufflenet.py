"""ShuffleNetV2 family (seed 000, YOLOv5s-ShuffleNetV2; Ma et al., ECCV 2018): the 3x3 stem with
max-pool, the Shuffle_Block, the DWConvblock of the lite neck, and ADD.

Names are the article's yaml spellings. The article's `DWConvblock` is used but never defined there;
it is a depth-wise k x k conv + BN + ReLU followed by a 1x1 conv + BN + ReLU, no biases.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .fuse import fold_bn, fuse_children
from .registry import EQUAL, EXAMPLE_DOWN, ONCE, Arg, c2_arg, conv_size, k_arg, register, s_arg, stride_of
from .sources import cite


def channel_shuffle(x, groups: int = 2):
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


@register("conv_bn_relu_maxpool", summary="3x3 stride-2 Conv + BN + ReLU, then 3x3 stride-2 max-pool",
          source=cite("shufflenetv2", "shufflenetv2"), args=(c2_arg(),), stride=lambda a: 4,
          reach=lambda a, n: 7,  # 3x3 stride 2, then a 3x3 pool at jump 2: 3 + 2 * 2
          example=((-1, 1, "conv_bn_relu_maxpool", (32,)),  # stride 4 -> 16, so back up to 8
                   (-1, 1, "nn.Upsample", (None, 2, "nearest"))))
class conv_bn_relu_maxpool(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(c1, c2, 3, 2, 1, bias=False),
            nn.BatchNorm2d(c2),
            nn.ReLU(inplace=True),
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):
        return self.maxpool(self.conv(x))

    def fuse(self):
        fuse_children(self)


def _shuffle_check(layer):
    c1, c2, s = layer.c_in[0], layer.args["c2"], layer.args["s"]
    if c2 % 2:
        return f"Shuffle_Block splits its output in two, so c2 must be even (got {c2})"
    if s == 1 and c1 != c2:
        return (f"a stride-1 Shuffle_Block keeps its channels: it needs c_in == c_out "
                f"(got {c1} -> {c2}); use stride 2 to change channels")
    return None


@register("Shuffle_Block", summary="ShuffleNetV2 unit: split / two branches / concat / channel shuffle",
          source=cite("shufflenetv2", "shufflenetv2"), stride=stride_of, check=_shuffle_check,
          reach=lambda a, n: 3,  # one 3x3 depth-wise on every path
          args=(c2_arg(), Arg("s", "int", 1, "stride (1 keeps size and channels)", low=1, high=3)),
          example=((-1, 1, "Shuffle_Block", (32, 2)), (-1, 2, "Shuffle_Block", (32, 1))))
class Shuffle_Block(nn.Module):
    def __init__(self, c1, c2, s=1):
        super().__init__()
        self.stride = s
        c_ = c2 // 2  # each branch makes half the output
        if s > 1:  # left branch: 3x3 depth-wise (stride s) + 1x1
            self.branch1 = nn.Sequential(
                nn.Conv2d(c1, c1, 3, s, 1, groups=c1, bias=False),
                nn.BatchNorm2d(c1),
                nn.Conv2d(c1, c_, 1, 1, 0, bias=False),
                nn.BatchNorm2d(c_),
                nn.ReLU(inplace=True),
            )
        self.branch2 = nn.Sequential(  # right branch: 1x1 + 3x3 depth-wise + 1x1
            nn.Conv2d(c1 if s > 1 else c_, c_, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_, c_, 3, s, 1, groups=c_, bias=False),
            nn.BatchNorm2d(c_),
            nn.Conv2d(c_, c_, 1, 1, 0, bias=False),
            nn.BatchNorm2d(c_),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), 1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)

    def fuse(self):
        fuse_children(self)


@register("DWConvblock", summary="depth-wise k x k Conv + BN + ReLU, then 1x1 Conv + BN + ReLU",
          source=cite("shufflenetv2", part="the lite neck", note="used there, defined here"),
          stride=stride_of, size=conv_size,
          args=(c2_arg(), k_arg(3), s_arg(1)),
          example=((-1, 1, "DWConvblock", (32, 3, 2)), (-1, 1, "DWConvblock", (48, 5, 1))))
class DWConvblock(nn.Module):
    def __init__(self, c1, c2, k=3, s=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c1, c1, k, s, k // 2, groups=c1, bias=False)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = nn.Conv2d(c1, c2, 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(c2)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))

    def fuse(self):
        if isinstance(self.bn1, nn.BatchNorm2d):
            self.conv1, self.bn1 = fold_bn(self.conv1, self.bn1), nn.Identity()
            self.conv2, self.bn2 = fold_bn(self.conv2, self.bn2), nn.Identity()


def _equal_shapes(layer):
    if len(set(layer.shapes)) > 1:
        detail = ", ".join(f"layer {s} is {c}x{h}x{w}" for s, (c, h, w) in zip(layer.sources, layer.shapes))
        return f"ADD needs inputs of one shape (channels x height x width), got {detail}"
    return None


@register("ADD", summary="element-wise x0 + alpha * x1 of two equal-shape maps (PAN without Concat)",
          source=cite("shufflenetv2", part="the lite neck"), channels=EQUAL, repeat=ONCE, inputs=2,
          check=_equal_shapes,
          args=(Arg("alpha", "float", 1.0, "weight of the second input", low=-100, high=100),),
          example=(EXAMPLE_DOWN, (-1, 1, "Conv", (32, 3, 1)), ((-1, -2), 1, "ADD", (0.5,)),
                   ((-1, -3), 1, "ADD", ())))
class ADD(nn.Module):
    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return torch.add(x[0], x[1], alpha=self.alpha)
