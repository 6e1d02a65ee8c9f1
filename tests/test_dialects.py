"""The two yaml dialects as their own tools read them (issue 12): the dialect from the keys and the head,
blocks the two build differently (Bottleneck), plain torch layers by table (nn.MaxPool2d, nn.ZeroPad2d,
nn.ConvTranspose2d, activations), `activation:`, `anchors: N`, and every count as each tool prints it.

The fixtures in tests/fixtures/dialects/ are the layer lists of upstream model files written as data
(their rows, no comments); each table row below was measured on that very fixture file:
- YOLOv5 7.0 (the 7.0.14 wheel): `Model(file)`, its summary line (len(list(model.modules())), params)
  and its GFLOPs (thop 0.1.1 at one max(stride, 32) image, x (640 / stride)^2), full precision;
- Ultralytics 8.4.190: `DetectionModel(yaml_model_load(file) + scale)` then
  `ultralytics.utils.torch_utils.model_info(model)` -> (leaf layers, params, gradients, GFLOPs).
"""
from __future__ import annotations

import collections
import dataclasses
import os
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

import blocks
from blocks.conv import Conv
from graph.counts import count
from graph.dump import to_yaml
from graph.errors import SpecError
from graph.flops import ul_layer_macs, ultralytics_macs
from graph.model import DetectionModel, build
from graph.report import info_text
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(os.path.dirname(__file__), "fixtures", "dialects")


def fixture(name: str, scale: str | None = None):
    spec, notes = parse_file(os.path.join(FIX, name))
    if scale:
        spec, _ = spec.with_overrides(scale=scale)
    return spec, notes


# (fixture, scale, dialect, params, layers, GFLOPs as the tool prints it at 640 (full precision))
YOLOV5 = [  # measured with YOLOv5 7.0.14
    ("v5-yolov5-p2.yaml", None, 47_493_372, 428, 126.3116288),   # anchors: 3, strides 4..32
    ("v5-yolov5-p34.yaml", None, 5_331_518, 191, 15.0994944),    # anchors: 3, strides 8, 16
    ("v5-yolov5-p6.yaml", None, 76_770_172, 477, 111.8386176),   # anchors: 3, strides 8..64
    ("v5-yolov5-p7.yaml", None, 144_281_723, 586, 116.476992),   # anchors: 3, strides 8..128
    ("v5-yolov3.yaml", None, 61_949_149, 262, 156.618752),       # Bottleneck 1x1 then 3x3
    ("v5-yolov3-tiny.yaml", None, 8_852_366, 49, 13.2845568),    # nn.MaxPool2d, nn.ZeroPad2d
    ("v5-yolov5s-transformer.yaml", None, 7_235_645, 217, 16.4139008),  # C3TR: its TransformerBlock unwrapped
]
ULTRALYTICS = [  # measured with ultralytics 8.4.190
    ("ul-yolov3.yaml", None, 103_754_144, 180, 283.3177088),     # no scales: Detect [nc] decides; 3x3 Bottleneck
    ("ul-yolov3-tiny.yaml", None, 12_173_248, 53, 19.1252992),
    ("ul-yolov6.yaml", "n", 4_500_080, 121, 13.0264576),         # nn.ConvTranspose2d, activation: torch.nn.ReLU()
    ("ul-yolov6.yaml", "s", 16_452_192, 121, 44.559104),
    ("ul-yolov5.yaml", "n", 2_654_816, 153, 7.8388736),          # YOLOv5's layers, anchor-free head
    ("ul-yolov10n.yaml", "n", 2_775_520, 223, 8.7994112),        # v10Detect: one-to-one copies share their own act
    ("ul-yolo11.yaml", "n", 2_624_080, 181, 6.6733184),          # C3k2 clears legacy: YOLO11's class branch
    ("ul-yolo11.yaml", "m", 20_114_688, 231, 68.643072),         # C3k2 takes c3k at m
    ("ul-yolo12.yaml", "n", 2_602_288, 272, 7.6341376),          # area attention: its matmuls counted by 8.4
    ("ul-yolo12.yaml", "l", 26_450_784, 488, 96.2949376),
    ("ul-yolo26.yaml", "n", 2_572_280, 260, 6.2396672),          # end2end: True, reg_max: 1
    ("ul-yolo26.yaml", "s", 10_009_784, 260, 23.0793216),
]


