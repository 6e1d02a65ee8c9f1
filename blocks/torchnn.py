"""Plain torch layers that YOLOv5 / Ultralytics yaml files name directly (`nn.MaxPool2d`, `nn.ZeroPad2d`,
`nn.ConvTranspose2d`, `nn.Identity`, the activations), registered from a table like every other block,
and the `activation:` key's own small table.

Upstream parse_model looks `nn.X` up with `getattr(torch.nn, ...)` (Ultralytics) or `eval` (YOLOv5);
here a name is a registry entry or it is refused. Both read the layers the same way: the channels of
`nn.ConvTranspose2d` come from its first argument, scaled by width as a Conv's are; every other layer
here keeps its input's channels. `torch.nn.X` is an alias of `nn.X`.

`activation: nn.LeakyReLU(0.1)` (or `torch.nn.ReLU()` ...) sets the activation of every Conv built
with its default `act` (blocks/conv.py `default_activation`). `activation_kwargs` reads it with a
regular expression and the argument table below, never `eval`; anything else is refused.
"""
from __future__ import annotations

import math
import re

import torch.nn as nn

from .registry import BOTH, EXAMPLE_DOWN, OUT, SAME, Arg, c2_arg, k_max, register

# ------------------------------------------------------------------ activations


def _inplace() -> Arg:
    return Arg("inplace", "bool", False, "work in place (not where another layer reads the same input)")


# torch class -> its arguments as yaml (and the `activation:` key) may write them.
ACTIVATIONS: dict[str, tuple[type[nn.Module], tuple[Arg, ...]]] = {
    "SiLU": (nn.SiLU, (_inplace(),)),
    "ReLU": (nn.ReLU, (_inplace(),)),
    "ReLU6": (nn.ReLU6, (_inplace(),)),
    "LeakyReLU": (nn.LeakyReLU, (Arg("negative_slope", "float", 0.01, "slope for x < 0", low=0, high=1),
                                 _inplace())),
    "Hardswish": (nn.Hardswish, (_inplace(),)),
    "Hardsigmoid": (nn.Hardsigmoid, (_inplace(),)),
    "GELU": (nn.GELU, (Arg("approximate", "str", "none", "tanh approximation or none",
                           choices=("none", "tanh")),)),
    "Mish": (nn.Mish, (_inplace(),)),
    "ELU": (nn.ELU, (Arg("alpha", "float", 1.0, "scale of the negative part", low=0, high=10), _inplace())),
    "Sigmoid": (nn.Sigmoid, ()),
    "Tanh": (nn.Tanh, ()),
}

for _name, (_cls, _args) in ACTIVATIONS.items():
    register(f"nn.{_name}", family="torchnn", summary=f"torch {_name} activation (no parameters)",
             source="PyTorch, as YOLOv5 / Ultralytics yaml name it", args=_args, channels=SAME,
             aliases=(f"torch.nn.{_name}",), upstream=BOTH, elementwise=True,
             example=(EXAMPLE_DOWN, (-1, 1, f"nn.{_name}", ())))(_cls)


_CALL = re.compile(r"(?:torch\.)?nn\.([A-Za-z][A-Za-z0-9_]{0,30})\((.{0,80})\)")
_NUMBER = re.compile(r"[+-]?(\d{1,9}(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
_KEYWORD = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,30})\s*=\s*(.+)")
_WORDS = {"True": True, "False": False}


def _token(text: str):
    text = text.strip()
    if text in _WORDS:
        return _WORDS[text]
    if _NUMBER.fullmatch(text):
        value = float(text)
        return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    raise ValueError(f"{text!r} is not a number, True / False or a quoted word")


def _expect(arg: Arg) -> str:
    if arg.kind == "bool":
        return "True or False"
    if arg.kind == "float":
        return f"a number from {arg.low:g} to {arg.high:g}"
    return "one of " + ", ".join(repr(c) for c in arg.choices)


def _fits(arg: Arg, value) -> bool:
    if arg.kind == "bool":
        return isinstance(value, bool)
    if arg.kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and (
            (arg.low is None or value >= arg.low) and (arg.high is None or value <= arg.high))
    return isinstance(value, str) and (not arg.choices or value in arg.choices)


