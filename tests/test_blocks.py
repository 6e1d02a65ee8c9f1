"""Every block in the catalogue, end to end: a tiny detector that uses it resolves, builds on CPU,
runs, produces exactly the shapes the resolver declared, learns (a gradient reaches every parameter),
keeps its output through `fuse()`, and is counted (meta device) exactly as the real model and as thop
count it. Plus the two Detect heads at 640 px, thop on whole presets, the seed spellings of the
catalogue, and a few block semantics.

Everything runs at 64 px with 16..32 channels so the whole file stays fast on two CPU cores.
"""
from __future__ import annotations

import functools

import pytest
import torch
import torch.nn as nn
import yaml

import blocks
from blocks.mobilenet import SELayer
from blocks.repvgg import RepVGGBlock
from blocks.shufflenet import ADD
from blocks.gsconv import GSConvns
from graph.counts import count
from graph.flops import layer_macs
from graph.model import DetectionModel, build, count_params
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path

import thop  # noqa: E402  (requirements-dev: the counting oracle)


IMGSZ = 64
NC = 3
ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]

# Every block's registry entry carries an `example`: rows that start from the stem's output (32
# channels at stride 4, 16x16 at 64 px) and end at stride 8 (see blocks/registry.py). The test appends
# two stride-2 Convs (P4, P5) and a Detect over [P3, P4, P5].
STEM = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]

# A head other than Detect ends a detector itself, so it cannot sit in the body of the test detector
# (whose head is Detect): tests/test_heads_e2e.py runs those heads through the same checks.
BLOCK_NAMES = [b.name for b in blocks.list_blocks() if b.channels != "head" or b.name == "Detect"]


def _lists(value):
    """Registry examples are tuples (entries are frozen); yaml rows are lists."""
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def detector_yaml(body, anchor_free: bool = False) -> str:
    rows = STEM + _lists(body)
    p3 = len(rows) - 1
    rows = rows + [[-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]
    head = [[[p3, p3 + 1, p3 + 2], 1, "Detect", ["nc"] if anchor_free else ["nc", "anchors"]]]
    data = {"nc": NC, "depth_multiple": 1.0, "width_multiple": 1.0}
    if not anchor_free:
        data["anchors"] = ANCHORS
    data.update(backbone=rows, head=head)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


@functools.lru_cache(maxsize=None)
def block_graph(name: str, anchor_free: bool = False):
    spec, _ = parse(detector_yaml(blocks.get_block(name).example, anchor_free), name=name)
    return resolve(spec, IMGSZ)


def image(seed: int = 0, size: int = IMGSZ) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Put every BatchNorm in a non-trivial state so that folding it actually changes weights."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.copy_(torch.rand(c, generator=g) - 0.5)


@torch.no_grad()
def run_layers(model: DetectionModel, x: torch.Tensor):
    """Forward `x`; return (final output, {layer index: that layer's output})."""
    outs, handles = {}, []
    for layer in model.model:
        handles.append(layer.register_forward_hook(
            lambda mod, inp, out: outs.__setitem__(mod.i, out.clone() if torch.is_tensor(out) else out)))
    try:
        y = model(x)
    finally:
        for h in handles:
            h.remove()
    return y, outs


def n_anchor_rows(graph) -> int:
    return 3 * sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)


def n_cells(graph) -> int:
    return sum(graph.layers[s].shape[1] * graph.layers[s].shape[2] for s in graph.head.sources)


@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_every_block_has_an_example(name):
    example = blocks.get_block(name).example
    assert example, f"register {name} with an example (blocks/registry.py, EXAMPLE_DOWN)"
    for row in example:
        assert isinstance(row, tuple) and len(row) == 4, f"{name}: {row!r} is not (from, n, module, args)"
        blocks.get_block(row[2])


# ---------------------------------------------------------------- per block: resolve, build, shapes

@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_block_resolves_builds_and_shapes_match(name):
    graph = block_graph(name)
    assert name in [node.module for node in graph.layers]
    assert graph.strides == [8, 16, 32]
    model = build(graph).eval()
    assert len(model.model) == len(graph.layers)
    for layer, node in zip(model.model, graph.layers):
        assert (layer.i, tuple(layer.f), layer.type) == (node.index, node.sources, node.module)
    y, outs = run_layers(model, image())
    assert y.shape == (1, n_anchor_rows(graph), 5 + NC)
    assert torch.isfinite(y).all()
    for node in graph.layers:
        if node is graph.head:
            continue
        assert tuple(outs[node.index].shape) == (1, *node.shape), f"layer {node.index} ({node.module})"
        assert node.stride == round(IMGSZ / node.shape[1])  # round: nn.ZeroPad2d adds a pixel, keeps the stride


