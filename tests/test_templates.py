"""The template library: every backbone x neck x head composes, resolves, builds and runs with the
head's output layout; composed yaml round-trips; presets with picks compose to their files; every
preset file resolves and counts; `from` references come out absolute (-1 for the previous layer);
a fragment reading a tap that is not offered is a SpecError.

Combinations run at scale n, 64 px, 3 classes: small enough for all 270 (9 backbones x 6 necks x 5
heads) on two CPU cores. tests/test_templates_new.py resolves each at every scale.
"""
from __future__ import annotations

import functools
import itertools

import pytest
import torch

import blocks
import graph.compose as compose_mod
from blocks.registry import HEAD
from graph.compose import compose
from graph.counts import count
from graph.dump import stride_comments, to_yaml
from graph.errors import SpecError
from graph.model import build
from graph.resolve import resolve
from graph.spec import LayerSpec, parse, parse_file
from graph.templates import fragments, preset_path, presets


IMGSZ = 64
NC = 3

BACKBONES = list(fragments("backbone"))
NECKS = list(fragments("neck"))
HEADS = list(fragments("head"))
COMBOS = list(itertools.product(BACKBONES, NECKS, HEADS))
COMBO_IDS = ["+".join(c) for c in COMBOS]


@functools.lru_cache(maxsize=None)
def composed(backbone: str, neck: str, head: str, scale: str = "n", nc: int = NC):
    return compose(backbone, neck, head, scale=scale, nc=nc)


def refs(lay: LayerSpec) -> tuple:
    return lay.from_ if isinstance(lay.from_, tuple) else (lay.from_,)


def test_library_is_complete():
    assert len(BACKBONES) >= 9 and len(NECKS) >= 6 and len(HEADS) >= 4
    assert {"yolov5", "yolov8", "yolo11", "yolo26", "shufflenetv2", "ghostnet", "mobilenetv3-small",
            "mobilenetv3-large", "repvgg"} <= set(BACKBONES)
    assert {"yolov5-pan", "yolov8-pan", "yolo11-pan", "yolo26-pan", "lite-pan", "slim-neck"} <= set(NECKS)
    assert {"yolov5", "yolov8", "yolo11", "yolo26"} <= set(HEADS)  # the presets' picks; more heads are welcome
    for kind in ("backbone", "neck", "head"):
        for name, frag in fragments(kind).items():
            assert frag["kind"] == kind and frag["name"] == name
            assert frag["summary"].strip() and frag["source"].strip(), name
            assert frag["layers"], name


def anchors_per_cell(graph) -> int:
    """0 for an anchor-free head, else the anchors per cell its resolved `anchors` arg gives."""
    anchors = graph.head.args.get("anchors")
    return len(anchors[0]) // 2 if anchors else 0


def output_layout(graph, nc: int = NC) -> tuple:
    """The eval output shape the head's own args promise, from the resolved graph (not its name)."""
    cells = sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)
    na = anchors_per_cell(graph)
    if graph.head.ctor_kw.get("end2end"):  # the yaml's end2end: True: the best 300 (anchor, class) pairs
        return (1, 300, 6)
    return (1, na * cells, 5 + nc) if na else (1, 4 + nc, cells)


@pytest.mark.parametrize("head", HEADS)
def test_every_head_is_a_registered_head_and_fits_every_neck(head):
    frag = fragments("head")[head]
    assert frag["dialect"] in ("yolov5", "ultralytics")
    *_, last = frag["layers"]
    assert blocks.get_block(last[2]).channels == HEAD, f"head {head}: its last row is no registered head"
    assert list(last[0]) == list(frag["inputs"])  # reads the taps it declares, in that order
    for neck in NECKS:  # resolves and builds after every neck (the combination tests run them all)
        graph = resolve(composed("yolov5", neck, head), IMGSZ)
        assert graph.head is graph.layers[-1] and graph.head.info.channels == HEAD
        module = build(graph).model[-1]
        info = blocks.info_of(module)
        assert info is not None and info.channels == HEAD, f"{type(module).__name__} has no registry entry"
        assert isinstance(module, info.cls)


def test_heads_offer_both_output_layouts():
    """Both branches of the layout checks below run: an anchor-based and an anchor-free head."""
    kinds = {anchors_per_cell(resolve(composed("yolov5", "yolov5-pan", h), IMGSZ)) > 0 for h in HEADS}
    assert kinds == {True, False}


