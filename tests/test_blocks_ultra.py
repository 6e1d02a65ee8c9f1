"""The current Ultralytics detection blocks (issue 12): C3k2, C2PSA / PSA / C2fPSA, SCDown, C2fCIB,
RepVGGDW, A2C2f, RepNCSPELAN4, ELAN1, SPPELAN, ADown, AConv, RepC3, C2, C3x, C3TR, BottleneckCSP and
SPPF's YOLO26 form. The registry-wide tests (test_blocks.py, test_receptive.py) already build, run,
fuse, count (against thop) and measure the reach of every block's example; here each block is held to
the upstream module's figures, whole upstream files to upstream's per-layer counts, and the rules
upstream's parse_model applies by scale (C3k2's c3k, A2C2f's residual) and its `legacy` flag.

Every figure below was measured, not remembered:
- ultralytics 8.4.190: `ultralytics.nn.modules.block.<Name>(*args)` on a (1, c1, 16, 16) input ->
  (parameters, output shape); whole files: `DetectionModel(yaml_model_load(file) + scale)`, per-layer
  parameters of model.model;
- YOLOv5 7.0.14 (the wheel's models/common.py): the same for the blocks it has under these names.
The fixtures in tests/fixtures/ultra/ are the layer lists of the upstream files, as data.
"""
from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
import yaml

import blocks
from blocks.area import AAttn
from blocks.c3k2 import C3k2
from blocks.csp import SPPF
from blocks.psa import Attention
from blocks.rep import RepConv
from blocks.v10 import RepVGGDW
from graph.counts import count, yolo_layer_count
from graph.errors import SpecError
from graph.model import build
from graph.receptive import IMAGE, through
from graph.resolve import resolve
from graph.spec import parse, parse_file
from test_blocks import randomize_bn

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "ultra")

