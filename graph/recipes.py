"""recipes: named edits that turn a stock model into a seed article's model (list_recipes(), recipe()).

    recipe(spec, name) -> graph/edit.Edited        list_recipes() -> [(name, one line naming the article)]

Two kinds, both pure functions of the spec:
- swaps (ghost, gsconv-neck, slim-neck, repvgg): the article trades blocks one for one; a list of
  graph/edit.swap calls, each with its section and `where`.
- backbone (shufflenet, mobilenetv3-small, mobilenetv3-large): the article replaces the YOLOv5 backbone
  whole. The backbone section becomes a templates/backbones/ fragment and every `from` that read the
  old backbone is rewired by the stride of the layer it read, found from the resolved graph (never a
  fixed index): stride 8 -> the new P3 tap, 16 -> P4, 32 -> P5 (so what read the old last layer, the
  SPPF, reads the new last one); the layers after the backbone move by the change in its length.
  Then the neck as the article has it: `neck` puts a templates/necks/ fragment in place of the model's
  neck (the Detect re-pointed to its outputs by stride); `widths` writes the article's channels into
  the neck's width-bearing rows in order; `bake` writes the model's depth / width multiples into the
  neck's rows (its repeats and channels stay what they were). The multiples become 1.0: the articles
  print their backbones at the papers' 1.0x widths.
A model a recipe does not fit (Ultralytics scales, a read at a stride the new backbone has no tap for,
two backbone layers read at one stride, a neck unlike the article's) is a one-line SpecError naming
the layer. Like graph/edit.py, nothing here is resolved for the caller: counts are the caller's.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from blocks.registry import OUT

from .compose import _offered, _place
from .edit import Edited, _check_args, _info, _refs, _with_refs, swap
from .errors import SpecError
from .resolve import make_divisible, resolve
from .spec import LayerSpec, ModelSpec
from .templates import fragment

TAPS = {8: "P3", 16: "P4", 32: "P5"}  # stride -> the tap a template offers for it


@dataclass(frozen=True)
class Recipe:
    text: str  # one line, naming the article
    swaps: tuple = ()  # (old, new, section, where) for graph/edit.swap, in order
    backbone: str | None = None  # a templates/backbones/ name: the backbone section replaced whole
    neck: str | None = None  # a templates/necks/ name put in place of the model's neck
    widths: tuple = ()  # ((module, c2), ...): the article's channels for the neck's width-bearing rows
    bake: bool = False  # the model's depth / width multiples written into the neck's rows


# The neck printed in article 003 for MobileNetV3-Small: YOLOv5's PAN, narrower (its Conv / C3 rows).
NARROW_PAN = (("Conv", 96), ("C3", 144), ("Conv", 144), ("C3", 168), ("Conv", 168), ("C3", 312),
              ("Conv", 312), ("C3", 408))

RECIPES: dict[str, Recipe] = {
    "ghost": Recipe("article 001 (YOLOv8-GhostNet): backbone Conv -> GhostConv, C2f -> C2fGhost, C3 -> C3Ghost",
                    swaps=(("Conv", "GhostConv", "backbone", None), ("C2f", "C2fGhost", "backbone", None),
                           ("C3", "C3Ghost", "backbone", None))),
    "gsconv-neck": Recipe("article 002 (GSConv): neck Conv -> GSConv", swaps=(("Conv", "GSConv", "neck", None),)),
    "slim-neck": Recipe("article 002 (slim-neck by GSConv): neck Conv -> GSConv, C3 / C2f -> VoVGSCSP",
                        swaps=(("Conv", "GSConv", "neck", None), ("C3", "VoVGSCSP", "neck", None),
                               ("C2f", "VoVGSCSP", "neck", None))),
    "repvgg": Recipe("article 004 (RepVGG re-parameterisation): backbone 3x3 stride-2 Conv -> RepVGGBlock",
                     swaps=(("Conv", "RepVGGBlock", "backbone", {"k": 3, "s": 2}),)),
    "shufflenet": Recipe("article 000 (YOLOv5s-ShuffleNetV2): backbone -> ShuffleNetV2 (no SPPF), neck -> its "
                         "96-channel DWConvblock / ADD lite PAN; multiples 1.0", backbone="shufflenetv2",
                         neck="lite-pan"),
    "mobilenetv3-small": Recipe("article 003 (YOLOv5 + MobileNetV3-Small): backbone -> MobileNetV3-Small, the "
                                "neck's Conv / C3 at the article's widths 96..408; multiples 1.0",
                                backbone="mobilenetv3-small", widths=NARROW_PAN),
    "mobilenetv3-large": Recipe("article 003 (YOLOv5 + MobileNetV3-Large): backbone -> MobileNetV3-Large, the "
                                "neck at the model's widths and repeats, written out; multiples 1.0",
                                backbone="mobilenetv3-large", bake=True),
}


def list_recipes() -> list[tuple[str, str]]:
    return [(name, r.text) for name, r in RECIPES.items()]


def recipe(spec: ModelSpec, name: str) -> Edited:
    if name not in RECIPES:
        raise SpecError(f"unknown recipe {name!r}; recipes are {', '.join(RECIPES)}", field="recipe")
    r = RECIPES[name]
    notes, changed = [f"recipe {name}: {r.text}"], set()
    if r.backbone:
        spec, more, changed = _restructure(spec, name, r)
        notes += more
    for old, new, section, where in r.swaps:
        spec, more, ch = swap(spec, old, new, section, where)
        if ch:
            notes += more
        changed |= set(ch)
    if not changed:
        raise SpecError(f"recipe {name} changes nothing in this model ({r.text})", field="recipe")
    return Edited(spec, tuple(notes), tuple(sorted(changed)))


# ---------------------------------------------------------------- a backbone replaced whole

def _retarget(graph, reader: int, t: int, offered: dict[str, int], what: str, seen: dict) -> int:
    """The new index of what layer `reader` read as layer `t`: the tap `offered` at t's stride."""
    node = graph.layers[t]
    tap = TAPS.get(node.stride)
    if tap not in offered:
        have = ", ".join(f"{k} (stride {s})" for s, k in TAPS.items() if k in offered)
        raise SpecError(f"reads layer {t} ({node.module}) at stride {node.stride}; the {what} offers {have} only",
                        layer=reader, module=graph.layers[reader].module, field="from")
    if seen.setdefault(tap, t) != t:
        other = graph.layers[seen[tap]]
        raise SpecError(f"reads layer {t} ({node.module}) at stride {node.stride}, and layer {other.index} "
                        f"({other.module}) is read at that stride too; the {what} has one {tap} tap",
                        layer=reader, module=graph.layers[reader].module, field="from")
    return offered[tap]


