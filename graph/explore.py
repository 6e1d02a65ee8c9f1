"""explore: the design space, counted — every backbone x neck x head x scale of the catalogue composed,
and each recipe applied to each stock preset, at one image size and class count — with its Pareto
front: the designs that give the most parameters (capacity, the proxy for accuracy that counting can
give) for their GFLOPs, i.e. no other design has more parameters for no more GFLOPs. (Fewer of both is
no trade-off: the smallest design alone would be that front.)

    explore(imgsz=640, nc=80, scope=Scope()) -> Explored(rows, skipped, tried, imgsz, nc)
    combinations(scope) -> [{kind, backbone, neck, head, scale} | {kind, preset, recipe, picks}]
    pareto(rows, x, y) -> [bool]                 lower is better on both x and y
    front(rows) -> [bool]                        most params for the GFLOPs: the front shown
    select(rows, backbone=, neck=, head=, kind=) -> the rows that match, `pareto` recomputed among them
    spec_of(row, nc) -> the ModelSpec a row counted (to build, export or measure it)
    progress(imgsz, nc, scope) -> (rows so far, designs done, designs in all) while another thread counts it

A row: name, kind ("composed" | "recipe"), backbone / neck / head / scale (a recipe row: its preset's
picks before the recipe, when it has them), preset and recipe (recipe rows), dialect, params, gflops
(thop's rules at the image size, graph/counts.py), gflops_ultralytics, fused_gflops, layers (as the
design's own tool counts them), pareto, key (graph/designkey.py: what measurements of the design are
filed under; the CLI and the page join them in from engine/deploy/latency_store.py). What does not make
a model (a neck whose taps the backbone lacks, a recipe that does not fit a preset) is left out and
counted by reason in `skipped`.

It takes seconds once the layers are known: graph/layercost.py memoises every layer's numbers (and keeps
them on disk), and the thousand compositions share their backbones and most of their necks.
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from dataclasses import dataclass, field

from . import limits
from .compose import SCALES, compose
from .counts import count
from .designkey import design_key
from .errors import SpecError
from .recipes import list_recipes, recipe
from .resolve import resolve
from .source import source
from .templates import fragment, fragments, presets

FAMILIES = ("backbone", "neck", "head")
NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")  # a number on its own: 'p=1', 'row 3', not 'C3' or '0.5'



@dataclass
class Explored:
    rows: list[dict]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> designs left out for it
    tried: int = 0  # designs attempted: len(rows) + sum(skipped.values())
    imgsz: int = 640
    nc: int = 80


@dataclass(frozen=True)
class Scope:
    """Which designs to count: families and scales to compose (None: all of the catalogue), and whether
    to apply the recipes to the presets (those whose picks match the families asked for)."""

    backbones: tuple | None = None
    necks: tuple | None = None
    heads: tuple | None = None
    scales: tuple | None = None
    composed: bool = True
    recipes: bool = True

    @classmethod
    def of(cls, backbone=None, neck=None, head=None, kind=None, scale=None) -> "Scope":
        """One family and scale each at most (the CLI's and the page's filters); kind: composed | recipe |
        None. A scale limits the compositions only (recipes are on presets of any scale: `select` by
        scale after, for one scale throughout)."""
        one = lambda v: (v,) if v else None  # noqa: E731
        return cls(one(backbone), one(neck), one(head), one(scale), kind in (None, "composed"),
                   kind in (None, "recipe"))

    def wants(self, picks: dict) -> bool:
        return all(choice is None or picks.get(family) in choice
                   for family, choice in zip(FAMILIES, (self.backbones, self.necks, self.heads)))


def combinations(scope: Scope = Scope()) -> list[dict]:
    """The designs explore counts, as plain data: {kind: "composed", backbone, neck, head, scale} for every
    composition, then {kind: "recipe", preset, recipe, picks} for every recipe on every preset."""
    out = []
    if scope.composed:
        for b in scope.backbones or fragments("backbone"):
            for k in scope.necks or fragments("neck"):
                for h in scope.heads or fragments("head"):
                    for scale in scope.scales or SCALES:
                        out.append({"kind": "composed", "backbone": b, "neck": k, "head": h, "scale": scale})
    if scope.recipes:
        for name, entry in presets().items():
            picks = entry.get("picks")
            if picks is None and (scope.backbones or scope.necks or scope.heads):
                continue
            if picks is None or scope.wants(picks):
                out += [{"kind": "recipe", "preset": name, "recipe": r, "picks": picks or {}}
                        for r, _ in list_recipes()]
    return out


def design(combo: dict, nc: int):
    """The ModelSpec of one combination (SpecError when it makes no model) and its row's description."""
    if combo["kind"] == "composed":
        spec = compose(combo["backbone"], combo["neck"], combo["head"], combo["scale"], nc=nc)
        return spec, {"name": spec.name, **combo, "preset": None, "recipe": None}
    base = source(preset=combo["preset"], nc=nc).spec
    picks = combo["picks"]
    spec = recipe(base, combo["recipe"]).spec
    return spec, {"name": f"{combo['preset']}+{combo['recipe']}", "kind": "recipe", "backbone": picks.get("backbone"),
                  "neck": picks.get("neck"), "head": picks.get("head"), "scale": picks.get("scale") or base.scale,
                  "preset": combo["preset"], "recipe": combo["recipe"]}


