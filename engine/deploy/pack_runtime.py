"""The code every export pack ships after its blocks: a layer builder that Ultralytics 8.4's and YOLOv5
7.0's model classes call in place of their own `parse_model`, and `register()`, which puts it there,
so that `YOLO("model.yaml")` / `Model("model.yaml")` build the pack's model and the tool's own trainer
trains it, with no edit to the tool.

The builder is one loop over the yaml rows driven by RULES, a table the pack writes from this
project's block registry (engine/deploy/pack_builder.py): per yaml name its channel rule, how `n`
repeats it, its maker in the pack, the tools that have it, its args rule at some scales. Stock blocks
come from the tool itself (its own classes, so its loss, fuse and export know them), the others from
the pack. The arithmetic is the tools' (and graph/resolve.py's): n -> max(round(n * depth), 1) when
n > 1; c2 -> ceil(min(c2, max_channels) * width / 8) * 8, except YOLOv5's anchor-head output count.
Each layer carries what the tools' forward, info and fuse read: .i, .f, .type, .np.

This file runs alone in the user's environment: torch and the standard library, plus one helper
imported from `blocks` below, which the pack carries as source. A tool is imported only by name,
inside `register()`, a path this project never runs (the tools are GPL / AGPL); its tests drive the
builder with stand-in tools made of our own blocks.
"""
from __future__ import annotations

import ast
import importlib
import logging
import math
import os
import runpy
import sys
import warnings
from typing import NamedTuple

import torch.nn as nn

from blocks.conv import default_activation

# The versions the pack was checked with (see the pack's README); another version gets a warning.
CHECKED_WITH = {"ultralytics": "8.4.190", "yolov5": "7.0"}  # YOLOv5: its 7.0.14 pip package
# Where each tool's model classes look `parse_model` up (a module global, read at each call): the
# Ultralytics package; a YOLOv5 checkout (run from its folder) or the `yolov5` pip package.
TOOL_MODULES = {"ultralytics": ("ultralytics.nn.tasks",), "yolov5": ("models.yolo", "yolov5.models.yolo")}
TOOL_DIALECT = {"ultralytics": "ultralytics", "yolov5": "yolov5"}  # the yaml dialect each one's heads read
# Ultralytics appends these top-level keys to a head's args before its input channels (and sets the
# class-wide `legacy` flag first); v10Detect takes none.
ULTRALYTICS_HEAD_KEYS = {"Detect": (("reg_max", 16), ("end2end", None)), "v10Detect": ()}


class Rule(NamedTuple):
    """How one yaml name builds: written by the pack from the project's registry (blocks/registry.py)."""

    channels: str  # out: args[0] is c2, scaled | same: c_in | sum: concatenated | equal | head
    repeat: str  # stack: n copies in a Sequential | inside: n passed as the 3rd ctor arg | once
    make: object  # the pack's class or function (torch's own class for nn.* layers)
    upstream: tuple = ()  # tools whose own class of this name is used instead of `make`
    takes_c1: bool = False  # same-rule blocks that take the input channels first (ours only)
    scale_rule: object = None  # (written args, scale) -> args, as the tools do for C3k2 / A2C2f
    clears_legacy: bool = False  # Ultralytics' head builds YOLO11's class branch after this block
    name: str = ""  # the name the tools know it by


class Tool(NamedTuple):
    """What the builder needs of a tool: its name, the dialect it reads, its classes by yaml name."""

    name: str  # ultralytics | yolov5
    dialect: str
    modules: dict
    log: object = logging.getLogger("yolo_lite_blocks")


# yaml name -> Rule, the pack's own facts, and the activations a yaml's `activation:` may name
# (blocks/torchnn.py's table): all written by the pack.
RULES: dict[str, Rule] = {}
PACK = {"model": "model", "dialect": "ultralytics"}
ACTIVATION_NAMES = ("SiLU", "ReLU")


def _divisible(x: float, divisor: int = 8) -> int:
    return math.ceil(x / divisor) * divisor


def yaml_dialect(d: dict) -> str:
    """Ultralytics with `scales:` or a head without anchors (`Detect [nc]`); YOLOv5 with anchors."""
    if d.get("scales"):
        return "ultralytics"
    args = (list(d["backbone"]) + list(d["head"]))[-1][3]
    return "yolov5" if len(args) > 1 and args[1] not in (None, "None", "null", "~") else "ultralytics"