def _rewired(lay: LayerSpec, i: int, ni: int, new_index) -> LayerSpec:
    """Layer `lay` (old index i) at new index ni, each `from` through new_index(old target)."""
    refs = []
    for r in _refs(lay):
        t = new_index(i + r if r < 0 else r)
        refs.append(t - ni if r < 0 else t)
    return _with_refs(lay, refs)


def _taps_text(seen: dict, offered: dict) -> str:
    return ", ".join(f"{tap} {seen[tap]} -> {offered[tap]}" for tap in sorted(seen))


def _restructure(spec: ModelSpec, name: str, r: Recipe) -> tuple[ModelSpec, list[str], set]:
    if spec.dialect != "yolov5":
        raise SpecError(f"recipe {name} fits a YOLOv5 model (depth_multiple / width_multiple, anchors), as in "
                        f"its article; this one has Ultralytics scales", field="recipe")
    nb = len(spec.backbone)
    if not nb:
        raise SpecError(f"recipe {name} replaces the backbone section, and this model has none", field="recipe")
    graph = resolve(spec)  # the strides of what the neck reads; a model that does not resolve stops here
    frag = fragment("backbone", r.backbone)
    rows = _place(frag, 0, {}, "backbone")
    taps, what = _offered(frag, 0), f"{r.backbone} backbone"
    shift, seen, notes = len(rows) - nb, {}, []
    if r.neck:
        kfrag = fragment("neck", r.neck)
        neck = _place(kfrag, len(rows), taps, "head")
        outs, last = _offered(kfrag, len(rows)), len(spec.layers) - 1
        head = _rewired(spec.layers[last], last, len(rows) + len(neck),
                        lambda t: _retarget(graph, last, t, outs, f"{r.neck} neck", seen))
        layers = rows + neck + [head]
        notes.append(f"backbone: {nb} layers -> {r.backbone}'s {len(rows)}; neck: {last - nb} layers -> "
                     f"{r.neck}'s {len(neck)} on its taps; Detect reads {_taps_text(seen, outs)}")
    else:
        layers = list(rows) + [
            _rewired(spec.layers[i], i, i + shift,
                     lambda t, i=i: _retarget(graph, i, t, taps, what, seen) if t < nb else t + shift)
            for i in range(nb, len(spec.layers))]
        notes.append(f"backbone: {nb} layers -> {r.backbone}'s {len(rows)}; what read its taps reads "
                     f"{_taps_text(seen, taps)}; the layers after it moved by {shift:+d}")
    d, w, mc = spec.multiples
    if r.widths:
        _widths(spec, name, r.widths, layers, len(rows), shift)
        notes.append(f"neck widths as the article prints them: {', '.join(f'{m} {c}' for m, c in r.widths)}")
    if r.bake:
        for k in range(len(rows), len(layers)):
            lay, info = layers[k], _info(layers[k].module, k)
            args = lay.args
            if info.channels == OUT:
                c2 = _check_args(spec, info, lay.args, k - shift)["c2"]
                args = (make_divisible(min(c2, mc) * w, 8), *lay.args[1:])
            layers[k] = dataclasses.replace(lay, n=max(round(lay.n * d), 1) if lay.n > 1 else lay.n, args=args)
        notes.append(f"neck repeats and channels written out at the model's multiples (depth {d:g}, width {w:g})")
    notes.append(f"depth / width multiples {d:g} / {w:g} -> 1 / 1: the backbone at its paper's 1.0x widths")
    out = dataclasses.replace(spec, layers=tuple(layers), depth_multiple=1.0, width_multiple=1.0, scale=None)
    delta = len(layers) - len(spec.layers)
    changed = set()
    if out != spec:
        for k, lay in enumerate(layers):
            j = k if k < len(rows) else k - delta
            same_part = 0 <= j < len(spec.layers) and (k < len(rows)) == (j < nb)
            if not same_part or spec.layers[j] != lay:
                changed.add(k)
        changed = changed or set(range(len(layers)))  # only the multiples moved: the whole model is new
    return out, notes, changed


def _widths(spec: ModelSpec, name: str, widths: tuple, layers: list, first: int, shift: int) -> None:
    """The article's channels into the neck's width-bearing rows (module by module), in place."""
    rows = [k for k in range(first, len(layers)) if _info(layers[k].module, k).channels == OUT]
    want = ", ".join(m for m, _ in widths)
    for j, k in enumerate(rows):
        module = _info(layers[k].module, k).name
        if j >= len(widths) or module != widths[j][0]:
            raise SpecError(f"recipe {name} sets its article's widths on a neck whose width-bearing rows run "
                            f"{want}; here row {j + 1} of them is a {module}", layer=k - shift, module=module,
                            field="recipe")
        layers[k] = dataclasses.replace(layers[k], args=(widths[j][1], *layers[k].args[1:]))
    if len(rows) < len(widths):
        raise SpecError(f"recipe {name} sets its article's widths on a neck whose width-bearing rows run "
                        f"{want}; this neck has {len(rows)} of them", field="recipe")