@pytest.mark.parametrize("name, scale, params, layers, gflops", YOLOV5, ids=[r[0] for r in YOLOV5])
def test_yolov5_files_count_as_yolov5_prints(name, scale, params, layers, gflops):
    spec, _ = fixture(name, scale)
    assert spec.dialect == "yolov5"
    c = count(resolve(spec, 640))
    assert (c.params, c.layers, c.layers_by) == (params, layers, "YOLOv5 7.0")
    assert c.gflops_stride == pytest.approx(gflops, abs=1e-6)


@pytest.mark.parametrize("name, scale, params, layers, gflops", ULTRALYTICS,
                         ids=[f"{r[0]}-{r[1]}" for r in ULTRALYTICS])
def test_ultralytics_files_count_as_ultralytics_prints(name, scale, params, layers, gflops):
    spec, _ = fixture(name, scale)
    assert spec.dialect == "ultralytics"
    c = count(resolve(spec, 640))
    assert (c.params, c.layers, c.layers_by) == (params, layers, "Ultralytics 8.4")
    assert c.gflops_ultralytics == pytest.approx(gflops, abs=1e-6)


@pytest.mark.parametrize("preset, ul, v5", [("yolov8n", 8.8550912, 8.8575488), ("yolov5s", None, 16.6252544)])
def test_presets_both_gflops_conventions(preset, ul, v5):
    """yolov8n's Ultralytics figure measured with ultralytics 8.4.190 (its thop counts nearest
    upsampling free; thop 0.1.1, YOLOv5's, one op per output: YOLOv5 cannot build C2f, so that figure
    is thop 0.1.1's, as tests/test_counts.py checks); yolov5s measured with YOLOv5 7.0.14."""
    c = count(resolve(parse_file(preset_path(preset))[0], 640))
    assert c.gflops_stride == pytest.approx(v5, abs=1e-6)
    if ul is not None:
        assert c.gflops_ultralytics == pytest.approx(ul, abs=1e-6)
    assert c.gflops_ultralytics < c.gflops_stride  # the upsamples


# ---------------------------------------------------------------- the dialect

HEAD_V5 = "anchors: [[10,13, 16,30, 33,23], [30,61, 62,45, 59,119], [116,90, 156,198, 373,326]]\n"
ROWS = """backbone:
  - [-1, 1, Conv, [16, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Bottleneck, [32]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
  - [-1, 1, Conv, [32, 3, 2]]
head:
  - [[3, 4, 5], 1, Detect, {head}]
"""


@pytest.mark.parametrize("keys, head, dialect", [
    ("depth_multiple: 1.0\nwidth_multiple: 1.0\n", "[nc]", "ultralytics"),          # no scales, anchor-free head
    ("scales:\n  n: [0.33, 0.25, 1024]\n", "[nc]", "ultralytics"),
    (HEAD_V5, "[nc, anchors]", "yolov5"),
    ("anchors: 3\n", "[nc, anchors]", "yolov5"),
    ("", "[nc, 3]", "yolov5"),                                                      # a count in the row itself
    ("", "[nc, None]", "ultralytics"),
], ids=["multiples-no-anchors", "scales", "anchor-lists", "anchor-count", "count-in-row", "anchors-none"])
def test_dialect_from_keys_and_head(keys, head, dialect):
    spec, _ = parse("nc: 3\n" + keys + ROWS.format(head=head))
    assert spec.dialect == dialect
    graph = resolve(spec, 128)
    assert graph.layers[2].info is blocks.get_block("Bottleneck", dialect)


