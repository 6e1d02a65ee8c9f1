"""Receptive fields (graph/receptive.py): hand-made graphs with known figures (a chain, dilation, a
concat of two branches, an upsample, stacked and inside repeats), the presets' P3 < P4 < P5, and every
registered block's `reach` fact against the support of a gradient through a real instance."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import blocks
from graph.model import make_layer
from graph.receptive import IMAGE, head_inputs, receptive_fields, through
from graph.resolve import resolve
from graph.spec import parse, parse_file
from graph.templates import preset_path, presets


def graph_of(body: str, taps: str):
    text = f"""nc: 2
depth_multiple: 1.0
width_multiple: 1.0
backbone:
{body}
head:
  - [{taps}, 1, Detect, [nc]]
"""
    return resolve(parse(text)[0], 640)


# a 3x3 stride-2 stem, three 3x3 stride-1 convs, then stride-2 convs down to P5
CHAIN = """  - [-1, 1, Conv, [16, 3, 2]]    # 0: rf 3, jump 2
  - [-1, 1, Conv, [16, 3, 1]]    # 1: 3 + 2*2 = 7
  - [-1, 1, Conv, [16, 3, 1]]    # 2: 11
  - [-1, 1, Conv, [16, 3, 1]]    # 3: 15
  - [-1, 1, Conv, [32, 3, 2]]    # 4: 15 + 2*2 = 19, jump 4
  - [-1, 1, Conv, [32, 3, 2]]    # 5: 19 + 2*4 = 27, jump 8 (P3)
  - [-1, 1, Conv, [32, 3, 2]]    # 6: 27 + 2*8 = 43, jump 16 (P4)
  - [-1, 1, Conv, [32, 3, 2]]    # 7: 43 + 2*16 = 75, jump 32 (P5)"""


def test_a_chain_of_convs_after_a_stride_2_stem():
    graph = graph_of(CHAIN, "[5, 6, 7]")
    fields = receptive_fields(graph)
    assert [fields[i].rf for i in range(8)] == [3, 7, 11, 15, 19, 27, 43, 75]
    assert [fields[i].jump for i in range(8)] == [2, 2, 2, 2, 4, 8, 16, 32]
    assert graph.head.index not in fields
    got = [(h.tap, h.layer, h.stride, h.field.rf) for h in head_inputs(graph)]
    assert got == [("P3", 5, 8, 27), ("P4", 6, 16, 43), ("P5", 7, 32, 75)]
    assert head_inputs(graph)[0].line(640) == "P3 (layer 5): RF 27 px, stride 8"


def test_dilation_widens_the_window():
    body = CHAIN.replace("[16, 3, 1]]    # 1", "[16, 3, 1, None, 1, 2]]    # 1")  # d=2: a 5-wide window
    fields = receptive_fields(graph_of(body, "[5, 6, 7]"))
    assert fields[1].rf == 3 + 4 * 2 and fields[3].rf == 19


def test_a_concat_takes_the_wider_branch_and_an_upsample_keeps_the_field():
    body = """  - [-1, 1, Conv, [16, 3, 2]]    # 0: rf 3, jump 2
  - [-1, 1, Conv, [16, 5, 1]]    # 1: 3 + 4*2 = 11
  - [0, 1, Conv, [16, 1, 1]]     # 2: 3
  - [[2, 1], 1, Concat, [1]]     # 3: max(3, 11) = 11 (not the first input's)
  - [-1, 1, Conv, [32, 3, 2]]    # 4: 11 + 2*2 = 15, jump 4
  - [-1, 1, Conv, [32, 3, 2]]    # 5: 15 + 2*4 = 23, jump 8
  - [-1, 1, nn.Upsample, [None, 2, 'nearest']]   # 6: 23, jump 4
  - [-1, 1, Conv, [32, 3, 1]]    # 7: 23 + 2*4 = 31
  - [-1, 1, Conv, [32, 3, 2]]    # 8: 31 + 2*4 = 39, jump 8 (P3)
  - [-1, 1, Conv, [32, 3, 2]]    # 9: 39 + 2*8 = 55 (P4)
  - [-1, 1, Conv, [32, 3, 2]]    # 10: 55 + 2*16 = 87 (P5)"""
    fields = receptive_fields(graph_of(body, "[8, 9, 10]"))
    assert [fields[i].rf for i in range(11)] == [3, 11, 3, 11, 15, 23, 23, 31, 39, 55, 87]
    assert fields[6].jump == 4 and fields[5].jump == 8