# (name, ctor args as upstream takes them (c1 first), parameters, output (C, H, W) from 16 x 16),
# measured with ultralytics 8.4.190
ULTRALYTICS_BLOCKS = [
    ("C3k2", (64, 64, 1, False, 0.5), 19_808, (64, 16, 16)),
    ("C3k2", (64, 128, 2, True, 0.5), 132_608, (128, 16, 16)),
    ("C3k2", (64, 64, 1, True, 0.5, True), 27_712, (64, 16, 16)),  # attn (YOLO26)
    ("C3k2", (32, 64, 2, False, 0.25), 10_016, (64, 16, 16)),
    ("C3k2", (128, 128, 1, False, 0.5, True, 1, True), 108_672, (128, 16, 16)),
    ("C3k2", (64, 64, 2, False, 0.5, False, 2, False), 26_560, (64, 16, 16)),  # g=2, no shortcut
    ("C2PSA", (128, 128, 1, 0.5), 63_424, (128, 16, 16)),
    ("C2PSA", (256, 256, 2, 0.5), 367_360, (256, 16, 16)),
    ("PSA", (128, 128, 0.5), 63_424, (128, 16, 16)),
    ("PSA", (256, 256, 0.5), 249_728, (256, 16, 16)),
    ("C2fPSA", (128, 128, 1), 71_616, (128, 16, 16)),
    ("C2fPSA", (256, 256, 2), 432_896, (256, 16, 16)),
    ("SCDown", (64, 128, 3, 2), 9_856, (128, 8, 8)),
    ("SCDown", (64, 64, 5, 1), 5_952, (64, 16, 16)),
    ("C2fCIB", (64, 64, 1, True, False), 16_192, (64, 16, 16)),
    ("C2fCIB", (64, 128, 2, True, True), 93_696, (128, 16, 16)),  # lk: RepVGGDW
    ("C2fCIB", (64, 64, 1, False, True, 1, 0.5), 19_456, (64, 16, 16)),
    ("RepVGGDW", (64,), 3_968, (64, 16, 16)),
    ("RepVGGDW", (96,), 5_952, (96, 16, 16)),
    ("A2C2f", (128, 128, 1, True, 4), 98_816, (128, 16, 16)),
    ("A2C2f", (128, 256, 2, False, -1), 477_952, (256, 16, 16)),
    ("A2C2f", (128, 128, 2, True, 1, True, 1.2), 153_952, (128, 16, 16)),  # the l / x form
    ("A2C2f", (64, 128, 1, True, 4, False, 2.0, 0.5), 94_720, (128, 16, 16)),
    ("RepNCSPELAN4", (64, 128, 64, 32, 1), 53_696, (128, 16, 16)),
    ("RepNCSPELAN4", (128, 256, 128, 64, 2), 252_160, (256, 16, 16)),
    ("ELAN1", (64, 64, 64, 32), 31_104, (64, 16, 16)),
    ("ELAN1", (32, 64, 32, 16), 9_984, (64, 16, 16)),
    ("SPPELAN", (256, 256, 128, 5), 164_608, (256, 16, 16)),
    ("SPPELAN", (128, 64, 32, 3), 12_480, (64, 16, 16)),
    ("ADown", (64, 128), 20_736, (128, 8, 8)),
    ("ADown", (128, 128), 41_216, (128, 8, 8)),
    ("AConv", (64, 128), 73_984, (128, 8, 8)),
    ("AConv", (32, 48), 13_920, (48, 8, 8)),
    ("RepC3", (64, 64, 3, 1.0), 132_096, (64, 16, 16)),
    ("RepC3", (64, 128, 2, 0.5), 99_328, (128, 16, 16)),
    ("C2", (64, 64, 1, True), 27_008, (64, 16, 16)),
    ("C2", (64, 128, 2, False), 173_056, (128, 16, 16)),
    ("C3x", (64, 64, 1), 14_720, (64, 16, 16)),
    ("C3x", (64, 128, 2, False), 74_752, (128, 16, 16)),
    ("C3TR", (64, 64, 1), 18_848, (64, 16, 16)),
    ("C3TR", (64, 128, 2), 103_488, (128, 16, 16)),
    ("BottleneckCSP", (64, 64, 1), 28_096, (64, 16, 16)),  # Ultralytics' form: 3x3 / 3x3 Bottlenecks
    ("BottleneckCSP", (64, 128, 2, False), 177_280, (128, 16, 16)),
    ("SPPF", (128, 128, 5), 41_344, (128, 16, 16)),
    ("SPPF", (128, 128, 5, 3, True), 41_344, (128, 16, 16)),  # YOLO26's form
    ("SPPF", (128, 64, 3, 2), 20_736, (64, 16, 16)),
]
# The same measured with YOLOv5 7.0.14, for the blocks it has under these names
YOLOV5_BLOCKS = [
    ("BottleneckCSP", (64, 64, 1), 19_904), ("BottleneckCSP", (64, 128, 2, False), 111_744),  # 1x1 / 3x3
    ("C3TR", (64, 64, 1), 18_848), ("C3TR", (64, 128, 2), 103_488),
    ("C3x", (64, 64, 1), 14_720), ("C3x", (64, 128, 2, False), 74_752),
]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name, args, params, shape", ULTRALYTICS_BLOCKS,
                         ids=[f"{r[0]}-{i}" for i, r in enumerate(ULTRALYTICS_BLOCKS)])
def test_block_matches_the_ultralytics_module(name, args, params, shape):
    m = blocks.get_block(name, "ultralytics").cls(*args).eval()
    assert n_params(m) == params
    with torch.no_grad():
        assert tuple(m(torch.randn(1, args[0], 16, 16)).shape[1:]) == shape


@pytest.mark.parametrize("name, args, params", YOLOV5_BLOCKS, ids=[f"{r[0]}-{i}" for i, r in enumerate(YOLOV5_BLOCKS)])
def test_block_matches_the_yolov5_module(name, args, params):
    assert n_params(blocks.get_block(name, "yolov5").cls(*args)) == params


# ---------------------------------------------------------------- whole upstream files

def fixture_graph(name: str, scale: str | None = None):
    spec, _ = parse_file(os.path.join(FIX, name))
    if scale:
        spec, _ = spec.with_overrides(scale=scale)
    return resolve(spec, 640)