@pytest.mark.parametrize("name", ["Detect", "SELayer", "conv_bn_relu_maxpool", "Shuffle_Block", "ADD"])
def test_block_runs_under_anchor_free_head(name):
    graph = block_graph(name, anchor_free=True)
    model = build(graph).eval()
    with torch.no_grad():
        y = model(image())
    assert y.shape == (1, 4 + NC, n_cells(graph))
    model.train()
    with torch.no_grad():
        raw = model(image())
    assert [tuple(t.shape) for t in raw] == [
        (1, 4 * 16 + NC, *graph.layers[s].shape[1:]) for s in graph.head.sources]


# ---------------------------------------------------------------- per block: gradients reach every parameter

# Parameters that rightly get no gradient, by name: DFL's 1x1 conv holds the fixed integral weights
# 0..reg_max-1 (requires_grad=False, as in Ultralytics) and in training mode the head returns the raw
# maps before it anyway. Nothing else is exempt (BatchNorm running stats are buffers, not parameters).
NO_GRAD = (".dfl.conv.weight",)


def assert_every_parameter_learns(model: nn.Module, x: torch.Tensor) -> None:
    """timm's check: one forward in training mode, backward of the output sum, then every trainable
    parameter has a gradient, finite and not all zero; the frozen ones are exactly NO_GRAD. Dead
    parameters (built as upstream builds them, read by no forward: VoVGSCSP's `res`) are the model's
    own report (graph/dead.py), and they, exactly, get none."""
    dead_weights = set(model.dead_weights().params) if hasattr(model, "dead_weights") else set()
    model.train()
    out = model(x)
    maps = out if isinstance(out, (list, tuple)) else [out]
    sum(m.float().sum() for m in maps).backward()
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert all(n.endswith(NO_GRAD) for n in frozen), f"frozen without a reason: {frozen}"
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert params
    missing = [n for n, p in params if p.grad is None]
    assert set(missing) == dead_weights, f"no gradient reaches {sorted(set(missing) - dead_weights)}"
    params = [(n, p) for n, p in params if n not in dead_weights]
    dead = [n for n, p in params if not p.grad.any()]
    assert not dead, f"all-zero gradient for {dead}"
    assert all(torch.isfinite(p.grad).all() for _, p in params)


@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_block_parameters_all_get_gradients(name):
    graph = block_graph(name)
    torch.manual_seed(0)
    model = build(graph)
    mine = [layer for layer, node in zip(model.model, graph.layers) if node.module == name]
    assert mine, f"{name} is not in its own example"
    assert_every_parameter_learns(model, image(2))


def test_anchor_free_head_parameters_get_gradients_except_dfl():
    graph = block_graph("Detect", anchor_free=True)
    torch.manual_seed(0)
    model = build(graph)
    assert [n for n, p in model.named_parameters() if not p.requires_grad] == [
        f"model.{graph.head.index}.dfl.conv.weight"]
    assert_every_parameter_learns(model, image(2))


# ---------------------------------------------------------------- per block: fuse keeps the output

@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_block_fuse_keeps_output(name):
    graph = block_graph(name)
    torch.manual_seed(0)
    model = build(graph)
    randomize_bn(model)
    model.eval()
    x = image(1)
    y0, outs0 = run_layers(model, x)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert n_bn > 0
    assert model.fuse() is model
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "a BatchNorm was not folded"
    y1, outs1 = run_layers(model, x)
    for node in graph.layers:
        if node is graph.head:
            continue
        a, b = outs0[node.index], outs1[node.index]
        assert (a - b).abs().max().item() < 1e-4, f"layer {node.index} ({node.module}) changed by fuse"
    # head output is boxes in pixels (up to ~1500) plus probabilities: compare relative to scale
    torch.testing.assert_close(y1, y0, atol=1e-4, rtol=1e-5)
    # fusing twice is harmless
    model.fuse()
    y2, _ = run_layers(model, x)
    torch.testing.assert_close(y2, y1, atol=0, rtol=0)


# ---------------------------------------------------------------- per block: counts

