"""Properties of graph/edit.py's renumbering, on every preset, under seeded random chains of edits:

- insert: a 1x1 Conv that keeps the previous layer's channels (an h_swish where no Conv width can, e.g.
  before the first layer or after a 116-channel map) at a random place;
- delete: a random layer among those delete() allows whose output has its input's shape
  (one insert then one delete per step, STEPS steps per chain).

After each edit the spec still resolves (at 64 px, for speed), every untouched layer keeps its block,
args, repeats, section and shape and reads the same (renumbered) layers, the layer after an inserted
one reads it, the layer after a deleted one reads the deleted one's input; and deleting what was just
inserted gives back the spec exactly. random.Random(seed), fixed seeds: the same chains every run.
"""
import random

import pytest

from graph import edit
from graph.errors import SpecError
from graph.resolve import make_divisible, resolve
from graph.source import source
from graph.templates import presets

IMGSZ = 64
SEEDS = (1, 7, 23)
STEPS = 6


def conv_width(spec, c: int) -> int | None:
    """A Conv c2 the model's width multiple turns into exactly c channels, or None."""
    _, w, mc = spec.multiples
    for raw in range(max(1, int(c / w) - 16), int(c / w) + 17):
        if make_divisible(min(raw, mc) * w, 8) == c and not (spec.dialect == "ultralytics" and raw == spec.nc):
            return raw
    return None


def refs(lay) -> tuple:
    return lay.from_ if isinstance(lay.from_, tuple) else (lay.from_,)


def same_layer(o, n, lo, ln):
    """Old / new LayerNode and LayerSpec of an untouched layer: the same block, args, n, section, shape."""
    assert (n.module, n.args, n.n, n.shape, ln.section) == (o.module, o.args, o.n, o.shape, lo.section)


def check_insert(spec, graph, rng):
    after = rng.randrange(-1, len(spec.layers) - 1)
    p = after + 1
    c = conv_width(spec, graph.layers[after].c_out) if after >= 0 else None
    row = f"[-1, 1, Conv, [{c}, 1, 1]]" if c else "[-1, 1, h_swish, []]"
    done = edit.insert(spec, after, row)
    new = resolve(done.spec, IMGSZ)
    assert done.changed == (p,) and len(new.layers) == len(graph.layers) + 1
    assert new.layers[p].sources == (after,) and new.layers[p].module == ("Conv" if c else "h_swish")
    assert new.layers[p].shape == (graph.layers[after].shape if after >= 0 else (3, IMGSZ, IMGSZ))
    moved = lambda s: s + 1 if s >= p else s  # noqa: E731
    for o, lo in zip(graph.layers, spec.layers):
        j = moved(o.index)
        same_layer(o, new.layers[j], lo, done.spec.layers[j])
        want = tuple(j - 1 if r == -1 else moved(o.index + r if r < 0 else r) for r in refs(lo))
        assert new.layers[j].sources == tuple(max(s, -1) for s in want), (spec.name, after, o.index)
        if o.index == p and refs(lo)[0] == -1:
            assert new.layers[j].sources[0] == p  # the layer after the new one reads it
    assert edit.delete(done.spec, p).spec == spec, (spec.name, after)
    return done.spec, new


def deletable(spec, graph) -> list[int]:
    out = []
    for node in graph.layers:
        if len(node.sources) != 1:
            continue
        s = node.sources[0]
        if node.shape != (graph.layers[s].shape if s >= 0 else (spec.ch, IMGSZ, IMGSZ)):
            continue
        try:
            edit.delete(spec, node.index)
        except SpecError:
            continue
        out.append(node.index)
    return out


def check_delete(spec, graph, d):
    done = edit.delete(spec, d)
    new = resolve(done.spec, IMGSZ)
    src = graph.layers[d].sources[0]
    moved = lambda s: s - 1 if s > d else s  # noqa: E731
    for o, lo in zip(graph.layers, spec.layers):
        if o.index == d:
            continue
        j = moved(o.index)
        same_layer(o, new.layers[j], lo, done.spec.layers[j])
        want = tuple(moved(src if s == d else s) for s in o.sources)
        assert new.layers[j].sources == want, (spec.name, d, o.index)
    return done.spec, new


@pytest.mark.parametrize("name", sorted(presets()))
@pytest.mark.parametrize("seed", SEEDS)
def test_random_inserts_and_deletes_keep_the_graph_around_them(name, seed):
    """Each step inserts at a random place, then deletes a random deletable layer (the new one among
    them: a 1x1 Conv or h_swish read only by the next layer's -1 always is)."""
    rng = random.Random(seed)
    spec = source(preset=name).spec
    graph = resolve(spec, IMGSZ)
    for _ in range(STEPS):
        spec, graph = check_insert(spec, graph, rng)
        can = deletable(spec, graph)
        assert can, name
        spec, graph = check_delete(spec, graph, rng.choice(can))
