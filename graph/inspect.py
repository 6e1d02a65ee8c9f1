"""inspect: one layer seen as a form, the blocks that fit its place, and the edit that replaces it —
what the Design tab's layer inspector asks of graph/ (plain functions on the spec, no Gradio).

    form(spec, i, module=None)      -> Form: the layer's block, n and one Field per schema argument,
                                       with the value as written (text) or the default; for another
                                       `module`, the layer's values carried over by argument name
    fitting(spec, i, imgsz)         -> [BlockInfo]: the blocks that can take layer i's place and keep
                                       the graph valid (the current block first)
    replace(spec, i, module, values, n) -> edit.Edited: layer i as `module`, args by name

What "fits" means: the same input arity (one map, or several maps combined), the head only for the
head; the layer's arguments carried over by name (a required `c2` the old block did not have is the
layer's output channels, so the next layer sees what it saw); and the edited spec resolves at the
image size shown (graph/resolve.py checks shapes, channels and every block's own constraints). A
block is tried, never guessed: resolving a spec costs well under a millisecond.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

from blocks import list_blocks
from blocks.registry import HEAD, ONCE, BlockInfo

from .edit import Edited, _check_args, _index, _info, _value
from .errors import SpecError
from .resolve import resolve
from .spec import ModelSpec, _tupled


class Field(NamedTuple):
    name: str
    kind: str
    text: str  # the value as written in the yaml ('' = not written: the default applies)
    default: str  # the default as text ('' for a required argument)
    help: str
    low: float | None
    high: float | None
    choices: tuple | None
    required: bool


class Form(NamedTuple):
    index: int
    module: str
    n: int
    repeats: bool  # False: the block does not repeat (n is 1)
    fields: tuple[Field, ...]
    carried: tuple[str, ...]  # for another module: names whose values came from the layer
    dropped: tuple[str, ...]  # for another module: the layer's written args the new block has no slot for


def text_of(value) -> str:
    """A yaml argument value as the inspector shows it: `3`, `True`, `None`, `[3, 5]`, `nearest`."""
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(text_of(v) for v in value) + "]"
    return "None" if value is None else str(value)


def parse_value(text: str):
    """Inspector text -> a yaml value (graph/safeyaml.py; never evaluated); '' -> None meaning 'default'."""
    text = (text or "").strip()
    return None if text == "" else _value(text)


def _written(spec: ModelSpec, i: int) -> dict:
    """The layer's args as written, by schema name."""
    lay = spec.layers[i]
    info = _info(lay.module, i, spec.dialect)
    return {a.name: lay.args[k] for k, a in enumerate(info.args) if k < len(lay.args)}


def _c2_for(spec: ModelSpec, i: int, imgsz: int) -> int:
    """The `c2` to write so that a block in layer i's place gives the channels the layer gives now."""
    node = resolve(spec, imgsz).layers[i]
    width = spec.multiples[1] or 1.0
    return max(1, round(node.c_out / width)) if node.c_out else 1


def carry(spec: ModelSpec, i: int, module: str, imgsz: int = 640) -> tuple[dict, tuple, tuple]:
    """(values by name for `module`, names carried, names dropped) from layer i's written args."""
    new = _info(module, i, spec.dialect)
    old = _written(spec, i)
    names = {a.name for a in new.args}
    values = {k: v for k, v in old.items() if k in names}
    dropped = tuple(k for k in old if k not in names)
    carried = tuple(values)
    if "c2" in names and "c2" not in values and new.args[0].required:
        values["c2"] = _c2_for(spec, i, imgsz)
    return values, carried, dropped


def form(spec: ModelSpec, i: int, module: str | None = None, imgsz: int = 640) -> Form:
    """Layer i as a form; with `module`, the form of that block with the layer's values carried over."""
    i = _index(spec, i)
    lay = spec.layers[i]
    if module is None or module == lay.module:
        info, values, carried, dropped = _info(lay.module, i, spec.dialect), _written(spec, i), (), ()
    else:
        info = _info(module, i, spec.dialect)
        values, carried, dropped = carry(spec, i, module, imgsz)
    fields = tuple(Field(a.name, a.kind, text_of(values[a.name]) if a.name in values else "",
                         "" if a.required else text_of(a.default), a.help, a.low, a.high, a.choices, a.required)
                   for a in info.args)
    repeats = info.repeat != ONCE
    return Form(i, info.name, lay.n if repeats else 1, repeats, fields, carried, dropped)


def replace(spec: ModelSpec, i: int, module: str, values: dict, n: int = 1) -> Edited:
    """Layer i as `module` with `values` (name -> yaml value; None or missing = the default) and n
    repeats; its `from` is kept. Args are written up to the last one given; a required one missing,
    an unknown name or a value the block refuses is a SpecError naming the layer."""
    i = _index(spec, i)
    lay = spec.layers[i]
    old, info = _info(lay.module, i, spec.dialect), _info(module, i, spec.dialect)
    if (old.channels == HEAD) != (info.channels == HEAD):
        raise SpecError(f"{info.name} cannot take the place of {old.name}: only a head replaces a head",
                        layer=i, module=old.name, field="module")
    names = [a.name for a in info.args]
    unknown = [k for k in values if k not in names]
    if unknown:
        raise SpecError(f"{info.name} has no argument {', '.join(unknown)}; its arguments are "
                        f"{', '.join(names) or 'none'}", layer=i, module=info.name, field="args")
    given = {k: _tupled(v) for k, v in values.items() if v is not None}
    missing = [a.name for a in info.args if a.required and a.name not in given]
    if missing:
        raise SpecError(f"{info.name} needs {', '.join(missing)}", layer=i, module=info.name, field="args")
    last = max((names.index(k) for k in given), default=-1)
    args = tuple(given.get(a.name, a.default) for a in info.args[:last + 1])
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpecError(f"n (repeats) must be a whole number >= 1, got {n!r}", layer=i, module=info.name, field="n")
    if info.repeat == ONCE and n != 1:
        raise SpecError(f"{info.name} does not repeat; n must be 1", layer=i, module=info.name, field="n")
    _check_args(spec, info, args, i)
    new = dataclasses.replace(lay, module=lay.module if info is old else info.name, args=args, n=n)
    if new == lay:
        return Edited(spec, (f"layer {i} ({lay.module}): nothing changed",), ())
    shown = lambda m, a: f"{m}[{', '.join(text_of(v) for v in a)}]" + (f" ×{n}" if n > 1 else "")  # noqa: E731
    note = f"layer {i}: {shown(lay.module, lay.args)} -> {shown(new.module, new.args)}"
    return Edited(dataclasses.replace(spec, layers=spec.layers[:i] + (new,) + spec.layers[i + 1:]), (note,), (i,))


def _arity(info: BlockInfo) -> str:
    return "head" if info.channels == HEAD else ("one" if info.inputs == 1 else "many")


def fitting(spec: ModelSpec, i: int, imgsz: int = 640) -> list[BlockInfo]:
    """The blocks that can take layer i's place (see the module docstring), the current one first."""
    i = _index(spec, i)
    lay = spec.layers[i]
    here = _info(lay.module, i, spec.dialect)
    shape = resolve(spec, imgsz).layers[i].shape
    out = [here]
    for info in list_blocks():
        if info.name == here.name or _arity(info) != _arity(here):
            continue
        try:
            values, _, _ = carry(spec, i, info.name, imgsz)
            edited = replace(spec, i, info.name, values, lay.n if info.repeat != ONCE else 1).spec
            if resolve(edited, imgsz).layers[i].shape != shape:
                continue
        except (SpecError, ValueError):
            continue
        out.append(info)
    return out