@pytest.mark.parametrize("name", BLOCK_NAMES)
def test_block_counts_match_real_model_and_thop(name):
    graph = block_graph(name)
    c = count(graph)
    model = build(graph)
    assert c.params == count_params(model)
    x = image()
    macs = layer_macs(model, x)
    assert [2 * m / 1e9 for m in macs] == [row["gflops"] for row in c.per_layer]
    assert c.gflops == pytest.approx(2 * sum(macs) / 1e9, rel=1e-12)
    ops, _ = thop.profile(model, inputs=(x,), verbose=False)  # thop removes its hooks and buffers
    assert sum(macs) == pytest.approx(ops, rel=1e-9)
    assert count_params(model) == c.params
    # the deploy form, counted on the meta device, matches the real fused model
    randomize_bn(model)
    model.eval().fuse()
    assert c.fused_params == count_params(model)
    assert c.fused_gflops == pytest.approx(2 * sum(layer_macs(model, x)) / 1e9, rel=1e-12)
    assert c.fused_params <= c.params and c.fused_gflops < c.gflops


# ---------------------------------------------------------------- RepVGG re-parameterisation

@pytest.mark.parametrize("c1,c2,k,s", [(16, 16, 3, 1), (16, 32, 3, 2), (16, 24, 3, 1), (8, 8, 5, 1), (8, 8, 1, 1)])
def test_repvgg_reparameterize_is_one_conv_and_exact(c1, c2, k, s):
    torch.manual_seed(0)
    block = RepVGGBlock(c1, c2, k, s)
    assert (block.rbr_identity is not None) == (c1 == c2 and s == 1)
    randomize_bn(block, seed=3)
    block.eval()
    x = torch.randn(2, c1, 16, 16)
    with torch.no_grad():
        y0 = block(x)
        block.reparameterize()
        y1 = block(x)
    conv = block.rbr_reparam
    assert type(conv) is nn.Conv2d
    assert conv.kernel_size == (k, k) and conv.stride == (s, s) and conv.bias is not None
    assert (conv.in_channels, conv.out_channels, conv.groups) == (c1, c2, 1)
    assert not hasattr(block, "rbr_dense") and not hasattr(block, "rbr_1x1")
    assert block.rbr_identity is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in block.modules())
    assert {n for n, _ in block.named_children()} == {"rbr_reparam", "act"}
    assert (y1 - y0).abs().max().item() < 1e-4
    with torch.no_grad():
        block.reparameterize()  # idempotent
        block.fuse()
        assert block.rbr_reparam is conv
        torch.testing.assert_close(block(x), y1, atol=0, rtol=0)


def test_repvgg_blocks_reparameterised_by_model_fuse():
    graph = block_graph("RepVGGBlock")
    model = build(graph)
    model.eval().fuse()
    reps = [m for m in model.modules() if isinstance(m, RepVGGBlock)]
    assert len(reps) == 4
    assert all(type(m.rbr_reparam) is nn.Conv2d and not hasattr(m, "rbr_dense") for m in reps)


# ---------------------------------------------------------------- block semantics

def test_add_is_x0_plus_alpha_x1():
    a, b = torch.randn(2, 8, 5, 5), torch.randn(2, 8, 5, 5)
    torch.testing.assert_close(ADD(0.5)([a, b]), a + 0.5 * b)
    torch.testing.assert_close(ADD()([a, b]), a + b)
    torch.testing.assert_close(ADD(-2.0)([a, b]), a - 2 * b)


def test_add_in_a_model_reads_its_two_inputs():
    graph = block_graph("ADD")
    model = build(graph).eval()
    _, outs = run_layers(model, image())
    adds = [node for node in graph.layers if node.module == "ADD"]
    assert [node.args["alpha"] for node in adds] == [0.5, 1.0]
    for node in adds:
        x0, x1 = (outs[s] for s in node.sources)
        torch.testing.assert_close(outs[node.index], x0 + node.args["alpha"] * x1)


def test_gsconvns_output_is_non_negative():
    torch.manual_seed(0)
    m = GSConvns(16, 32, 3, 1).eval()
    with torch.no_grad():
        y = m(torch.randn(2, 16, 8, 8) * 3)
    assert y.shape == (2, 32, 8, 8)
    assert (y >= 0).all() and (y > 0).any()
    graph = block_graph("GSConvns")
    _, outs = run_layers(build(graph).eval(), image())
    for node in graph.layers:
        if node.module == "GSConvns":
            assert (outs[node.index] >= 0).all()


def test_selayer_rescales_channels_in_0_1():
    torch.manual_seed(0)
    se = SELayer(16, 4).eval()
    x = torch.rand(2, 16, 6, 6) + 0.1
    with torch.no_grad():
        y = se(x)
    ratio = y / x
    assert ratio.min() >= 0 and ratio.max() <= 1
    # one weight per (sample, channel)
    torch.testing.assert_close(ratio, ratio[..., :1, :1].expand_as(ratio))