def activation_kwargs(text: str) -> tuple[type[nn.Module], dict]:
    """`nn.LeakyReLU(0.1)` -> (nn.LeakyReLU, {"negative_slope": 0.1}); ValueError with the cause for
    anything that is not one of ACTIVATIONS called with literal arguments."""
    allowed = ", ".join(f"nn.{n}()" for n in ACTIVATIONS)
    if not isinstance(text, str):
        raise ValueError(f"activation must be text such as nn.ReLU(), got {text!r:.40}")
    m = _CALL.fullmatch(text.strip())
    if not m:
        raise ValueError(f"activation {text.strip()!r:.60} is not an nn.<Activation>(...) call; use one of {allowed}")
    name, inside = m.group(1), m.group(2).strip()
    if name not in ACTIVATIONS:
        raise ValueError(f"activation nn.{name} is not supported; use one of {allowed}")
    cls, schema = ACTIVATIONS[name]
    kwargs: dict = {}
    parts = inside.split(",") if inside else []
    keywords = False
    for i, part in enumerate(parts):
        kw = _KEYWORD.fullmatch(part.strip())
        if kw:
            keywords = True
            key, raw = kw.group(1), kw.group(2)
            arg = next((a for a in schema if a.name == key), None)
            if arg is None:
                raise ValueError(f"activation nn.{name} has no argument {key!r}")
        else:
            if keywords:
                raise ValueError(f"activation nn.{name}: a positional argument after a keyword one")
            if i >= len(schema):
                raise ValueError(f"activation nn.{name} takes at most {len(schema)} arguments, got {len(parts)}")
            arg, raw = schema[i], part
        try:
            value = _token(raw)
        except ValueError as err:
            raise ValueError(f"activation nn.{name}: {err}") from None
        if arg.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not _fits(arg, value):
            raise ValueError(f"activation nn.{name}: {arg.name} = {value!r:.20} should be {_expect(arg)}")
        if arg.name in kwargs:
            raise ValueError(f"activation nn.{name}: {arg.name} given twice")
        kwargs[arg.name] = value
    return cls, kwargs


def activation_factory(text: str | None):
    """A zero-argument function making the module `text` names (None for None: the default SiLU)."""
    if text is None:
        return None
    cls, kwargs = activation_kwargs(text)
    return lambda: cls(**kwargs)


# ------------------------------------------------------------------ pooling, padding, identity

def _pool_stride(a: dict) -> int:
    return a["k"] if a["s"] is None else a["s"]


def _pool_size(a: dict, h: int) -> int:
    k, d, p = a["k"], a["d"], a["p"]
    return (h + 2 * p - d * (k - 1) - 1) // _pool_stride(a) + 1


def _pool_check(layer) -> str | None:
    a = layer.args
    if 2 * a["p"] > a["d"] * (a["k"] - 1) + 1:
        return f"padding {a['p']} is over half the pool window ({a['k']}): torch refuses it"
    return None


register("nn.MaxPool2d", family="torchnn", summary="max-pooling (k x k window, stride s)",
         source="PyTorch, as YOLOv3-tiny's yaml uses it", channels=SAME, check=_pool_check,
         args=(Arg("k", "int", help="window size", low=1, high=31),
               Arg("s", "int?", None, "stride (None = the window size)", low=1, high=8),
               Arg("p", "int", 0, "zero padding per side", low=0, high=15),
               Arg("d", "int", 1, "dilation", low=1, high=4)),
         stride=_pool_stride, size=_pool_size, aliases=("torch.nn.MaxPool2d",), upstream=BOTH,
         example=((-1, 1, "nn.MaxPool2d", (2, 2)), (-1, 2, "nn.MaxPool2d", (3, 1, 1)),
                  (-1, 1, "nn.MaxPool2d", (5, 1, 2)))
         )(nn.MaxPool2d)


def _sides(a: dict) -> tuple[int, int, int, int]:
    """(left, right, top, bottom), as torch reads an int or four ints."""
    p = a["padding"]
    return (p,) * 4 if isinstance(p, int) else tuple(p)


