"""The block registry: every yaml module name maps to a `BlockInfo` that says all the rest of the
system needs to know about a block — its arguments, how its output channels follow from its inputs,
how `n` repeats it, its stride, its own constraints, where it comes from (and whether YOLOv5 /
Ultralytics already have it), the facts the counters and the receptive-field walk need, and an
example that makes a valid instance.

Blocks register themselves next to their class with `@register(...)` (the timm idea: a plain dict
filled by a decorator; `blocks/__init__.py` imports every family so nothing goes unregistered).
Adding a block is one family file plus one import line; `graph/` never branches on a block's name,
and `engine/` and the registry-wide tests read the same entries.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

REQUIRED = object()

# How a block's output channels follow from its inputs and args. `graph/resolve.py` looks the rule
# up in its own table; the names are the whole vocabulary.
OUT = "out"      # args[0] is c2, scaled by width like YOLOv5 / Ultralytics do; ctor(c1, c2, *rest)
SAME = "same"    # one input, c_out == c_in; ctor(*args) or ctor(c1, *args) if takes_c1
SUM = "sum"      # several inputs concatenated on channels; c_out == sum(c_in)
EQUAL = "equal"  # several inputs of one shape combined element-wise; c_out == c_in[0]
HEAD = "head"    # the detection head: takes every input, yields predictions, not a feature map
SPLIT = "split"  # one input, output = several maps stacked on channels, args[0] their widths (unscaled,
#                  as upstream); c_out == sum(args[0]); ctor(c1, *args) (YOLOv9's CBLinear)
PICK = "pick"    # reads one slice of each SPLIT input plus a last map; c_out, size and stride are the last
#                  input's; ctor(*args, splits=[widths of each SPLIT input]) (YOLOv9's CBFuse)

STACK = "stack"    # `n` copies in an nn.Sequential, the YOLOv5 way
INSIDE = "inside"  # `n` passed to the constructor as its third argument (C3, C2f, VoVGSCSP ...)
ONCE = "once"      # no repeats: n must be 1


@dataclass(frozen=True)
class Arg:
    """One constructor argument as it is written in yaml (after c1, before/without n)."""

    name: str
    kind: str  # int | float | bool | str | int? (int or None) | ints (int or list of ints) | anchors
    default: Any = REQUIRED
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Layer:
    """What a block's `stride` and `check` functions see of the layer being resolved."""

    index: int
    args: dict  # arg name -> value, defaults filled, `nc` / `anchors` substituted, c2 scaled
    c_in: tuple[int, ...]
    shapes: tuple[tuple[int, int, int], ...]  # (C, H, W) of each input
    sources: tuple[int, ...]  # absolute layer index of each input (-1 = the image)
    strides: tuple = ()  # input pixels per cell of each input


# A block's `example`: yaml rows (from, n, module, args) that use the block, written to follow a
# 32-channel map at stride 4 (16 x 16 at 64 px) and to end at stride 8. tests/test_blocks.py puts them
# in a small detector (a stem before; P4 / P5 Convs and a Detect over [P3, P4, P5] after) and checks
# that every registered block resolves, builds, runs to the promised shapes, fuses and counts as thop.
# EXAMPLE_DOWN is the stride 4 -> 8 step, for examples whose block keeps the stride.
EXAMPLE_DOWN = (-1, 1, "Conv", (32, 3, 2))

# Where a block may already exist (`BlockInfo.upstream`).
YOLOV5 = "yolov5"            # YOLOv5 v7.0 (models/common.py, models/yolo.py)
ULTRALYTICS = "ultralytics"  # Ultralytics YOLOv8 and later (ultralytics/nn/modules)
BOTH = (YOLOV5, ULTRALYTICS)