def row(combo: dict, imgsz: int, nc: int) -> dict:
    """One combination counted (SpecError when it makes no model)."""
    spec, about = design(combo, nc)
    c = count(resolve(spec, imgsz))
    return {**about, "dialect": spec.dialect, "params": c.params, "gflops": round(c.gflops, 4),
            "gflops_ultralytics": round(c.gflops_ultralytics, 4), "fused_gflops": round(c.fused_gflops, 4),
            "layers": c.layers, "pareto": False, "key": design_key(spec)}


def spec_of(r: dict, nc: int):
    """The ModelSpec of an explored row with `nc` classes: what `row` counted (SpecError if it makes none)."""
    if r["kind"] == "composed":
        combo = {key: r[key] for key in ("kind", "backbone", "neck", "head", "scale")}
    else:
        combo = {"kind": "recipe", "preset": r["preset"], "recipe": r["recipe"], "picks": {}}
    return design(combo, nc)[0]


def reason(err: SpecError) -> str:
    """Why a design was left out, without what differs between designs (the layer, its channels), so
    alike refusals count together: 'GSConv: recipe ... here row N of them is a GSConv'."""
    if err.module is None:
        return err.why
    return f"{err.module}: {NUMBER.sub('N', err.why)}"


def explore(imgsz: int = 640, nc: int = 80, scope: Scope = Scope()) -> Explored:
    """Every combination in `scope` counted at `imgsz` with `nc` classes, the front marked among them (a
    bad size or class count: SpecError). Kept for the process: a second call for the same is a copy."""
    check(imgsz, nc)
    for family, names in zip(FAMILIES, (scope.backbones, scope.necks, scope.heads)):
        for name in names or ():
            fragment(family, name)  # an unknown one: SpecError naming those there are
    done = _explored(imgsz, nc, scope)
    return dataclasses.replace(done, rows=[dict(r) for r in done.rows], skipped=dict(done.skipped))


_running: dict[tuple, dict] = {}  # (imgsz, nc, scope) -> {"rows", "done", "total"} while being counted


def progress(imgsz: int, nc: int, scope: Scope = Scope()) -> tuple[list[dict], int, int] | None:
    """While `explore(imgsz, nc, scope)` counts in another thread: (copies of the rows counted so far,
    designs tried so far, designs in all); None when it is not being counted. The page shows the
    front filling in from this."""
    now = _running.get((imgsz, nc, scope))
    if now is None:
        return None
    return [dict(r) for r in list(now["rows"])], now["done"], now["total"]


@functools.lru_cache(maxsize=8)
def _explored(imgsz: int, nc: int, scope: Scope) -> Explored:
    rows, skipped = [], {}
    todo = combinations(scope)
    now = _running[(imgsz, nc, scope)] = {"rows": rows, "done": 0, "total": len(todo)}
    try:
        for combo in todo:
            try:
                rows.append(row(combo, imgsz, nc))
            except SpecError as err:
                skipped[reason(err)] = skipped.get(reason(err), 0) + 1
            now["done"] += 1
    finally:
        _running.pop((imgsz, nc, scope), None)
    for r, on in zip(rows, front(rows)):
        r["pareto"] = on
    return Explored(rows, dict(sorted(skipped.items(), key=lambda kv: -kv[1])), len(todo), imgsz, nc)


def check(imgsz, nc) -> None:
    """The image size and class count every design is counted at, or SpecError saying what is wrong."""
    if isinstance(nc, bool) or not isinstance(nc, int) or not 1 <= nc <= limits.MAX_NC:
        raise SpecError(f"nc must be a whole number of classes from 1 to {limits.MAX_NC}, got {nc!r}", field="nc")
    if (isinstance(imgsz, bool) or not isinstance(imgsz, int) or not limits.MIN_IMGSZ <= imgsz <= limits.MAX_IMGSZ
            or imgsz % 32):
        raise SpecError(f"image size must be a multiple of 32 from {limits.MIN_IMGSZ} to {limits.MAX_IMGSZ} "
                        f"pixels, got {imgsz!r}", field="imgsz")


def pareto(rows: list[dict], x: str = "params", y: str = "gflops") -> list[bool]:
    """For each row: is it on the Pareto front, i.e. does no other row have x <= and y <= with one of them
    strictly less? Rows equal on both are all on it."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i][x], rows[i][y]))
    front = [False] * len(rows)
    best = float("inf")
    for _, group in itertools.groupby(order, key=lambda i: rows[i][x]):
        same = list(group)
        low = rows[same[0]][y]  # the least y among the rows of this x (sorted)
        if low < best:
            for i in same:
                front[i] = rows[i][y] == low
            best = low
    return front


def front(rows: list[dict]) -> list[bool]:
    """For each row: does no other row have at least its parameters for at most its GFLOPs (one of them
    strictly)? The designs that buy the most capacity per FLOP."""
    return pareto([{"gflops": r["gflops"], "less_params": -r["params"]} for r in rows], "gflops", "less_params")


def select(rows: list[dict], **filters) -> list[dict]:
    """The rows whose fields equal every given filter (None or "" = any; a family filter keeps only rows
    that have that family), as new dicts with `pareto` recomputed among them."""
    wanted = {k: v for k, v in filters.items() if v not in (None, "", "all")}
    kept = [dict(r) for r in rows if all(r.get(k) == v for k, v in wanted.items())]
    for row, on in zip(kept, front(kept)):
        row["pareto"] = on
    return kept