# (fixture, scale, parameters of every layer but the head, the whole model's, leaf layers, GFLOPs), as
# ultralytics 8.4.190 prints them: DetectionModel(...) per-layer parameters, model_info (leaf modules,
# parameters, get_flops at 640)
FILES = [
    ("ul-yolo11.yaml", "n", 2_159_168, 2_624_080, 181, 6.6733184),
    ("ul-yolo11.yaml", "s", 8_608_384, 9_458_752, 181, 21.8363392),
    ("ul-yolo11.yaml", "m", 18_641_984, 20_114_688, 231, 68.643072),   # C3k2 c3k=True by scale
    ("ul-yolo11.yaml", "l", 23_899_456, 25_372_160, 357, 87.8510592),
    ("ul-yolo11.yaml", "x", 53_728_224, 56_966_176, 357, 196.3150848),
    ("ul-yolo12.yaml", "n", 2_137_376, 2_602_288, 272, 7.6341376),
    ("ul-yolo12.yaml", "s", 8_433_728, 9_284_096, 272, 23.65312),
    ("ul-yolo12.yaml", "m", 18_726_464, 20_199_168, 292, 71.3478656),
    ("ul-yolo12.yaml", "l", 24_978_080, 26_450_784, 488, 96.2949376),  # A2C2f residual, mlp_ratio 1.2 by scale
    ("ul-yolo12.yaml", "x", 55_972_832, 59_210_784, 488, 210.1457408),
    ("ul-yolo26.yaml", "n", 2_262_624, 2_572_280, 260, 6.2396672),      # SPPF [c2, k, n, shortcut], C3k2 attn
    ("ul-yolo26.yaml", "s", 9_016_000, 10_009_784, 260, 23.0793216),
    ("ul-yolo26.yaml", "l", 23_377_728, 26_299_704, 392, 94.1582336),
    ("ul-yolov10n.yaml", None, 1_845_712, 2_775_520, 223, 8.7994112),   # SCDown, PSA, C2fCIB + RepVGGDW
    ("ul-yolov9t.yaml", None, 1_438_416, 2_128_720, 544, 8.4811264),    # ELAN1, AConv, RepNCSPELAN4, SPPELAN
    ("ul-yolov9c.yaml", None, 19_946_432, 25_590_912, 358, 104.0144896),  # ADown
    ("ul-yolov9e.yaml", None, 52_562_112, 58_206_592, 721, 193.0074624),  # CBLinear / CBFuse, nn.Identity
]


@pytest.mark.parametrize("name, scale, body, params, layers, gflops", FILES, ids=[f"{r[0]}-{r[1]}" for r in FILES])
def test_upstream_file_counts_as_ultralytics_prints(name, scale, body, params, layers, gflops):
    c = count(fixture_graph(name, scale))
    assert sum(r["params"] for r in c.per_layer[:-1]) == body  # the blocks, apart from the head
    assert c.params == params
    assert c.gflops_ultralytics == pytest.approx(gflops, abs=1e-6)
    assert (c.layers, c.layers_by) == (layers, "Ultralytics 8.4")  # v9: RepConvs share one SiLU upstream


def test_repconvs_share_one_silu_in_the_layer_count():
    """Upstream's RepConvs share one SiLU (`RepConv.default_act`); ours each own one and say so by name
    (`default_act = "RepConv.default_act"`), which graph/counts.py counts once. Measured with ultralytics
    8.4.190 on nn.Sequential of 1, 2, 3 RepConv(8, 8): leaf modules 7, 13, 19; all modules 11, 20, 29."""
    for n, leaves, every in ((1, 7, 11), (2, 13, 20), (3, 19, 29)):
        m = nn.Sequential(*(RepConv(8, 8) for _ in range(n)))
        assert (yolo_layer_count(m, leaves=True), yolo_layer_count(m)) == (leaves, every), n


# ---------------------------------------------------------------- parse_model's rules by scale, `legacy`