@dataclass(frozen=True)
class BlockInfo:
    name: str
    cls: type[nn.Module]
    family: str
    summary: str  # one line: what it is
    source: str  # one line: where it comes from (seed article, paper)
    args: tuple[Arg, ...] = ()
    channels: str = OUT
    repeat: str = STACK
    inputs: int = 1  # number of inputs; 0 = two or more
    takes_c1: bool = False  # SAME-rule blocks that need their input channels (SELayer)
    stride: Callable[[dict], float] = lambda a: 1  # spatial factor per copy; 0.5 = upsample x2
    size: Callable[[dict, int], int] | None = None  # output size from input size; default ceil(h / stride)
    check: Callable[[Layer], str | None] | None = None  # message if the layer breaks a rule
    aliases: tuple[str, ...] = field(default=())
    # Where a block of this name and meaning already exists (YOLOV5, ULTRALYTICS): the export pack
    # ships and explains only the blocks with none (engine's pack.py).
    upstream: tuple[str, ...] = ()
    # Output shape = input shape and thop counts nothing inside (an activation): on the meta device
    # graph/flops.py passes it straight through instead of running it.
    elementwise: bool = False
    # Given an instance: is its activation, upstream, the one module all such instances share
    # (YOLOv5 / Ultralytics `Conv.default_act`, a class attribute, inherited by DWConv)? Their
    # summaries count that module once, ours own one each: graph/counts.py counts them as one.
    shared_act: Callable[[nn.Module], bool] | None = None
    # (from, n, module, args) yaml rows that make valid instances; every block needs them (a test
    # checks): see EXAMPLE_DOWN above.
    example: tuple[tuple, ...] = ()
    # Makes the module from the constructor args when that is not `cls(...)`: the args pick one of
    # several classes, all subclasses of `cls` (the yaml name `Detect`: `detect_head` picks the head).
    build: Callable[..., nn.Module] | None = None
    # How far one output cell sees into the block's input, in input cells, through one copy
    # (graph/receptive.py: rf_out = rf_in + (reach - 1) * jump_in). None: read off the args, a
    # `d`-dilated `k` x `k` window (1 without a `k`) -- right for a single conv, a pool or a
    # point-wise op. Composite blocks give their own: (args, n) -> cells, `n` for repeat=INSIDE.
    # Attention (PSA, area attention, transformer layers) mixes every position of the map; like
    # squeeze-and-excite's global pool that mixing is left out of receptive fields, and `reach` counts
    # the local path (attention as if each position attended to itself). Their modules carry
    # `attend_globally`, which tests/test_receptive.py turns off to measure that local path.
    reach: Callable[[dict, int], int] | None = None
    # Rewrites the yaml args for the model's scale (n / s / m / l / x, or None) before they are bound,
    # as upstream's parse_model does for some blocks (C3k2 takes c3k=True at m / l / x; A2C2f
    # appends residual, mlp_ratio on l / x): (written args, scale) -> args. graph/resolve.py applies it.
    scale_rule: Callable[[tuple, str | None], tuple] | None = None
    # Upstream's parse_model clears its `legacy` flag when a model uses this block (C3k2, A2C2f,
    # C2fCIB): the anchor-free Detect of such a model builds YOLO11's lighter, depth-wise class
    # branch (`LayerGraph.legacy`).
    clears_legacy: bool = False

    def make(self, *args, **kwargs) -> nn.Module:
        """A module of this block from its constructor args (`build`, or else `cls`)."""
        return (self.build or self.cls)(*args, **kwargs)

    def out_size(self, args: dict, h: int) -> int:
        """Output height (or width) of one copy for an input of `h`."""
        if self.size is not None:
            return self.size(args, h)
        f = self.stride(args)
        return math.ceil(h / f) if f >= 1 else round(h / f)

    def reach_of(self, args: dict, n: int = 1) -> int:
        """Input cells one output cell of one copy sees (see `reach`)."""
        if self.reach is not None:
            return self.reach(args, n)
        return args.get("d", 1) * (k_max(args) - 1) + 1

    def schema(self) -> list[dict]:
        """The args as plain data, for forms and `catalog --json`."""
        return [
            {
                "name": a.name,
                "kind": a.kind,
                "default": None if a.required else a.default,
                "required": a.required,
                "help": a.help,
                **({"low": a.low} if a.low is not None else {}),
                **({"high": a.high} if a.high is not None else {}),
                **({"choices": list(a.choices)} if a.choices else {}),
            }
            for a in self.args
        ]


REGISTRY: dict[str, BlockInfo] = {}
_BY_CLASS: dict[type, BlockInfo] = {}
# A yaml name that the two dialects build differently (YOLOv5's Bottleneck is 1x1 then 3x3, Ultralytics'
# 3x3 then 3x3 with `k` among its args): (dialect, name) -> that dialect's form. REGISTRY keeps the
# default form (the one the catalogue lists); `get_block(name, dialect)` picks.
DIALECT_FORMS: dict[tuple[str, str], BlockInfo] = {}


# Upstream modules known and deliberately not built here, with the reason a user is told instead of
# "unknown block": the other tasks' heads (this tool designs detectors), and the families whose head is
# not a YOLO detection head.
_OTHER_TASK = "a {task} head: this tool designs detection models; end the file with Detect [nc] instead"
_RTDETR = "part of RT-DETR (a transformer decoder head, not a YOLO Detect head), which this tool does not build"
_OPEN = "part of YOLO-World / YOLOE (open-vocabulary heads driven by text embeddings), which this tool does not build"
NOT_BUILT = {
    **{n: _OTHER_TASK.format(task=t) for n, t in (
        ("Segment", "segmentation"), ("Segment26", "segmentation"), ("SemanticSegment", "semantic segmentation"),
        ("Pose", "pose"), ("Pose26", "pose"), ("OBB", "oriented-box"), ("OBB26", "oriented-box"),
        ("Classify", "classification"), ("Depth", "depth"))},
    **{n: _RTDETR for n in ("RTDETRDecoder", "HGStem", "HGBlock", "AIFI")},
    "ResNetLayer": "a ResNet stage of RT-DETR's and the classifiers' files, which this tool does not build",
    "TorchVision": "a whole torchvision model loaded by name, which this tool does not build",
    **{n: _OPEN for n in ("WorldDetect", "YOLOEDetect", "YOLOESegment", "YOLOESegment26", "C2fAttn",
                          "ImagePoolingAttn", "LRPCHead")},
}