def test_fragments_offer_what_the_next_part_reads():
    for frag in fragments("backbone").values():
        for neck in fragments("neck").values():
            assert set(neck["inputs"]) <= set(frag["outputs"]), (frag["name"], neck["name"])
    for neck in fragments("neck").values():
        for head in fragments("head").values():
            assert set(head["inputs"]) <= set(neck["outputs"]), (neck["name"], head["name"])


# ---------------------------------------------------------------- every combination runs

@pytest.mark.parametrize("backbone,neck,head", COMBOS, ids=COMBO_IDS)
def test_combo_builds_and_runs(backbone, neck, head):
    spec = composed(backbone, neck, head)
    assert spec.nc == NC
    assert spec.name == f"{backbone}-{neck}-{head}-n"
    assert spec.dialect == fragments("head")[head]["dialect"]
    graph = resolve(spec, IMGSZ)
    assert graph.strides == [8, 16, 32]
    assert [graph.layers[s].tap for s in graph.head.sources] == ["P3", "P4", "P5"]
    n_b = len(fragments("backbone")[backbone]["layers"])
    assert [node.section for node in graph.layers[:n_b]] == ["backbone"] * n_b
    assert graph.layers[-1].section == "head"

    model = build(graph).eval()
    outs, handles = {}, []
    for layer in model.model:
        handles.append(layer.register_forward_hook(lambda m, i, o: outs.__setitem__(m.i, o)))
    with torch.no_grad():
        y = model(torch.randn(1, 3, IMGSZ, IMGSZ, generator=torch.Generator().manual_seed(0)))
    for h in handles:
        h.remove()
    cells = sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)
    assert cells == sum((IMGSZ // s) ** 2 for s in graph.strides)
    # anchor-based: na anchors per cell, xywh + obj + classes; anchor-free: xywh + classes per cell
    assert tuple(y.shape) == output_layout(graph)
    frag = fragments("head")[head]
    assert anchors_per_cell(graph) == (len(frag["anchors"][0]) // 2 if frag.get("anchors") else 0)
    assert torch.isfinite(y).all()
    for node in graph.layers[:-1]:
        assert tuple(outs[node.index].shape) == (1, *node.shape), f"layer {node.index} ({node.module})"


# ---------------------------------------------------------------- yaml round trip

@pytest.mark.parametrize("backbone,neck,head", COMBOS, ids=COMBO_IDS)
def test_combo_yaml_round_trip(backbone, neck, head):
    spec = composed(backbone, neck, head)
    back, notes = parse(to_yaml(spec))
    assert back == spec
    assert notes == []
    # with the stride comments and a title the designer writes
    graph = resolve(spec, IMGSZ)
    text = to_yaml(spec, stride_comments(graph), title=f"{spec.name}: composed")
    again, _ = parse(text)
    assert again == spec
    assert to_yaml(again, stride_comments(graph), title=f"{spec.name}: composed") == text


@pytest.mark.parametrize("backbone,neck,head", [("yolov5", "yolov5-pan", "yolov5"),
                                                ("yolov8", "yolov8-pan", "yolov8"),
                                                ("shufflenetv2", "lite-pan", "yolov5")])
@pytest.mark.parametrize("scale", ["n", "s", "m", "l", "x"])
def test_round_trip_every_scale(backbone, neck, head, scale):
    spec = composed(backbone, neck, head, scale=scale, nc=80)
    assert parse(to_yaml(spec))[0] == spec
    if head == "yolov8":
        assert spec.scale == scale
    else:
        assert (spec.depth_multiple, spec.width_multiple) == {
            "n": (0.33, 0.25), "s": (0.33, 0.50), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}[scale]


# ---------------------------------------------------------------- presets

PICKED = [name for name, p in presets().items() if p.get("picks")]


def test_presets_listed_with_files():
    table = presets()
    assert {"yolov5n", "yolov5s", "yolov8n", "yolov8s", "yolo11n", "yolo11s", "yolo26n", "yolo26s",
            "yolov5-shufflenetv2", "yolov8n-ghostnet", "yolov5s-slimneck", "yolov5-mobilenetv3-small",
            "yolov5-mobilenetv3-large", "yolov5s-repvgg", "yolo26n-ghostnet", "yolo26n-shufflenetv2"} <= set(table)
    for name, p in table.items():
        assert p["name"] == name and p["summary"].strip() and p["source"].strip()
        assert p["file"].endswith(".yaml")
    assert len(PICKED) >= 14


@pytest.mark.parametrize("name", PICKED)
def test_preset_picks_compose_to_the_preset_file(name):
    picks = presets()[name]["picks"]
    on_disk, _ = parse_file(preset_path(name))
    spec = compose(picks["backbone"], picks["neck"], picks["head"], scale=picks["scale"], nc=on_disk.nc)
    assert spec == on_disk
    assert on_disk.name == name


STOCK = {  # (params, GFLOPs) at 640 as the YOLOv5 v7.0 / Ultralytics summaries print them, then fused
    "yolov5n": (1_872_157, 4.6, 1_867_405, 4.5), "yolov5s": (7_235_389, 16.6, 7_225_885, 16.4),
    "yolov8n": (3_157_200, 8.9, 3_151_904, 8.7), "yolov8s": (11_166_560, 28.8, 11_156_544, 28.6),
    # GFLOPs as the yolo11.yaml / yolo26.yaml comments print them; fused params as Ultralytics 8.4.190's
    # model.fuse() leaves them (YOLO26: the one-to-many branch dropped), measured
    "yolo11n": (2_624_080, 6.6, 2_616_248, 6.5), "yolo11s": (9_458_752, 21.7, 9_443_760, 21.5),
    "yolo26n": (2_572_280, 6.1, 2_408_932, 5.4), "yolo26s": (10_009_784, 22.8, 9_496_140, 20.7),
}


def thop_per_layer(model, size: int) -> list[float]:
    """thop's own multiply-adds for each top-level layer of a real model (its ret_layer_info tree)."""
    import thop  # requirements-dev: the counting oracle

    _, _, tree = thop.profile(model, inputs=(torch.zeros(1, 3, size, size),), verbose=False, ret_layer_info=True)
    return [tree["model"][2][str(i)][0] for i in range(len(model.model))]


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_file_resolves_and_counts(name):
    spec, notes = parse_file(preset_path(name))
    assert notes == []
    graph = resolve(spec, 640)
    assert graph.strides == [8, 16, 32]
    c = count(graph)
    assert c.imgsz == 640
    assert len(c.per_layer) == len(graph.layers)
    assert c.params > 0 and c.gflops > 0 and c.layers > 0
    # each row against its own built layer (params) and thop on it (GFLOPs, at 64 px to stay quick)
    model = build(graph)
    assert [row["params"] for row in c.per_layer] == [sum(p.numel() for p in m.parameters()) for m in model.model]
    small = count(resolve(spec, IMGSZ)).per_layer
    assert [row["params"] for row in small] == [row["params"] for row in c.per_layer]
    assert [row["gflops"] for row in small] == pytest.approx([2 * m / 1e9 for m in thop_per_layer(model, IMGSZ)],
                                                              rel=1e-9, abs=0)
    assert 0 < c.fused_params <= c.params and 0 < c.fused_gflops < c.gflops
    if name in STOCK:
        params, gflops, fused_params, fused_gflops = STOCK[name]
        assert (c.params, round(c.gflops, 1)) == (params, gflops)
        assert (c.fused_params, round(c.fused_gflops, 1)) == (fused_params, fused_gflops)
    # the file is what to_yaml writes (modulo its header comment): it round-trips
    assert parse(to_yaml(spec))[0] == spec


# ---------------------------------------------------------------- from indices

@pytest.mark.parametrize("backbone,neck,head", COMBOS, ids=COMBO_IDS)
def test_composed_from_indices_are_absolute(backbone, neck, head):
    spec = composed(backbone, neck, head)
    for i, lay in enumerate(spec.layers):
        for k, r in enumerate(refs(lay)):
            assert isinstance(r, int) and not isinstance(r, bool), (i, lay)
            if k == 0:  # the previous layer, read first, is written -1 (YOLO style)
                assert r == -1 or 0 <= r < i - 1, f"layer {i} reads {r} first: -1 or an absolute index"
            else:
                assert 0 <= r < i, f"layer {i} reads {r}: an absolute index"
    assert spec.layers[0].from_ == -1
    n_b = len(fragments("backbone")[backbone]["layers"])
    n_k = len(fragments("neck")[neck]["layers"])
    assert len(spec.layers) == n_b + n_k + 1
    # the head reads the neck's P3 / P4 / P5 at their absolute indices
    outs = fragments("neck")[neck]["outputs"]
    assert spec.layers[-1].from_ == tuple(n_b + outs[t] for t in ("P3", "P4", "P5"))
    assert spec.layers[-1].module == "Detect"
    # and the resolver reads them back as the same layers
    graph = resolve(spec, IMGSZ)
    for node, lay in zip(graph.layers, spec.layers):
        want = tuple(node.index - 1 if r == -1 else r for r in refs(lay))
        assert node.sources == want


def test_yolov5_composition_writes_the_upstream_from_column():
    spec = compose("yolov5", "yolov5-pan", "yolov5", scale="s")
    got = [lay.from_ for lay in spec.layers]
    assert got == [-1] * 10 + [-1, -1, (-1, 6), -1, -1, -1, (-1, 4), -1, -1, (-1, 14), -1, -1,
                               (-1, 10), -1, (17, 20, 23)]
    text = to_yaml(spec)
    assert "[[-1, 6], 1, Concat, [1]]" in text
    assert "[[17, 20, 23], 1, Detect, [nc, anchors]]" in text


def test_yolov8_composition_reads_backbone_p5_by_absolute_index():
    spec = compose("yolov8", "yolov8-pan", "yolov8", scale="n")
    assert spec.layers[20].from_ == (-1, 9)  # [[-1, P5], 1, Concat] -> backbone SPPF
    assert spec.layers[11].from_ == (-1, 6)
    assert spec.layers[-1].from_ == (15, 18, 21)
    assert [lay.section for lay in spec.layers] == ["backbone"] * 10 + ["head"] * 13


def test_composed_neck_first_layer_reads_backbone_tap():
    # lite-pan's first row reads P5, which is the backbone's last layer: written -1
    spec = compose("shufflenetv2", "lite-pan", "yolov5", scale="l")
    assert spec.layers[7].from_ == -1
    # slim-neck after mobilenetv3-small: P5 is the last backbone row too
    spec = compose("mobilenetv3-small", "slim-neck", "yolov5")
    assert spec.layers[12].from_ == -1
    assert spec.layers[14].from_ == (-1, 8)  # Concat with backbone P4 (MobileNetV3 layer 8)


# ---------------------------------------------------------------- bad taps and names

def test_place_unknown_tap_raises():
    frag = {"kind": "neck", "name": "broken",
            "layers": [["P6", 1, "Conv", [64, 1, 1]], [[-1, "P4"], 1, "Concat", [1]]]}
    with pytest.raises(SpecError) as err:
        compose_mod._place(frag, 10, {"P3": 4, "P4": 6, "P5": 9}, "head")
    assert err.value.field == "from"
    assert "P6" in str(err.value) and "neck broken" in str(err.value)
    assert "P3, P4, P5" in str(err.value)


def test_place_known_taps_become_absolute():
    frag = {"kind": "neck", "name": "ok",
            "layers": [["P5", 1, "Conv", [64, 1, 1]], [[-1, "P4"], 1, "Concat", [1]],
                       [[0, -2], 1, "Concat", [1]], [[-3, -1], 1, "Concat", [1]]]}
    rows = compose_mod._place(frag, 10, {"P3": 4, "P4": 6, "P5": 9}, "head")
    # relative references other than a leading -1 are made absolute too: layer 12 reading -2 reads
    # layer 10; layer 13 reading [-3, -1] reads [10, 12]
    assert [r.from_ for r in rows] == [-1, (-1, 6), (10, 10), (10, 12)]
    assert all(r.section == "head" for r in rows)


def test_compose_with_a_neck_reading_a_missing_tap(monkeypatch):
    real = compose_mod.fragment
    bad_neck = dict(real("neck", "yolov5-pan"))
    bad_neck["name"] = "bad-pan"
    bad_neck["layers"] = [["P2", 1, "Conv", [64, 1, 1]]] + list(bad_neck["layers"][1:])

    def fake(kind, name):
        return bad_neck if kind == "neck" else real(kind, name)

    monkeypatch.setattr(compose_mod, "fragment", fake)
    with pytest.raises(SpecError, match="P2"):
        compose("yolov5", "bad-pan", "yolov5")


def test_head_reading_a_tap_the_neck_does_not_offer(monkeypatch):
    real = compose_mod.fragment
    bad_head = dict(real("head", "yolov8"))
    bad_head["layers"] = [[["P3", "P4", "P6"], 1, "Detect", ["nc"]]]
    monkeypatch.setattr(compose_mod, "fragment", lambda k, n: bad_head if k == "head" else real(k, n))
    with pytest.raises(SpecError) as err:
        compose("yolov8", "yolov8-pan", "yolov8")
    assert "P6" in str(err.value) and err.value.field == "from"


@pytest.mark.parametrize("kwargs,field", [
    ({"backbone": "resnet"}, "backbone"), ({"neck": "bifpn"}, "neck"), ({"head": "rtdetr"}, "head"),
    ({"scale": "xl"}, "scale")])
def test_compose_unknown_names_raise(kwargs, field):
    args = {"backbone": "yolov5", "neck": "yolov5-pan", "head": "yolov5", **kwargs}
    with pytest.raises(SpecError) as err:
        compose(**args)
    assert err.value.field == field