def test_c3k2_takes_c3k_at_m_l_x_as_upstream():
    for scale, want in (("n", [False, False, True, True]), ("s", [False, False, True, True]),
                        ("m", [True] * 4), ("l", [True] * 4), ("x", [True] * 4)):
        graph = fixture_graph("ul-yolo11.yaml", scale)
        assert [graph.layers[i].args["c3k"] for i in (2, 4, 6, 8)] == want, scale
    m = fixture_graph("ul-yolo11.yaml", "m")
    assert m.layers[13].shown_args[3] is True  # printed with the c3k the rule gave, as upstream prints it
    rule = blocks.get_block("C3k2").scale_rule
    assert rule((256,), "m") == (256, True) and rule((256, False, 0.25), "l") == (256, True, 0.25)
    assert rule((256, False, 0.25), "n") == (256, False, 0.25) and rule((256,), None) == (256,)


def test_a2c2f_appends_residual_and_mlp_ratio_at_l_x():
    for scale, want in (("n", (False, 2.0)), ("m", (False, 2.0)), ("l", (True, 1.2)), ("x", (True, 1.2))):
        a = fixture_graph("ul-yolo12.yaml", scale).layers[6].args
        assert (a["a2"], a["area"], a["residual"], a["mlp_ratio"]) == (True, 4, *want), scale
    assert blocks.get_block("A2C2f").scale_rule((512, True, 4), "x") == (512, True, 4, True, 1.2)


def test_no_scale_named_takes_the_first_as_upstream():
    spec, _ = parse_file(os.path.join(FIX, "ul-yolo11.yaml"))
    assert spec.scale is None
    assert count(resolve(spec, 640)).params == count(fixture_graph("ul-yolo11.yaml", "n")).params


def test_legacy_flag_cleared_by_c3k2_a2c2f_c2fcib():
    assert {b.name for b in blocks.list_blocks() if b.clears_legacy} == {"C3k2", "A2C2f", "C2fCIB"}
    for name, legacy in (("ul-yolo11.yaml", False), ("ul-yolo12.yaml", False), ("ul-yolov10n.yaml", False),
                         ("ul-yolov9t.yaml", True), ("ul-yolov9c.yaml", True)):
        assert fixture_graph(name).legacy is legacy, name


# ---------------------------------------------------------------- SPPF, old and YOLO26 forms

def test_sppf_keeps_its_two_arg_form_and_reads_yolo26s():
    old, new = SPPF(64, 64, 5), SPPF(64, 64, 5, 3, True)
    assert isinstance(old.cv1.act, nn.SiLU) and isinstance(new.cv1.act, nn.Identity)  # upstream's rule
    assert not old.add and new.add and not SPPF(64, 32, 5, 3, True).add
    x = torch.randn(1, 64, 8, 8)
    new.eval()
    with torch.no_grad():
        y = [new.cv1(x)]
        for _ in range(3):
            y.append(new.m(y[-1]))
        torch.testing.assert_close(new(x), new.cv2(torch.cat(y, 1)) + x)
    assert n_params(SPPF(64, 64, 5, 2)) == n_params(SPPF(64, 64, 5)) - 32 * 64  # one pooled map less into cv2
    assert [a["name"] for a in blocks.get_block("SPPF").schema()] == ["c2", "k", "n", "shortcut"]
    g = fixture_graph("ul-yolo26.yaml", "n")
    assert g.layers[9].args == {"c2": 256, "k": 5, "n": 3, "shortcut": True}


# ---------------------------------------------------------------- deploy forms

def _randomized(m: nn.Module) -> nn.Module:
    randomize_bn(m)  # tests/test_blocks.py: BatchNorms in a state that folding really changes
    return m.eval()


@pytest.mark.parametrize("make, kernel", [(lambda: RepVGGDW(16), (7, 7)), (lambda: RepConv(16, 24), (3, 3))],
                         ids=["RepVGGDW", "RepConv"])