def test_bottleneck_is_built_as_each_dialect_builds_it():
    """The same row `Bottleneck [32]` (c1 = c2 = 32, e = 0.5, hidden 16): YOLOv5 1x1 then 3x3,
    Ultralytics 3x3 then 3x3 (each conv bias-free + BatchNorm)."""
    v5, _ = parse("nc: 3\n" + HEAD_V5 + ROWS.format(head="[nc, anchors]"))
    ul, _ = parse("nc: 3\n" + ROWS.format(head="[nc]"))
    for spec, k1 in ((v5, 1), (ul, 3)):
        layer = build(resolve(spec, 128)).model[2]
        assert layer.cv1.conv.kernel_size == (k1, k1) and layer.cv2.conv.kernel_size == (3, 3)
        hand = (32 * 16 * k1 * k1 + 2 * 16) + (16 * 32 * 9 + 2 * 32)
        assert sum(p.numel() for p in layer.parameters()) == hand
    # Ultralytics' args are (c2, shortcut, g, k, e); YOLOv5's (c2, shortcut, g, e)
    ul_k, _ = parse("nc: 3\n" + ROWS.format(head="[nc]").replace("[32]]", "[32, False, 1, [1, 5], 0.25]]"))
    layer = resolve(ul_k, 128).layers[2]
    assert layer.args == {"c2": 32, "shortcut": False, "g": 1, "k": (1, 5), "e": 0.25}
    bad, _ = parse("nc: 3\n" + ROWS.format(head="[nc]").replace("[32]]", "[32, True, 1, [3, 4]]]"))
    with pytest.raises(SpecError, match=r"layer 2 \(Bottleneck\): kernel sizes must be odd"):
        resolve(bad, 128)