def _literal(value, d: dict):
    """A written arg with the yaml's names put in: nc, anchors, None / True / numbers in text."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text in ("nc", "anchors"):
        if text not in d:
            raise ValueError(f"an arg names `{text}`, which the yaml does not define")
        return d[text]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return value  # a word such as 'nearest'


def _activation_factory(text: str):
    """`nn.LeakyReLU(0.1)` -> a function making that module: one of ACTIVATION_NAMES with literal
    args, read with `ast`, never evaluated. ValueError names what is wrong."""
    try:
        call = ast.parse(str(text).strip(), mode="eval").body
        func = call.func if isinstance(call, ast.Call) else None
        owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
        if owner not in ("nn", "torch.nn") or func.attr not in ACTIVATION_NAMES:
            raise ValueError("not an activation this pack knows")
        cls = getattr(nn, func.attr)
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
        cls(*args, **kwargs)
    except (SyntaxError, ValueError, TypeError) as err:
        known = ", ".join(f"nn.{n}()" for n in ACTIVATION_NAMES)
        raise ValueError(f"activation {text!r:.60} ({err}); use one of {known}") from None
    return lambda: cls(*args, **kwargs)


def _multiples(d: dict) -> tuple:
    """(depth, width, max_channels, scale) in force: the `scale` key's row of `scales` (the first
    row when the key is empty or unknown), else depth_multiple / width_multiple."""
    scales = d.get("scales")
    if scales:
        scale = d.get("scale") if d.get("scale") in scales else next(iter(scales))
        depth, width, max_ch = scales[scale]
        return depth, width, max_ch, scale
    return d.get("depth_multiple", 1.0), d.get("width_multiple", 1.0), float("inf"), d.get("scale")


def _anchor_outputs(d: dict):
    """YOLOv5's output count of its anchor head (a layer writing it keeps it unscaled), or None."""
    anchors = d.get("anchors")
    na = len(anchors[0]) // 2 if isinstance(anchors, (list, tuple)) and anchors else anchors
    return na * (d["nc"] + 5) if isinstance(na, int) and not isinstance(na, bool) else None


def _head_args(tool: Tool, name: str, cls, args: list, ch: list, d: dict, legacy: bool) -> list:
    """The tool's own calling convention for its head."""
    if tool.name == "yolov5":
        if len(args) > 1 and isinstance(args[1], int):  # `anchors: 3`: placeholders, placed by autoanchor
            args = [args[0], [list(range(args[1] * 2))] * len(ch), *args[2:]]
        return [*args, ch]
    if name == "Detect":
        cls.legacy = legacy  # as Ultralytics' own parse_model does: its Detect reads the flag when built
    return [*args, *(d.get(key, default) for key, default in ULTRALYTICS_HEAD_KEYS.get(name, ())), ch]


def _maker(rule: Rule, tool: Tool, i: int):
    """(the class or function that builds the layer, whether it is the tool's own)."""
    own = tool.modules.get(rule.name) if tool.name in rule.upstream else None
    if own is not None:
        return own, True
    if rule.channels == "head":
        raise ValueError(f"layer {i}: {tool.name} has no head {rule.name!r}; this model trains in "
                         f"{'YOLOv5 7.0' if PACK['dialect'] == 'yolov5' else 'Ultralytics 8.4'}")
    return rule.make, False