def _pad_check(layer) -> str | None:
    p = layer.args["padding"]
    if isinstance(p, tuple) and len(p) != 4:
        return f"padding is one number or four (left, right, top, bottom), got {list(p)}"
    left, right, top, bottom = _sides(layer.args)
    if left + right != top + bottom:
        return (f"pads width by {left + right} and height by {top + bottom}; this designer keeps maps "
                f"square, so pad both alike (YOLOv3-tiny: [0, 1, 0, 1])")
    return None


register("nn.ZeroPad2d", family="torchnn", summary="zero padding (one number, or left, right, top, bottom)",
         source="PyTorch, as YOLOv3-tiny's yaml uses it", channels=SAME, check=_pad_check,
         args=(Arg("padding", "ints", help="pixels per side, or [left, right, top, bottom]", low=0, high=16),),
         size=lambda a, h: h + _sides(a)[2] + _sides(a)[3] if len(_sides(a)) == 4 else h,
         aliases=("torch.nn.ZeroPad2d",), upstream=BOTH,
         # YOLOv3-tiny's pad-then-pool keeps the size; a 1-pixel pad before an unpadded 3x3 conv too
         example=((-1, 1, "nn.ZeroPad2d", ((0, 1, 0, 1),)), (-1, 1, "nn.MaxPool2d", (2, 1, 0)),
                  (-1, 1, "nn.ZeroPad2d", (1,)), (-1, 1, "Conv", (32, 3, 1, 0)), EXAMPLE_DOWN))(nn.ZeroPad2d)


register("nn.Identity", family="torchnn", summary="passes its input through", source="PyTorch",
         channels=SAME, aliases=("torch.nn.Identity",), upstream=BOTH,
         example=(EXAMPLE_DOWN, (-1, 1, "nn.Identity", ())))(nn.Identity)


# ------------------------------------------------------------------ transposed convolution

def _tconv_size(a: dict, h: int) -> int:
    return (h - 1) * a["s"] - 2 * a["p"] + a["d"] * (a["k"] - 1) + a["op"] + 1


def _tconv_check(layer) -> str | None:
    a = layer.args
    if a["op"] >= max(a["s"], a["d"]):
        return f"output_padding {a['op']} must be smaller than the stride or the dilation"
    grow = a["d"] * (a["k"] - 1) + a["op"] + 1 - 2 * a["p"]
    if grow != a["s"]:
        return (f"upsamples each cell to {grow} pixels, not the stride {a['s']}: use k = s, p = 0 "
                f"(as YOLOv6's [c2, 2, 2, 0]) so the map grows exactly s times")
    return None


register("nn.ConvTranspose2d", family="torchnn",
         summary="transposed convolution: upsamples x s, output channels from args (scaled by width)",
         source="PyTorch, as YOLOv6's yaml uses it (parse_model scales its c2 like a Conv's)",
         channels=OUT, check=_tconv_check,
         args=(c2_arg(), Arg("k", "int", 1, "kernel size", low=1, high=15),
               Arg("s", "int", 1, "stride: upsampling factor", low=1, high=8),
               Arg("p", "int", 0, "padding", low=0, high=15),
               Arg("op", "int", 0, "output_padding", low=0, high=7),
               Arg("g", "int", 1, "groups", low=1),
               Arg("bias", "bool", True, "learned bias"),
               Arg("d", "int", 1, "dilation", low=1, high=4)),
         stride=lambda a: 1 / a["s"], size=_tconv_size, aliases=("torch.nn.ConvTranspose2d",), upstream=BOTH,
         # one output cell is fed by at most ceil(window / s) input cells (1 when k = s)
         reach=lambda a, n: math.ceil((a["d"] * (k_max(a) - 1) + 1) / a["s"]),
         example=(EXAMPLE_DOWN, (-1, 1, "Conv", (32, 3, 2)), (-1, 1, "nn.ConvTranspose2d", (32, 2, 2, 0)),
                  (-1, 1, "Conv", (32, 3, 2)), (-1, 1, "nn.ConvTranspose2d", (24, 4, 2, 1, 0, 1, False))))(
    nn.ConvTranspose2d)