def test_reparameterised_blocks_fold_into_one_conv(make, kernel):
    m = _randomized(make())
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        y0 = m(x)
        m.fuse()
        y1 = m(x)
        m.fuse()  # twice is harmless
        torch.testing.assert_close(m(x), y1, atol=0, rtol=0)
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == kernel and convs[0].bias is not None
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.modules())
    assert (y1 - y0).abs().max() < 1e-4


@pytest.mark.parametrize("dialect", ["yolov5", "ultralytics"])
def test_bottleneck_csp_folds_the_bn_over_its_concat(dialect):
    m = _randomized(blocks.get_block("BottleneckCSP", dialect).cls(16, 32, 2))
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        y0 = m(x)
        for mod in list(m.modules()):
            if mod is not m and hasattr(mod, "fuse"):
                mod.fuse()
        m.fuse()
        assert (m(x) - y0).abs().max() < 1e-4
    assert not any(isinstance(b, nn.BatchNorm2d) for b in m.modules())


# ---------------------------------------------------------------- attention

def test_attention_without_global_mixing_is_the_value_path():
    """`attend_globally = False` (what the receptive-field test measures): each position attends to
    itself, so the output is proj(v + pe(v))."""
    m = _randomized(Attention(64, 1))
    x = torch.randn(1, 64, 6, 6)
    with torch.no_grad():
        y_global = m(x)
        m.attend_globally = False
        v = m.qkv(x).view(1, 1, -1, 36)[:, :, 2 * m.key_dim:].reshape(1, 64, 6, 6)
        torch.testing.assert_close(m(x), m.proj(v + m.pe(v)))
        assert (m(x) - y_global).abs().max() > 1e-3


def test_area_attention_bands_and_its_gradient():
    """Area attention mixes within bands of rows only; its gradient is right for a batch of one (with
    flatten + transpose before the BatchNorm it is not, on torch 2.13's CPU kernels)."""
    torch.manual_seed(0)
    m = _randomized(AAttn(32, 1, area=4)).double()
    x = torch.rand(1, 32, 8, 8, dtype=torch.float64, requires_grad=True)
    m(x)[0, :, 1, 3].sum().backward()  # a cell of the first band (rows 0-1)
    rows = x.grad[0].abs().sum(dim=(0, 2)).nonzero().flatten().tolist()
    assert rows == [0, 1, 2, 3, 4]  # its band, plus the 7x7 positional encoding's reach below it
    assert torch.autograd.gradcheck(lambda t: m(t).sum(), (torch.rand(1, 32, 4, 4, dtype=torch.float64,
                                                                         requires_grad=True),))


# ---------------------------------------------------------------- the blocks' own rules

BAD = [
    ("[-1, 1, C2PSA, [64]]", "C2PSA keeps its channels: c_in must equal c2"),
    ("[-1, 1, C3k2, [400, False, 0.5, True]]", "must split evenly into its 3 heads"),
    ("[-1, 1, A2C2f, [48, True, 1]]", "must be a multiple of 32"),
    ("[-1, 1, A2C2f, [64, True, 3]]", "does not split into 3 equal areas"),
    ("[-1, 1, A2C2f, [128, True, 1, True]]", "needs c_in == c2"),
    ("[-1, 1, RepNCSPELAN4, [64, 33, 16]]", "c3 is split into two halves"),
    ("[-1, 1, C3TR, [40, True, 1, 0.25]]", "must split evenly into its 4 heads"),
    ("[-1, 1, RepVGGDW, [24]]", "ed must equal the input's 32"),
]


@pytest.mark.parametrize("row, why", BAD, ids=[r[1][:24] for r in BAD])
def test_block_rules_are_spec_errors(row, why):
    layers = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]
    text = yaml.safe_dump({"nc": 2, "depth_multiple": 1.0, "width_multiple": 1.0,
                           "backbone": layers + [yaml.safe_load(row)] + [[-1, 1, "Conv", [32, 3, 2]] for _ in range(2)],
                           "head": [[[2, 3, 4], 1, "Detect", ["nc"]]]}, sort_keys=False)
    with pytest.raises(SpecError, match=why):
        resolve(parse(text)[0], 128)