def build_layers(d: dict, ch, tool: Tool, verbose: bool = True):
    """The model yaml (a dict) -> (nn.Sequential of its layers, sorted indices of the outputs that
    later layers read), as the tool's `parse_model` returns them. ValueError names a layer and why."""
    if yaml_dialect(d) != tool.dialect:
        other = "YOLOv5 7.0 (anchor-based head)" if yaml_dialect(d) == "yolov5" else "Ultralytics 8.4"
        raise ValueError(f"this model.yaml is for {other}; {tool.name} cannot train its head")
    depth, width, max_ch, scale = _multiples(d)
    no = _anchor_outputs(d) if tool.dialect == "yolov5" else None
    c_image = ch[-1] if isinstance(ch, (list, tuple)) else ch  # YOLOv5 passes [3], Ultralytics 3
    factory = _activation_factory(d["activation"]) if d.get("activation") else None
    conv = tool.modules.get("Conv")  # the tool's Convs share one class-wide activation
    kept_act = getattr(conv, "default_act", None)
    if factory is not None and conv is not None:
        conv.default_act = factory()
    if verbose:
        tool.log.info(f"\n{'':>3}{'from':>20}{'n':>3}{'params':>10}  {'module':<45}{'arguments':<30}")
    layers, save, outs, legacy, widths = [], [], [], True, {}
    try:
        with default_activation(factory):  # the pack's own Convs
            for i, (f, n, name, args) in enumerate(list(d["backbone"]) + list(d["head"])):
                rule = RULES.get(name)
                if rule is None:
                    raise ValueError(f"layer {i}: this pack has no block {name!r}; export the design again "
                                     f"from YOLO Lite Designer with it in")
                sources = [f] if isinstance(f, int) else list(f)
                at = [i + s if s < 0 else s for s in sources]  # -1 at layer 0: the image
                c_in = [c_image if a < 0 else outs[a] for a in at]
                args = [_literal(a, d) for a in args]
                if rule.scale_rule is not None:
                    args = list(rule.scale_rule(tuple(args), scale))
                if rule.repeat == "once" and n != 1:
                    raise ValueError(f"layer {i}: {name} does not repeat; number must be 1, got {n}")
                n = max(round(n * depth), 1) if n > 1 else n
                make, own = _maker(rule, tool, i)
                if rule.channels == "out":
                    c2 = args[0] if args[0] == no else _divisible(min(args[0], max_ch) * width)
                    ctor = [c_in[0], c2, *args[1:]]
                    if rule.repeat == "inside":
                        ctor.insert(2, n)
                elif rule.channels == "head":
                    c2, ctor = 0, _head_args(tool, rule.name, make, args, c_in, d, legacy)
                elif rule.channels == "split":  # CBLinear: maps of the given widths (a tuple upstream)
                    widths[i] = list(args[0]) if isinstance(args[0], (list, tuple)) else [args[0]]
                    c2, ctor = sum(widths[i]), [c_in[0], *args]
                elif rule.channels == "pick":  # CBFuse: ours slices its maps, so it takes their widths
                    c2 = c_in[-1]
                    ctor = args if own else [args[0], [widths.get(a, [c]) for a, c in zip(at[:-1], c_in)]]
                else:
                    c2 = sum(c_in) if rule.channels == "sum" else c_in[0]
                    ctor = [c_in[0], *args] if rule.takes_c1 and not own else args
                copies = n if rule.repeat == "stack" else 1
                built = [make(*ctor) for _ in range(copies)]
                if own and tool.name == "ultralytics" and rule.name == "SPPF" and len(ctor) <= 3:
                    for block in built:  # Ultralytics: a row written [c2] / [c2, k] keeps cv1 activated
                        block.cv1.act = conv.default_act
                m = nn.Sequential(*built) if copies > 1 else built[0]
                m.np = sum(p.numel() for p in m.parameters())
                m.i, m.f, m.type = i, f, f"{type(built[0]).__module__}.{type(built[0]).__qualname__}"
                if verbose:
                    tool.log.info(f"{i:>3}{str(f):>20}{n:>3}{m.np:10.0f}  {m.type:<45}{str(ctor):<30}")
                save.extend(s % i for s in sources if s != -1)
                layers.append(m)
                outs.append(c2)
                legacy = legacy and not rule.clears_legacy
    finally:
        if factory is not None and conv is not None:
            conv.default_act = kept_act
    return nn.Sequential(*layers), sorted(set(save))


def uses_pack_blocks(d: dict, tool_name: str) -> bool:
    """Does the yaml name a block of this pack that the tool lacks? Other yamls go to the tool's own
    `parse_model`, so registering changes nothing for them."""
    names = {row[2] for row in list(d.get("backbone") or []) + list(d.get("head") or [])}
    return any(tool_name not in RULES[n].upstream for n in names if n in RULES)


