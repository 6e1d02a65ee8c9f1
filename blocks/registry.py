"""The block registry: every yaml module name maps to a `BlockInfo` that says all the rest of the
system needs to know about a block — its arguments, how its output channels follow from its inputs,
how `n` repeats it, its stride, its own constraints and where it comes from.

Blocks register themselves next to their class with `@register(...)` (the timm idea: a plain dict
filled by a decorator; `blocks/__init__.py` imports every family so nothing goes unregistered).
Adding a block is one family file plus one import line; `graph/` never branches on a block's name.
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
    n: int
    strides: tuple = ()  # input pixels per cell of each input


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

    def out_size(self, args: dict, h: int) -> int:
        """Output height (or width) of one copy for an input of `h`."""
        if self.size is not None:
            return self.size(args, h)
        f = self.stride(args)
        return math.ceil(h / f) if f >= 1 else round(h / f)

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


class UnknownBlock(KeyError):
    def __init__(self, name: str, suggestions: list[str]):
        self.name, self.suggestions = name, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown block {name!r}{hint} (`python launch.py catalog` lists them)")

    def __str__(self) -> str:
        return self.args[0]


def register(name: str, **info) -> Callable[[type], type]:
    """Class decorator: `@register("C3", summary=..., source=..., args=(...), repeat=INSIDE)`.

    Also callable as `register("nn.Upsample", family="conv", ...)(nn.Upsample)` for a class
    defined elsewhere."""

    def deco(cls: type) -> type:
        family = info.pop("family", cls.__module__.rsplit(".", 1)[-1])
        entry = BlockInfo(name=name, cls=cls, family=family, **info)
        for key in (name, *entry.aliases):
            if key in REGISTRY:
                raise ValueError(f"block name {key!r} registered twice")
            REGISTRY[key] = entry
        return cls

    return deco


def get_block(name: str) -> BlockInfo:
    if not isinstance(name, str) or name not in REGISTRY:
        text = name if isinstance(name, str) else repr(name)
        close = difflib.get_close_matches(text, list(REGISTRY), n=3, cutoff=0.6)
        if not close:
            lowered = {k.lower(): k for k in REGISTRY}
            close = [lowered[k] for k in difflib.get_close_matches(text.lower(), list(lowered), n=3)]
        raise UnknownBlock(text, close)
    return REGISTRY[name]


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


def odd_kernel(layer) -> str | None:
    if layer.args["k"] % 2 == 0:
        return f"the kernel must be odd to keep the map size, got {layer.args['k']}"
    return None


def odd_pools(layer) -> str | None:
    ks = layer.args["k"] if isinstance(layer.args["k"], tuple) else (layer.args["k"],)
    if any(k % 2 == 0 for k in ks):
        return f"pool sizes must be odd to keep the map size, got {list(ks)}"
    return None