def test_ultralytics_bottleneck_form_passes_the_block_checks():
    """The dialect form is no catalogue entry, so the registry-wide tests do not reach it: its example
    in an anchor-free (Ultralytics) detector resolves, runs to the promised shapes, counts as thop, and
    its reach fact matches its module (the same checks tests/test_blocks.py / test_receptive.py make)."""
    import thop
    import yaml

    from test_receptive import measured_reach

    from graph.receptive import IMAGE, through

    info = blocks.get_block("Bottleneck", "ultralytics")
    assert info is not blocks.get_block("Bottleneck") and info.name == "Bottleneck"
    rows = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]] + [list(r) for r in info.example]
    rows = [[f, n, m, [list(a) if isinstance(a, tuple) else a for a in args]] for f, n, m, args in rows]
    p3 = len(rows) - 1
    rows += [[-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]
    text = yaml.safe_dump({"nc": 3, "backbone": rows, "head": [[[p3, p3 + 1, p3 + 2], 1, "Detect", ["nc"]]]},
                          sort_keys=False)
    graph = resolve(parse(text)[0], 64)
    mine = [node for node in graph.layers if node.module == "Bottleneck"]
    assert mine and all(node.info is info for node in mine)
    model = build(graph).eval()
    x = torch.randn(1, 3, 64, 64)
    outs = {}
    for layer in model.model[:-1]:
        layer.register_forward_hook(lambda m, i, o: outs.__setitem__(m.i, o.shape[1:]))
    with torch.no_grad():
        model(x)
    assert all(tuple(outs[n.index]) == n.shape for n in graph.layers[:-1])
    c = count(graph)
    assert c.params == sum(p.numel() for p in model.parameters())
    ops, _ = thop.profile(model, inputs=(x,), verbose=False)
    assert c.gflops == pytest.approx(2 * ops / 1e9, rel=1e-9)
    for node in mine:
        assert measured_reach(node) == through(node, [IMAGE]).rf, node.args


def test_yolov5_keeps_the_head_output_count_unscaled():
    """YOLOv5's parse_model scales every c2 but the anchor head's output count, anchors x (nc + 5):
    here 3 x 85 = 255 stays 255 at width 0.5. Measured with YOLOv5 7.0.14: 23 layers, 922,620
    parameters, 5.75136 GFLOPs, per layer [3520, 18560, 147390, 294016, 295424, 163710]."""
    text = """nc: 80
depth_multiple: 0.33
width_multiple: 0.50
anchors: 3
backbone:
  - [-1, 1, Conv, [64, 6, 2, 2]]
  - [-1, 1, Conv, [128, 3, 2]]
  - [-1, 1, Conv, [255, 3, 2]]
  - [-1, 1, Conv, [256, 3, 2]]
  - [-1, 1, Conv, [512, 3, 2]]
head:
  - [[2, 3, 4], 1, Detect, [nc, anchors]]
"""
    graph = resolve(parse(text)[0], 640)
    c = count(graph)
    assert graph.layers[2].c_out == 255 and (c.params, c.layers) == (922_620, 23)
    assert [r["params"] for r in c.per_layer] == [3520, 18560, 147390, 294016, 295424, 163710]
    assert c.gflops_stride == pytest.approx(5.75136, abs=1e-9)


# ---------------------------------------------------------------- torch layers by table

def test_torch_nn_spelling_is_an_alias():
    for name in ("MaxPool2d", "ZeroPad2d", "ConvTranspose2d", "Identity", "Upsample", "ReLU", "LeakyReLU"):
        assert blocks.get_block(f"torch.nn.{name}") is blocks.get_block(f"nn.{name}")


def test_conv_transpose_takes_c2_from_args_scaled_by_width():
    spec, _ = fixture("ul-yolov6.yaml", "n")  # width 0.25: [256, 2, 2, 0] -> 64 channels, x2 size
    graph = resolve(spec, 640)
    node = graph.layers[11]
    assert node.module == "nn.ConvTranspose2d" and node.c_out == 64 and node.c_in == (64,)
    assert graph.layers[10].stride == 32 and node.stride == 16 and node.shape == (64, 40, 40)
    layer = build(graph).model[11]
    assert type(layer) is nn.ConvTranspose2d and layer.bias is not None
    assert sum(p.numel() for p in layer.parameters()) == 64 * 64 * 4 + 64


@pytest.mark.parametrize("row, why", [
    ("[-1, 1, nn.Foo, []]", r"layer 1: unknown block 'nn.Foo'"),
    ("[-1, 1, nn.ZeroPad2d, [[1, 0, 0, 0]]]", r"layer 1 \(nn.ZeroPad2d\): pads width by 1 and height by 0"),
    ("[-1, 1, nn.ConvTranspose2d, [32, 3, 2]]", r"layer 1 \(nn.ConvTranspose2d\): upsamples each cell to 3"),
    ("[-1, 1, nn.MaxPool2d, [3, 1, 3]]", r"layer 1 \(nn.MaxPool2d\): padding 3 is over half"),
    ("[-1, 1, nn.LeakyReLU, [2.0]]", r"layer 1 \(nn.LeakyReLU\): argument 1 \(negative_slope\) = 2.0 is outside"),
], ids=["unknown", "asymmetric-pad", "tconv-not-exact", "pool-padding", "leaky-slope"])
def test_torch_layer_refusals_are_one_line(row, why):
    text = "nc: 2\nanchors: 3\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - " + row + "\n" + "".join(
        "  - [-1, 1, Conv, [32, 3, 2]]\n" for _ in range(4)) + "head:\n  - [[3, 4, 5], 1, Detect, [nc, anchors]]\n"
    with pytest.raises(SpecError, match=why) as err:
        resolve(parse(text)[0], 640)
    assert "\n" not in str(err.value)


# ---------------------------------------------------------------- activation:

@pytest.mark.parametrize("text, cls, attrs", [
    ("nn.SiLU()", nn.SiLU, {}),
    ("nn.ReLU()", nn.ReLU, {}),
    ("torch.nn.ReLU()", nn.ReLU, {}),
    ("nn.ReLU6()", nn.ReLU6, {}),
    ("nn.LeakyReLU(0.1)", nn.LeakyReLU, {"negative_slope": 0.1}),
    ("torch.nn.LeakyReLU(negative_slope=0.2)", nn.LeakyReLU, {"negative_slope": 0.2}),
    ("nn.Hardswish()", nn.Hardswish, {}),
    ("nn.GELU()", nn.GELU, {"approximate": "none"}),
    ("nn.GELU(approximate='tanh')", nn.GELU, {"approximate": "tanh"}),
])
def test_activation_key_sets_every_default_conv(text, cls, attrs):
    """Counts do not change (activations hold no parameters; upstream shares one module, so the
    layer count does not change either) but every Conv with the default act, inside blocks and the
    head too, is the chosen activation; a model built afterwards without the key is SiLU again."""
    base = parse_file(preset_path("yolov8n"))[0]
    spec = dataclasses.replace(base, activation=text)
    a, b = count(resolve(base, 640)), count(resolve(spec, 640))
    assert (b.params, b.layers, b.gflops) == (a.params, a.layers, a.gflops)
    convs = [m for m in build(resolve(spec, 64)).modules() if isinstance(m, Conv)]
    acts = [m.act for m in convs if m.default_act]
    assert len(acts) == len(convs) and all(type(m) is cls for m in acts)
    assert all(getattr(m, k) == v for m in acts for k, v in attrs.items())
    again = [m.act for m in build(resolve(base, 64)).modules() if isinstance(m, Conv)]
    assert {type(m) for m in again} == {nn.SiLU}
    assert parse(to_yaml(spec))[0].activation == text  # written back as read


def test_yolov5s_leakyrelu_counts_as_yolov5_prints():
    """models/hub/yolov5s-LeakyReLU.yaml is yolov5s.yaml + `activation: nn.LeakyReLU(0.1)`; measured
    with YOLOv5 7.0.14: 214 layers, 7,235,389 parameters, 16.6252544 GFLOPs, every Conv a LeakyReLU."""
    text = open(preset_path("yolov5s")).read() + "activation: nn.LeakyReLU(0.1)\n"
    spec, _ = parse(text)
    c = count(resolve(spec, 640))
    assert (c.params, c.layers) == (7_235_389, 214) and c.gflops_stride == pytest.approx(16.6252544, abs=1e-6)
    kinds = collections.Counter(type(m.act).__name__ for m in build(resolve(spec, 64)).modules() if isinstance(m, Conv))
    assert kinds == {"LeakyReLU": 57}


def test_yolov6_relu_everywhere():
    """Ultralytics' yolov6.yaml says `activation: torch.nn.ReLU()`; 8.4.190 builds every Conv (the
    Detect head's included) with ReLU."""
    spec, _ = fixture("ul-yolov6.yaml", "n")
    model = build(resolve(spec, 64))
    assert {type(m.act) for m in model.modules() if isinstance(m, Conv)} == {nn.ReLU}
    assert not any(isinstance(m, nn.SiLU) for m in model.modules())


@pytest.mark.parametrize("text, why", [
    ("nn.PReLU()", "nn.PReLU is not supported"),
    ("__import__('os').system('x')", "is not an nn.<Activation>"),
    ("nn.LeakyReLU(x)", "'x' is not a number"),
    ("nn.LeakyReLU(0.1, 2)", "inplace = 2 should be True or False"),
    ("nn.ReLU(inplace=True, 3)", "positional argument after a keyword"),
    ("nn.GELU(approximate='erf')", "approximate = 'erf' should be one of"),
    ("nn.SiLU", "is not an nn.<Activation>"),
    ("5", "activation must be text"),
])
def test_activation_refused_in_one_line(text, why):
    line = "activation: 5" if text == "5" else f"activation: {text!r}"  # a yaml number, or quoted text
    with pytest.raises(SpecError) as err:
        parse(f"nc: 2\n{line}\n" + ROWS.format(head="[nc]"))
    assert why in str(err.value) and "\n" not in str(err.value) and err.value.field == "activation"


# ---------------------------------------------------------------- anchors: N

def test_anchor_count_gets_placeholder_anchors_and_a_note():
    spec, notes = fixture("v5-yolov5-p6.yaml")
    assert spec.anchors == 3
    assert any("AutoAnchor" in n and "default COCO anchors" in n for n in notes)
    graph = resolve(spec, 640)
    head = build(graph).model[-1]
    assert graph.strides == [8, 16, 32, 64]
    assert head.anchors.shape == (4, 3, 2)
    # YOLOv5's own P6 defaults at 640 (models/hub/anchors.yaml anchors_p6_640)
    assert head.anchors[0].flatten().tolist() == [9, 11, 21, 19, 17, 41]
    assert head.anchors[3].flatten().tolist() == [282, 180, 247, 354, 512, 387]
    p2 = resolve(fixture("v5-yolov5-p2.yaml")[0], 640)
    levels = p2.head.args["anchors"]
    assert len(levels) == 4 and all(len(lv) == 6 for lv in levels)
    assert levels[1] == (10, 13, 16, 30, 33, 23)  # stride 8: the P5 set's P3 anchors
    assert "anchors: 3" in to_yaml(spec) and parse(to_yaml(spec))[0].anchors == 3


@pytest.mark.parametrize("value", ["0", "-3", "true", "17", "[[10, 13], 16]"])
def test_anchor_count_refused(value):
    text = f"nc: 2\nanchors: {value}\n" + ROWS.format(head="[nc, anchors]")
    with pytest.raises(SpecError) as err:
        parse(text)
    assert "anchors" in str(err.value) and "\n" not in str(err.value)


def test_launch_info_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("nc: 2\nactivation: nn.PReLU()\n" + ROWS.format(head="[nc]"))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "launch.py"), "info", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    out = (run.stdout + run.stderr).strip().splitlines()
    assert len(out) == 1 and "nn.PReLU is not supported" in out[0]