def _tool(name: str, module) -> Tool:
    classes = {k: v for k, v in vars(module).items() if isinstance(v, type) and issubclass(v, nn.Module)}
    return Tool(name, TOOL_DIALECT[name], classes, getattr(module, "LOGGER", None) or logging.getLogger(name))


def _patched(name: str, module, original):
    def parse_model(d, ch, *rest, **kwargs):
        if not uses_pack_blocks(d, name):
            return original(d, ch, *rest, **kwargs)
        verbose = kwargs.get("verbose", rest[0] if rest else True)
        return build_layers(d, ch, _tool(name, module), verbose)

    parse_model.yolo_lite_original = original
    return parse_model


def _version_note(name: str, module_name: str) -> None:
    version = getattr(sys.modules.get(module_name.split(".")[0]), "__version__", None)
    wanted = CHECKED_WITH[name].split()[0]
    if version is not None and not str(version).startswith(wanted[:3]):
        warnings.warn(f"yolo_lite_blocks was checked with {name} {CHECKED_WITH[name]}; this is {version}",
                      stacklevel=3)


def register(tool: str | None = None) -> list[str]:
    """Make the tool(s) importable here build this pack's blocks: each one's module-level
    `parse_model` becomes a builder that knows them (for yamls that use them; others go to the
    original). `tool`: "ultralytics" or "yolov5"; None: every one found. Returns the modules patched."""
    names = TOOL_MODULES if tool is None else {tool: TOOL_MODULES[tool]} if tool in TOOL_MODULES else None
    if names is None:
        raise ValueError(f"register(tool=...) takes 'ultralytics', 'yolov5' or None, got {tool!r}")
    done, tried = [], []
    for name, module_names in names.items():
        for module_name in module_names:
            try:
                module = importlib.import_module(module_name)
            except Exception as err:  # noqa: BLE001 - a tool that is there but breaks is reported
                missing = (getattr(err, "name", None) or "") if isinstance(err, ImportError) else ""
                if not (missing and module_name.startswith(missing)):
                    tried.append(f"{module_name} ({type(err).__name__}: {err})")
                continue
            original = getattr(module, "parse_model", None)
            if not callable(original) or not hasattr(module, "Detect"):
                continue  # a module of that name that is not the tool's
            if not hasattr(original, "yolo_lite_original"):
                module.parse_model = _patched(name, module, original)
                _version_note(name, module_name)
            done.append(module_name)
    if not done:
        why = f"; {', '.join(tried)}" if tried else ""
        raise ImportError(f"yolo_lite_blocks.register(): neither Ultralytics nor YOLOv5 can be imported here "
                          f"(looked for {', '.join(m for ms in names.values() for m in ms)}{why}): "
                          f"pip install ultralytics==8.4.*, or run from a YOLOv5 7.0 checkout")
    return done


def unregister() -> None:
    """Give every patched tool its own `parse_model` back."""
    for module_names in TOOL_MODULES.values():
        for module_name in module_names:
            module = sys.modules.get(module_name)
            original = getattr(getattr(module, "parse_model", None), "yolo_lite_original", None)
            if original is not None:
                module.parse_model = original


def main(argv: list[str]) -> int:
    """`python yolo_lite_blocks.py SCRIPT [ARGS ...]`: register, then run SCRIPT (YOLOv5's train.py,
    say) as the main program with ARGS, so a tool's own scripts build this pack's model unedited."""
    if not argv or argv[0] in ("-h", "--help") or not os.path.isfile(argv[0]):
        print("usage: python yolo_lite_blocks.py SCRIPT [ARGS ...]  (e.g. train.py --cfg model.yaml in a "
              "YOLOv5 checkout)" + (f"; no such script: {argv[0]}" if argv and argv[0][:1] != "-" else ""),
              file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    script = os.path.abspath(argv[0])
    sys.path.insert(0, os.path.dirname(script))  # where a YOLOv5 checkout's `models` package lives
    try:
        print(f"yolo_lite_blocks: registered in {', '.join(register())}", file=sys.stderr)
    except ImportError as err:
        print(err, file=sys.stderr)
        return 1
    sys.argv = [script, *argv[1:]]
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":  # run as a file: use the module proper, so checkpoints name its classes
    sys.exit(importlib.import_module(os.path.splitext(os.path.basename(__file__))[0]).main(sys.argv[1:]))
