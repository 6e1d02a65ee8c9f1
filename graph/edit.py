"""edit: block-level edits as pure functions ModelSpec -> Edited(spec, notes, changed).

    insert(spec, after, row)           a layer after layer `after` (-1: at the start)
    delete(spec, index)                a layer no other layer reads by index
    set_arg(spec, index, name, value)  one argument by its schema name (or `n`, the repeats)
    swap(spec, old, new, section="all", where=None)   every matching layer's block
    apply(spec, steps)                 `launch.py edit`'s options, (option, text) in command-line order
Recipes (named edits that reproduce an article's model: recipe(), list_recipes()) are graph/recipes.py.

Every `from` in the file is renumbered (Concat and Detect inputs included), so the edited spec says
the same graph around the edit. What is kept and what changes:
- insert: an absolute index at or past the new layer moves up by one; a relative -1 keeps meaning
  "the previous layer", so the layer after the new one now reads the new one (the usual meaning of
  inserting into a chain); other relative refs (-2 ...) keep their target. The new layer's section
  (backbone / head yaml list) is its predecessor's (the first layer's, for after=-1).
- delete: refused while a layer reads the deleted one by index (an absolute `from`, or a relative
  ref other than the next layer's -1), naming the readers. The next layer's -1 is rewired to the
  deleted layer's input when it has exactly one (the inverse of insert: insert then delete the same
  index gives back the spec); a deleted layer with several inputs read by -1 is refused.
- swap: arguments carry over by name through the two blocks' schemas (blocks/registry.py). An arg
  written for the old block that the new one has no slot for is dropped with a note only when it
  holds the old block's default (the drop changes nothing); otherwise the swap is refused. A shared
  arg left unwritten whose defaults differ is written out with the old default. A required arg of
  the new block with no value is refused. Nothing is guessed.
Sections for swap: backbone = the backbone list; head = the Detect layer; neck = the rest of the
head list (as graph/resolve.py decides LayerNode.section). Errors are one-line SpecErrors naming the
layer and the cause. No layer is resolved here: counts and shape checks are the caller's
(graph/resolve.py) on the edited spec.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

from blocks import UnknownBlock, get_block
from blocks.registry import HEAD, ONCE, BlockInfo

from . import safeyaml
from .args import bind, literal
from .errors import SpecError
from .spec import LayerSpec, ModelSpec, _layer, _tupled

SECTIONS = ("all", "backbone", "neck", "head")


class Edited(NamedTuple):
    spec: ModelSpec
    notes: tuple[str, ...]
    changed: tuple[int, ...]  # indices (in the new spec) of the layers made or changed


# ---------------------------------------------------------------- helpers

def _refs(lay: LayerSpec) -> tuple:
    return lay.from_ if isinstance(lay.from_, tuple) else (lay.from_,)


def _with_refs(lay: LayerSpec, refs: list) -> LayerSpec:
    return dataclasses.replace(lay, from_=tuple(refs) if isinstance(lay.from_, tuple) else refs[0])


def _info(name: str, layer: int | None = None, dialect: str | None = None) -> BlockInfo:
    """The block of a yaml name (in `dialect`'s own form where it has one: blocks/registry.py)."""
    try:
        return get_block(name, dialect)
    except UnknownBlock as err:
        raise SpecError(str(err), layer=layer, field="module") from None


def _index(spec: ModelSpec, index, what: str = "layer", low: int = 0) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not low <= index < len(spec.layers):
        raise SpecError(f"{what} {index!r} is not a layer index ({low}..{len(spec.layers) - 1})", field="index")
    return index


def _check_args(spec: ModelSpec, info: BlockInfo, args: tuple, i: int) -> dict:
    try:
        return bind(info, args, spec.nc, spec.anchors)
    except ValueError as err:
        raise SpecError(str(err), layer=i, module=info.name, field="args") from None


def section_of(spec: ModelSpec, i: int) -> str:
    """backbone | neck | head, as graph/resolve.py decides it."""
    lay = spec.layers[i]
    if lay.section == "backbone":
        return "backbone"
    try:
        return "head" if get_block(lay.module).channels == HEAD else "neck"
    except UnknownBlock:
        return "neck"


def parse_row(row, index: int = 0, section: str = "head") -> LayerSpec:
    """A layer row: a LayerSpec, a list [from, n, module, args], or yaml flow text of one (read with
    graph/safeyaml.py, never evaluated)."""
    if isinstance(row, LayerSpec):
        return dataclasses.replace(row, section=section)
    if isinstance(row, str):
        try:
            row = safeyaml.load(row, "layer row")
        except Exception as err:  # YamlRefused or a yaml syntax error: one line
            raise SpecError(f"the row {row!r:.60} is not a yaml row [from, n, module, args]: "
                            f"{str(err).splitlines()[0]}", layer=index) from None
    return _layer(list(row) if isinstance(row, tuple) else row, index, section, allow_taps=False)


# ---------------------------------------------------------------- insert / delete

def insert(spec: ModelSpec, after: int, row) -> Edited:
    """A new layer after layer `after` (-1 = at the start); every `from` renumbered."""
    after = _index(spec, after, "after", low=-1) if after != -1 else -1
    p = after + 1
    section = spec.layers[max(after, 0)].section
    new = parse_row(row, p, section)
    info = _info(new.module, p, spec.dialect)
    if info.channels == HEAD:
        raise SpecError("a model has one Detect layer, at the end; insert other blocks", layer=p, module=info.name)
    _check_args(spec, info, new.args, p)
    for r in _refs(new):
        if r >= p:
            raise SpecError(f"from {r} points forward: the new layer {p} can only read layers before it",
                            layer=p, module=info.name, field="from")
    out = []
    for i, lay in enumerate(spec.layers):
        ni = i + 1 if i >= p else i
        refs = []
        for r in _refs(lay):
            if r >= 0:
                refs.append(r + 1 if r >= p else r)
            elif r == -1:
                refs.append(-1)
            else:  # keep the target of -2, -3 ...
                t = i + r
                refs.append((t + 1 if t >= p else t) - ni)
        out.append(_with_refs(lay, refs))
    out.insert(p, new)
    notes = [f"inserted layer {p} ({info.name}) in the {section}; layers from {p} on moved up by one"]
    return Edited(dataclasses.replace(spec, layers=tuple(out)), tuple(notes), (p,))


def readers(spec: ModelSpec, index: int) -> list[int]:
    """Layers whose `from` reads layer `index`."""
    return [i for i, lay in enumerate(spec.layers)
            if any((r >= 0 and r == index) or (r < 0 and i + r == index) for r in _refs(lay))]


def delete(spec: ModelSpec, index: int) -> Edited:
    """Layer `index` removed; refused while another layer reads it by index (see the docstring)."""
    d = _index(spec, index)
    gone = spec.layers[d]
    info = _info(gone.module, d, spec.dialect)
    if info.channels == HEAD:
        raise SpecError("the Detect layer cannot be deleted: a detector ends with one", layer=d, module=info.name)
    src = tuple(d + r if r < 0 else r for r in _refs(gone))
    notes, by_index = [], []
    for i in readers(spec, d):
        via_prev = i == d + 1 and -1 in _refs(spec.layers[i]) and d not in _refs(spec.layers[i])
        if not via_prev or len(src) != 1:
            by_index.append(i)
    if by_index:
        names = ", ".join(f"{i} ({spec.layers[i].module})" for i in by_index)
        many = len(by_index) > 1
        raise SpecError(f"cannot delete: layer{'s' if many else ''} {names} read{'' if many else 's'} its output; "
                        f"change {'their' if many else 'its'} `from` first", layer=d, module=info.name)
    out = []
    for i, lay in enumerate(spec.layers):
        if i == d:
            continue
        ni = i - 1 if i > d else i
        refs = []
        for r in _refs(lay):
            t = i + r if r < 0 else r
            if t == d:  # the next layer's -1: now reads the deleted layer's one input
                t = src[0]
                if t != ni - 1:
                    notes.append(f"layer {ni} ({lay.module}) now reads layer {t if t < d else t - 1}, "
                                 f"the input of the deleted layer")
                refs.append(-1 if t == ni - 1 or t < 0 else (t if t < d else t - 1))
                continue
            nt = t - 1 if t > d else t
            refs.append(r if r == -1 else (nt - ni if r < 0 else nt))
        out.append(_with_refs(lay, refs))
    notes.insert(0, f"deleted layer {d} ({gone.module}); layers after it moved down by one")
    return Edited(dataclasses.replace(spec, layers=tuple(out)), tuple(notes), ())


# ---------------------------------------------------------------- set

def set_arg(spec: ModelSpec, index: int, name: str, value) -> Edited:
    """One argument of layer `index` by its schema name; `n` sets the repeats."""
    i = _index(spec, index)
    lay = spec.layers[i]
    info = _info(lay.module, i, spec.dialect)
    value = _tupled(value)
    names = [a.name for a in info.args]
    if name == "n":
        old = lay.n
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(f"n (repeats) must be a whole number >= 1, got {value!r}", layer=i, module=info.name,
                            field="n")
        if info.repeat == ONCE and value != 1:
            raise SpecError(f"{info.name} does not repeat; n must be 1", layer=i, module=info.name, field="n")
        new = dataclasses.replace(lay, n=value)
    else:
        if name not in names:
            raise SpecError(f"{info.name} has no argument {name!r}; its arguments are "
                            f"{', '.join(names + ['n']) if names else 'n only'}", layer=i, module=info.name,
                            field="args")
        k = names.index(name)
        old = lay.args[k] if k < len(lay.args) else info.args[k].default
        args = list(lay.args) + [a.default for a in info.args[len(lay.args):k + 1]]
        args[k] = value
        _check_args(spec, info, tuple(args), i)
        new = dataclasses.replace(lay, args=tuple(args))
    layers = spec.layers[:i] + (new,) + spec.layers[i + 1:]
    return Edited(dataclasses.replace(spec, layers=layers),
                  (f"layer {i} ({info.name}): {name} {old!r} -> {value!r}",), (i,))


# ---------------------------------------------------------------- swap

def _carry(spec: ModelSpec, i: int, lay: LayerSpec, old: BlockInfo, new: BlockInfo) -> tuple[tuple, list[str]]:
    """The old layer's args through the new block's schema, or a SpecError saying what has no home."""
    notes = []
    new_names = [a.name for a in new.args]
    values = {}
    for k, raw in enumerate(lay.args):
        arg = old.args[k] if k < len(old.args) else None
        if arg is None:
            continue
        if arg.name in new_names:
            values[arg.name] = raw
        elif not arg.required and literal(raw, spec.nc, spec.anchors) == arg.default:
            notes.append(f"layer {i}: dropped {arg.name}={raw!r} ({old.name}'s default; {new.name} has no {arg.name})")
        else:
            raise SpecError(f"{old.name} -> {new.name}: {arg.name}={raw!r} has no slot in {new.name} "
                            f"(it takes {', '.join(new_names) or 'no args'})", layer=i, module=old.name,
                            field="args")
    old_args = {a.name: a for a in old.args}
    for a in new.args:
        if a.name in values or a.name not in old_args:
            continue
        if not a.required and not old_args[a.name].required and old_args[a.name].default != a.default:
            values[a.name] = old_args[a.name].default
            notes.append(f"layer {i}: wrote {a.name}={old_args[a.name].default!r} ({old.name}'s default; "
                         f"{new.name}'s is {a.default!r})")
    missing = [a.name for a in new.args if a.required and a.name not in values]
    if missing:
        raise SpecError(f"{old.name} -> {new.name}: no value for {new.name}'s required {', '.join(missing)}",
                        layer=i, module=old.name, field="args")
    last = max((new_names.index(n) for n in values), default=-1)
    args = tuple(values.get(a.name, a.default) for a in new.args[:last + 1])
    return args, notes


def _matches(spec, i, lay, info, where) -> bool:
    if not where:
        return True
    bound = _check_args(spec, info, lay.args, i)
    for key, want in where.items():
        if key == "n":
            if lay.n != want:
                return False
        elif key not in bound:
            return False
        else:
            got = bound[key]
            if got != _tupled(want) and not (isinstance(got, tuple) and len(set(got)) == 1 and got[0] == want):
                return False
    return True


def swap(spec: ModelSpec, old: str, new: str, section: str = "all", where: dict | None = None) -> Edited:
    """Every `old` layer in `section` whose bound args equal `where` becomes a `new` layer."""
    if section not in SECTIONS:
        raise SpecError(f"section must be one of {', '.join(SECTIONS)}, got {section!r}", field="section")
    o, nw = _info(old, dialect=spec.dialect), _info(new, dialect=spec.dialect)
    if (o.channels == HEAD) != (nw.channels == HEAD):
        raise SpecError(f"cannot swap {o.name} for {nw.name}: only a head replaces a head", field="module")
    layers, notes, changed = list(spec.layers), [], []
    for i, lay in enumerate(spec.layers):
        try:
            if get_block(lay.module, spec.dialect).name != o.name:
                continue
        except UnknownBlock:
            continue
        if section != "all" and section_of(spec, i) != section:
            continue
        if not _matches(spec, i, lay, o, where):
            continue
        args, why = _carry(spec, i, lay, o, nw)
        if nw.repeat == ONCE and lay.n != 1:
            raise SpecError(f"{o.name} -> {nw.name}: {nw.name} does not repeat and this layer has n={lay.n}",
                            layer=i, module=o.name, field="n")
        _check_args(spec, nw, args, i)
        layers[i] = dataclasses.replace(lay, module=new, args=args)
        notes += why
        changed.append(i)
    where_text = f" where {', '.join(f'{k}={v}' for k, v in where.items())}" if where else ""
    head = (f"swapped {o.name} -> {nw.name} in {len(changed)} layer{'s' if len(changed) != 1 else ''}"
            f" ({section}{where_text})" + (f": {', '.join(map(str, changed))}" if changed else ""))
    return Edited(dataclasses.replace(spec, layers=tuple(layers)), (head, *notes), tuple(changed))


# ---------------------------------------------------------------- the command line's steps

def _value(text: str):
    """An option's value as yaml (safe loader: `3`, `False`, `[3, 5]`), never evaluated."""
    try:
        return safeyaml.load(text, "value") if text.strip() else text
    except Exception as err:
        raise SpecError(f"{text!r:.40} is not a yaml value: {str(err).splitlines()[0]}") from None


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SpecError(f"{what} must be a layer index, got {text!r}") from None


def apply(spec: ModelSpec, steps) -> tuple[ModelSpec, list[str]]:
    """(option, text) pairs left to right: swap OLD=NEW, recipe NAME, insert INDEX:ROW, delete INDEX,
    set INDEX:ARG=VALUE; section S and where k=3,s=2 apply to the swaps after them."""
    section, where, notes = "all", None, []
    if not steps:
        raise SpecError("no edit given: use --swap, --recipe, --insert, --delete or --set")
    for kind, value in steps:
        if kind == "section":
            section = value
            continue
        if kind == "where":
            where = {}
            for part in filter(None, value.split(",")):
                key, eq, v = part.partition("=")
                if not eq:
                    raise SpecError(f"--where takes ARG=VALUE[,ARG=VALUE], got {value!r}")
                where[key.strip()] = _value(v)
            continue
        if kind == "swap":
            old, eq, new = value.partition("=")
            if not eq:
                raise SpecError(f"--swap takes OLD=NEW, got {value!r}")
            done = swap(spec, old.strip(), new.strip(), section, where)
        elif kind == "recipe":
            from .recipes import recipe  # recipes.py builds on the edits here: imported when used
            done = recipe(spec, value)
        elif kind == "insert":
            at, colon, row = value.partition(":")
            if not colon:
                raise SpecError(f"--insert takes INDEX:ROW (after layer INDEX, -1 = at the start), got {value!r}")
            done = insert(spec, _int(at, "--insert INDEX"), row)
        elif kind == "delete":
            done = delete(spec, _int(value, "--delete INDEX"))
        elif kind == "set":
            at, colon, rest = value.partition(":")
            name, eq, v = rest.partition("=")
            if not colon or not eq:
                raise SpecError(f"--set takes INDEX:ARG=VALUE, got {value!r}")
            done = set_arg(spec, _int(at, "--set INDEX"), name.strip(), _value(v))
        else:
            raise SpecError(f"unknown edit {kind!r}")
        spec = done.spec
        notes += done.notes
    return spec, notes