class UnknownBlock(KeyError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name, self.suggestions = name, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        why = NOT_BUILT.get(name)
        super().__init__(f"{name!r} is {why}" if why else
                         f"unknown block {name!r}{hint} (`python launch.py catalog` lists them)")

    def __str__(self) -> str:
        return self.args[0]


def register(name: str, **info) -> Callable[[type], type]:
    """Class decorator: `@register("C3", summary=..., source=..., args=(...), repeat=INSIDE)`.

    Also callable as `register("nn.Upsample", family="conv", ...)(nn.Upsample)` for a class
    defined elsewhere. `dialect="ultralytics"` registers that dialect's form of a name already
    registered (DIALECT_FORMS)."""

    def deco(cls: type) -> type:
        family = info.pop("family", cls.__module__.rsplit(".", 1)[-1])
        dialect = info.pop("dialect", None)
        entry = BlockInfo(name=name, cls=cls, family=family, **info)
        table = REGISTRY if dialect is None else DIALECT_FORMS
        for key in (name, *entry.aliases):
            key = key if dialect is None else (dialect, key)
            if key in table:
                raise ValueError(f"block name {key!r} registered twice")
            table[key] = entry
        _BY_CLASS.setdefault(cls, entry)
        return cls

    return deco


def get_block(name: str, dialect: str | None = None) -> BlockInfo:
    """The entry of a yaml name; with a dialect, that dialect's own form where it has one."""
    if dialect is not None and isinstance(name, str) and (dialect, name) in DIALECT_FORMS:
        return DIALECT_FORMS[(dialect, name)]
    if not isinstance(name, str) or name not in REGISTRY:
        text = name if isinstance(name, str) else repr(name)
        close = difflib.get_close_matches(text, list(REGISTRY), n=3, cutoff=0.6)
        if not close:
            lowered = {k.lower(): k for k in REGISTRY}
            close = [lowered[k] for k in difflib.get_close_matches(text.lower(), list(lowered), n=3)]
        raise UnknownBlock(text, close)
    return REGISTRY[name]


def info_of(module: nn.Module) -> BlockInfo | None:
    """The entry of a module's class or else of its nearest registered base class (a subclass keeps
    its base's facts); None for a module that is no block (nn.Conv2d, nn.SiLU ...)."""
    for klass in type(module).__mro__:
        info = _BY_CLASS.get(klass)
        if info is not None:
            return info
    return None


def list_blocks(filter: str = "") -> list[BlockInfo]:
    """Registered blocks (each once, aliases folded), optionally those whose name contains `filter`."""
    seen, out = set(), []
    for key, info in REGISTRY.items():
        if info.name not in seen and filter.lower() in key.lower():
            seen.add(info.name)
            out.append(info)
    return out


# Arguments most blocks share, spelled once.
def c2_arg(help: str = "output channels (scaled by width)") -> Arg:
    return Arg("c2", "int", help=help, low=1, high=16384)


def k_arg(default: int = 1) -> Arg:
    return Arg("k", "ints", default, "kernel size", low=1, high=15)


def s_arg(default: int = 1, high: int = 4) -> Arg:
    return Arg("s", "int", default, "stride", low=1, high=high)


def e_arg(default: float = 0.5) -> Arg:
    return Arg("e", "float", default, "hidden-channel expansion", low=0.01, high=8.0)


def k_max(a: dict) -> int:
    """The kernel size in args (the largest of several: SPP's pools, a (kh, kw) pair); 1 without one."""
    k = a.get("k", 1)
    return max(k) if isinstance(k, (tuple, list)) else (k if isinstance(k, int) else 1)


def stride_of(a: dict) -> int:
    return a["s"]


def conv_size(a: dict, h: int) -> int:
    """A convolution's output size: floor((h + 2p - d(k - 1) - 1) / s) + 1, 'same' padding when p is
    None (k // 2 per side, as YOLOv5's autopad)."""
    k, s, d = a.get("k", 1), a.get("s", 1), a.get("d", 1)
    k = k[0] if isinstance(k, tuple) else k
    p = a.get("p")
    p = (d * (k - 1) + 1) // 2 if p is None else p
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def odd_kernel(layer, why: str = "to keep the map size") -> str | None:
    if layer.args["k"] % 2 == 0:
        return f"the kernel must be odd {why}, got {layer.args['k']}"
    return None


def odd_pools(layer) -> str | None:
    ks = layer.args["k"] if isinstance(layer.args["k"], tuple) else (layer.args["k"],)
    if any(k % 2 == 0 for k in ks):
        return f"pool sizes must be odd to keep the map size, got {list(ks)}"
    return None