def test_adown_needs_an_even_input():
    text = "nc: 2\nbackbone:\n  - [-1, 1, ADown, [32]]\n" + "".join(
        "  - [-1, 1, Conv, [32, 3, 2]]\n" for _ in range(4)) + "head:\n  - [[2, 3, 4], 1, Detect, [nc]]\n"
    with pytest.raises(SpecError, match=r"layer 0 \(ADown\).*c_in and c2 must be even \(got 3, 32\)"):
        resolve(parse(text)[0], 128)


def test_c3k2_inner_blocks_follow_its_flags():
    assert [type(m).__name__ for m in C3k2(32, 32, 2).m] == ["Bottleneck", "Bottleneck"]
    assert type(C3k2(32, 32, 1, True).m[0]).__name__ == "C3k"
    assert [type(x).__name__ for x in C3k2(32, 32, 1, True, 0.5, True).m[0]] == ["Bottleneck", "PSABlock"]
    assert C3k2(32, 32, 1).m[0].cv1.conv.out_channels == 8  # half-width inside, unlike C2f's


def test_ultralytics_bottleneck_csp_form_passes_the_block_checks():
    """The dialect form is no catalogue entry: its example in an Ultralytics detector resolves, runs to
    the promised shapes, counts as thop and fuses, and its reach fact matches its module."""
    import thop

    from test_receptive import measured_reach

    info = blocks.get_block("BottleneckCSP", "ultralytics")
    assert info is not blocks.get_block("BottleneckCSP") and info.name == "BottleneckCSP"
    rows = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]] + [[f, n, m, list(a)] for f, n, m, a in info.example]
    rows += [[-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]
    text = yaml.safe_dump({"nc": 3, "backbone": rows, "head": [[[4, 5, 6], 1, "Detect", ["nc"]]]}, sort_keys=False)
    graph = resolve(parse(text)[0], 64)
    mine = [node for node in graph.layers if node.module == "BottleneckCSP"]
    assert len(mine) == 2 and all(node.info is info for node in mine)
    model = _randomized(build(graph))
    x = torch.randn(1, 3, 64, 64)
    c = count(graph)
    assert c.params == n_params(model)
    ops, _ = thop.profile(model, inputs=(x,), verbose=False)
    assert c.gflops == pytest.approx(2 * ops / 1e9, rel=1e-9)
    with torch.no_grad():
        y0 = model(x)
        model.fuse()
        torch.testing.assert_close(model(x), y0, atol=1e-4, rtol=1e-5)
    assert c.fused_params == n_params(model)
    for node in mine:
        assert measured_reach(node) == through(node, [IMAGE]).rf, node.args


def test_cbfuse_refuses_what_is_not_a_cblinear_map():
    """CBFuse sums one map of each CBLinear with its last input: a plain layer as input, an index past
    the maps, or a map of another width is one line naming the layer."""
    base = ("nc: 2\nbackbone:\n  - [-1, 1, Conv, [16, 3, 2]]\n  - [-1, 1, CBLinear, [[8, 16]]]\n"
            "  - [0, 1, Conv, [16, 3, 2]]\n")
    head = ("  - [-1, 1, Conv, [32, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\n  - [-1, 1, Conv, [64, 3, 2]]\n"
            "  - [-1, 1, Conv, [64, 3, 2]]\nhead:\n  - [[5, 6, 7], 1, Detect, [nc]]\n")
    good = base + "  - [[1, -1], 1, CBFuse, [[1]]]\n" + head
    assert count(resolve(parse(good)[0], 64)).params > 0
    for row, words in (("[[0, -1], 1, CBFuse, [[1]]]", "not a split layer"),
                       ("[[1, -1], 1, CBFuse, [[2]]]", "out of range"),
                       ("[[1, -1], 1, CBFuse, [[0]]]", "8 channels"),
                       ("[[1, -1], 1, CBFuse, [[0, 1]]]", "need 1 indices")):
        with pytest.raises(SpecError, match=words) as err:
            resolve(parse(base + f"  - {row}\n" + head)[0], 64)
        assert err.value.layer == 3
