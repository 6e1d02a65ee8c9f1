"""MobileNetV3 family (seed 003; Howard et al., "Searching for MobileNetV3", ICCV 2019): the hard
activations, the squeeze-and-excite layer, the 3x3 stem and the inverted-residual block.

`MobileNetV3` takes the article's yaml args `[out, hidden, k, s, use_se, use_hs]`; when hidden ==
c_in the expansion 1x1 conv is skipped, as in the article.
"""
from __future__ import annotations

import torch.nn as nn

from .fuse import fold_bn, fuse_children
from .registry import EXAMPLE_DOWN, SAME, Arg, c2_arg, register, s_arg, stride_of
from .sources import cite


@register("h_sigmoid", summary="hard sigmoid: ReLU6(x + 3) / 6", source=cite("mobilenetv3", "mobilenetv3"),
          channels=SAME, elementwise=True, example=(EXAMPLE_DOWN, (-1, 1, "h_sigmoid", ())))
class h_sigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU6(inplace=True)

    def forward(self, x):
        return self.relu(x + 3) / 6


@register("h_swish", summary="hard swish: x * h_sigmoid(x)", source=cite("mobilenetv3", "mobilenetv3"),
          channels=SAME, elementwise=True, example=(EXAMPLE_DOWN, (-1, 1, "h_swish", ())))
class h_swish(nn.Module):
    def __init__(self):
        super().__init__()
        self.sigmoid = h_sigmoid()

    def forward(self, x):
        return x * self.sigmoid(x)


def _se_check(layer):
    if layer.c_in[0] // layer.args["reduction"] < 1:
        return f"SELayer reduction {layer.args['reduction']} leaves no channels of {layer.c_in[0]}"
    return None


@register("SELayer", summary="squeeze-and-excite: pool, FC / ReLU / FC / h_sigmoid, rescale channels",
          source=cite("mobilenetv3", "senet"), channels=SAME, takes_c1=True, check=_se_check,
          args=(Arg("reduction", "int", 4, "channel reduction of the bottleneck FC", low=1, high=64),),
          example=(EXAMPLE_DOWN, (-1, 1, "SELayer", (4,)), (-1, 1, "SELayer", ())))
class SELayer(nn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel),
            h_sigmoid(),
        )

    def forward(self, x):
        b, c, _, _ = x.shape
        y = self.fc(self.avg_pool(x).view(b, c)).view(b, c, 1, 1)  # per-channel weights
        return x * y


@register("conv_bn_hswish", summary="3x3 Conv + BN + h_swish (the MobileNetV3 stem)",
          source=cite("mobilenetv3", "mobilenetv3"), stride=stride_of, args=(c2_arg(), s_arg(2, high=2)),
          reach=lambda a, n: 3,
          example=((-1, 1, "conv_bn_hswish", (32, 2)), (-1, 1, "conv_bn_hswish", (32, 1))))
class conv_bn_hswish(nn.Module):
    def __init__(self, c1, c2, s=2):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, 3, s, 1, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = h_swish()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))

    def fuse(self):
        if isinstance(self.bn, nn.BatchNorm2d):
            self.conv, self.bn = fold_bn(self.conv, self.bn), nn.Identity()


@register("MobileNetV3", summary="inverted residual: 1x1 expand, k x k depth-wise, optional SE, 1x1 project",
          source=cite("mobilenetv3", "mobilenetv3"), stride=stride_of,
          args=(c2_arg(), Arg("hidden", "int", help="expanded channels (not scaled)", low=1, high=16384),
                Arg("k", "int", 3, "depth-wise kernel", low=1, high=15, choices=(3, 5, 7)),
                s_arg(1, high=2), Arg("use_se", "bool", False, "squeeze-and-excite"),
                Arg("use_hs", "bool", False, "h_swish (else ReLU)")),
          example=((-1, 1, "MobileNetV3", (32, 64, 3, 2, 1, 1)),   # expand, stride 2, SE, h_swish
                   (-1, 1, "MobileNetV3", (32, 32, 5, 1, 1, 0)),   # no expansion, identity residual, SE, ReLU
                   (-1, 1, "MobileNetV3", (32, 72, 3, 1, 0, 0)),   # expand, identity residual, no SE
                   (-1, 1, "MobileNetV3", (40, 80, 7, 1, 0, 1))))  # expand, channel change: no residual
class MobileNetV3(nn.Module):
    def __init__(self, c1, c2, hidden, k=3, s=1, use_se=False, use_hs=False):
        super().__init__()
        self.identity = s == 1 and c1 == c2

        def act():
            return h_swish() if use_hs else nn.ReLU(inplace=True)

        se = SELayer(hidden) if use_se else nn.Sequential()
        dw = [nn.Conv2d(hidden, hidden, k, s, (k - 1) // 2, groups=hidden, bias=False), nn.BatchNorm2d(hidden)]
        project = [nn.Conv2d(hidden, c2, 1, 1, 0, bias=False), nn.BatchNorm2d(c2)]
        if c1 == hidden:  # no expansion: dw, act, SE, project
            self.conv = nn.Sequential(*dw, act(), se, *project)
        else:  # expand, act, dw, SE, act, project (the article's order)
            expand = [nn.Conv2d(c1, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden), act()]
            self.conv = nn.Sequential(*expand, *dw, se, act(), *project)

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.identity else y

    def fuse(self):
        fuse_children(self)