# ---------------------------------------------------------------- the Ultralytics 8.4 GFLOPs

@pytest.mark.parametrize("preset", ["yolov5-mobilenetv3-small", "yolov8n"])
def test_ultralytics_extrapolation_is_exact(preset):
    """8.4 profiles stride-high proxies and extrapolates; for these models the extrapolation is the
    count of the real image by the same rules (a straight line in the proxy's cells; SE layers'
    Linear costs are the constant term)."""
    graph = resolve(parse_file(preset_path(preset))[0], 640)
    model = DetectionModel(graph, device="meta")
    real = sum(ul_layer_macs(model, torch.empty(1, 3, 640, 640, device="meta"))[0])
    assert ultralytics_macs(model, 3, 640, graph.max_stride) == real


@pytest.mark.parametrize("imgsz, gflops", [(640, 7.9238112), (320, 1.9648728), (64, 0.078389088)])
def test_ultralytics_gflops_with_multihead_attention(imgsz, gflops):
    """Ultralytics' yolov5.yaml (n) with its last backbone C3 a C3TR (nn.MultiheadAttention: 8.4 fits a
    quadratic through four proxies; at 64 px the proxies would not be smaller, so it counts the image);
    measured with ultralytics 8.4.190: 156 layers, 2,654,944 parameters, get_flops(model, imgsz)."""
    text = open(os.path.join(FIX, "ul-yolov5.yaml")).read().replace("[-1, 3, C3, [1024]]", "[-1, 3, C3TR, [1024]]", 1)
    spec = parse(text)[0].with_overrides(scale="n")[0]
    c = count(resolve(spec, imgsz))
    assert (c.params, c.layers) == (2_654_944, 156)
    assert c.gflops_ultralytics == pytest.approx(gflops, abs=1e-9)


def test_summary_names_each_convention():
    graph = resolve(parse_file(preset_path("yolov8n"))[0], 640)
    text = info_text(graph, count(graph), [])
    assert "yolov8n summary: 129 layers, 3,157,200 parameters" in text
    assert "YOLOv5 7.0 8.86 GFLOPs, Ultralytics 8.4 8.86 GFLOPs; layers as Ultralytics 8.4 counts them" in text