def test_repeats_stacked_and_inside():
    body = """  - [-1, 1, Conv, [16, 3, 2]]    # 0: rf 3, jump 2
  - [-1, 2, Conv, [16, 3, 2]]    # 1: two stacked copies: 3 + 2*2 = 7 (jump 4), 7 + 2*4 = 15 (jump 8)
  - [-1, 2, C3, [16]]            # 2: n=2 inside: two 1x1 + 3x3 Bottlenecks, reach 5: 15 + 4*8 = 47
  - [-1, 1, Conv, [32, 3, 2]]    # 3: 47 + 2*8 = 63 (P4)
  - [-1, 1, Conv, [32, 3, 2]]    # 4: 63 + 2*16 = 95 (P5)"""
    fields = receptive_fields(graph_of(body, "[2, 3, 4]"))
    assert [(fields[i].rf, fields[i].jump) for i in range(5)] == [(3, 2), (15, 8), (47, 8), (63, 16), (95, 32)]


def test_yolov8n_fields_grow_from_p3_to_p5():
    graph = resolve(parse_file(preset_path("yolov8n"))[0], 640)
    heads = head_inputs(graph)
    assert [(h.tap, h.layer, h.stride) for h in heads] == [("P3", 15, 8), ("P4", 18, 16), ("P5", 21, 32)]
    assert [h.field.rf for h in heads] == [879, 959, 1119]  # every map reads SPPF's output via the top-down path
    assert "wider than the 640 px image" in heads[0].line(640)


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_grows_p3_p4_p5_and_strides_match(name):
    graph = resolve(parse_file(preset_path(name))[0], 640)
    fields = receptive_fields(graph)
    rfs = [h.field.rf for h in head_inputs(graph, fields)]
    assert rfs == sorted(rfs) and len(set(rfs)) == len(rfs)
    assert all(fields[n.index].jump == n.stride for n in graph.layers if n is not graph.head)
    assert all(fields[n.index].rf >= fields[s].rf for n in graph.layers if n is not graph.head
               for s in n.sources if s >= 0)


# --- every block's fact against its module: the gradient of one output cell reaches exactly the
# input pixels in its receptive field, once max-pools are averages (a max routes to one pixel), conv
# weights positive, SE gates constant and attention local (their global mixing is left out on purpose).

STEM = [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]]


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def example_graph(name: str):
    import yaml
    rows = STEM + _lists(blocks.get_block(name).example)
    p3 = len(rows) - 1
    rows += [[-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]], [[p3, p3 + 1, p3 + 2], 1, "Detect", ["nc"]]]
    data = {"nc": 2, "depth_multiple": 1.0, "width_multiple": 1.0, "backbone": rows[:-1], "head": rows[-1:]}
    return resolve(parse(yaml.safe_dump(data, sort_keys=False))[0], 64)


@torch.no_grad()
def _measurable(m: nn.Module) -> nn.Module:
    for parent in list(m.modules()):
        for key, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, key, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                  ceil_mode=child.ceil_mode))
    g = torch.Generator().manual_seed(0)
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            fan_in = mod.weight[0].numel()
            mod.weight.copy_((torch.rand(mod.weight.shape, generator=g) * 0.5 + 0.5) / fan_in)
            if mod.bias is not None:
                mod.bias.zero_()
        elif isinstance(mod, nn.Linear):  # SE: a constant gate, no gradient through the global pool
            mod.weight.zero_()
            if mod.bias is not None:
                mod.bias.zero_()
        if getattr(mod, "attend_globally", False):  # attention: left out like SE (see BlockInfo.reach)
            mod.attend_globally = False
    return m.double().eval()


def measured_reach(node, size: int = 96) -> int:
    m = _measurable(make_layer(node))
    x = (torch.rand(1, node.c_in[0], size, size, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = m(x)
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    rows = x.grad[0].abs().sum(dim=(0, 2)).nonzero().flatten()
    assert 0 < rows.min() and rows.max() < size - 1, "the window reached the border: use a larger input"
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("name", [b.name for b in blocks.list_blocks() if b.channels != "head"])
def test_every_block_reach_fact_matches_its_module(name):
    graph = example_graph(name)
    checked = 0
    for node in graph.layers[len(STEM):]:
        if node.module != name or node.info.inputs != 1:
            continue
        want = through(node, [IMAGE]).rf  # the whole layer (stacked copies too) on a bare image
        assert measured_reach(node) == want, f"layer {node.index} {node.module} {node.args} n={node.n}"
        checked += 1
    if blocks.get_block(name).inputs == 1:
        assert checked, f"no single-input {name} layer in its example"