def test_mobilenetv3_skips_expansion_when_hidden_equals_c_in():
    g = block_graph("MobileNetV3")
    model = build(g)
    no_expand, expand = model.model[3], model.model[4]
    assert isinstance(no_expand.conv[0], nn.Conv2d) and no_expand.conv[0].groups == 32  # dw first
    assert expand.conv[0].kernel_size == (1, 1) and expand.conv[0].groups == 1  # 1x1 expand first
    assert no_expand.identity and expand.identity and not model.model[2].identity


# ---------------------------------------------------------------- catalogue

SEED_NAMES = ["conv_bn_relu_maxpool", "Shuffle_Block", "DWConvblock", "ADD", "GhostConv",
              "GhostBottleneck", "C2fGhost", "C3Ghost", "GSConv", "GSConvns", "GSBottleneck",
              "VoVGSCSP", "h_sigmoid", "h_swish", "SELayer", "conv_bn_hswish", "MobileNetV3",
              "RepVGGBlock"]
BASE_NAMES = ["Conv", "DWConv", "Focus", "Bottleneck", "C3", "C2f", "SPP", "SPPF", "Concat",
              "nn.Upsample", "Detect"]


@pytest.mark.parametrize("name", SEED_NAMES + BASE_NAMES)
def test_catalogue_has_article_spellings(name):
    info = blocks.REGISTRY[name]
    assert info.name == name
    assert blocks.get_block(name) is info


def test_catalogue_entries_are_described():
    for key, info in blocks.REGISTRY.items():
        assert isinstance(info.summary, str) and info.summary.strip(), key
        assert isinstance(info.source, str) and info.source.strip(), key
        assert info.channels in {"out", "same", "sum", "equal", "head", "split", "pick"}, key
        assert info.repeat in {"stack", "inside", "once"}, key
        assert info.inputs in (0, 1, 2), key
        assert set(info.upstream) <= {"yolov5", "ultralytics"}, key
        assert isinstance(info.elementwise, bool) and (info.shared_act is None or callable(info.shared_act)), key
        for arg in info.args:
            assert arg.help, f"{key}.{arg.name} has no help"
    names = [b.name for b in blocks.list_blocks()]
    assert len(names) == len(set(names))
    assert blocks.REGISTRY["Upsample"] is blocks.REGISTRY["nn.Upsample"]
    assert set(names) == {info.name for info in blocks.REGISTRY.values()}


def test_unknown_block_suggests_spelling():
    with pytest.raises(blocks.UnknownBlock) as err:
        blocks.get_block("shuffle_block")
    assert "Shuffle_Block" in err.value.suggestions


# ---------------------------------------------------------------- whole presets: counts vs thop

@pytest.mark.parametrize("preset,imgsz", [("yolov5s", 64), ("yolov8n", 128),
                                          ("yolov5-mobilenetv3-small", 64), ("yolov5s-repvgg", 64)])
def test_preset_counts_match_real_model_and_thop(preset, imgsz):
    spec, _ = parse_file(preset_path(preset))
    graph = resolve(spec, imgsz)
    c = count(graph)
    model = build(graph)
    assert c.params == sum(p.numel() for p in model.parameters())
    x = image(size=imgsz)
    macs = layer_macs(model, x)
    assert sum(macs) == sum(layer_macs(DetectionModel(graph, device="meta"),
                                       torch.empty(1, 3, imgsz, imgsz, device="meta")))
    ops, _ = thop.profile(build(graph), inputs=(x,), verbose=False)
    assert sum(macs) == pytest.approx(ops, rel=1e-9)
    assert c.gflops == pytest.approx(2 * ops / 1e9, rel=1e-9)
    if preset == "yolov5-mobilenetv3-small":  # SE layers: the stride shortcut overstates
        assert c.gflops_stride > c.gflops
    else:
        assert c.gflops_stride == pytest.approx(c.gflops, rel=1e-9)


# ---------------------------------------------------------------- both heads at 640

@pytest.mark.parametrize("preset,shape", [("yolov5n", (1, 25200, 85)), ("yolov8n", (1, 84, 8400))])
def test_detect_head_output_at_640(preset, shape):
    spec, _ = parse_file(preset_path(preset))
    graph = resolve(spec, 640)
    assert graph.strides == [8, 16, 32]
    model = build(graph).eval()
    with torch.no_grad():
        y = model(torch.rand(1, 3, 640, 640))
    assert tuple(y.shape) == shape
    assert torch.isfinite(y).all()
    if preset == "yolov8n":
        assert ((y[:, 4:] >= 0) & (y[:, 4:] <= 1)).all()  # class scores are sigmoids
    else:
        assert ((y[..., 4:] >= 0) & (y[..., 4:] <= 1)).all()  # objectness and classes
