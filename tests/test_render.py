"""The graph picture (graph/render.py) and its page component (app/graph_view.py): the legend, every
node's hover card and keyboard focus, the Detect card's receptive fields, `mark_selected`, and every
preset drawn as valid XML with no two nodes on top of each other."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import gradio as gr
import pytest

from app.graph_view import JS, TEMPLATE, graph_component
from graph.counts import count
from graph.render import mark_selected, render_svg
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path, presets

NS = {"s": "http://www.w3.org/2000/svg"}


def drawn(name: str, imgsz: int = 640):
    graph = resolve(parse_file(preset_path(name))[0], imgsz)
    return graph, render_svg(graph, count(graph))


def nodes_of(svg: str) -> list[ET.Element]:
    return [g for g in ET.fromstring(svg).iter(f"{{{NS['s']}}}g") if "node" in g.get("class", "").split()]


def selected(svg: str) -> list[int]:
    return [int(g.get("data-index")) for g in nodes_of(svg) if "selected" in g.get("class").split()]


@pytest.fixture(scope="module")
def v8n():
    return drawn("yolov8n")


def test_the_legend_explains_shading_bar_edges_and_badges(v8n):
    _, svg = v8n
    legend = ET.fromstring(svg).find(".//s:g[@class='legend']", NS)
    text = " ".join(t.text for t in legend.iter(f"{{{NS['s']}}}text"))
    for words in ("share of the model's FLOPs", "exact FLOP share", "data flow", "skip within the column",
                  "map the head reads", "backbone map the neck reads"):
        assert words in text
    dashes = [p for p in legend.iter(f"{{{NS['s']}}}path") if p.get("stroke-dasharray")]
    badges = {r.get("fill") for r in legend.iter(f"{{{NS['s']}}}rect")}
    assert len(dashes) == 1 and {"#f59e0b", "#cbd5e1"} <= badges


def test_every_node_has_a_card_and_takes_focus_instead_of_a_title(v8n):
    graph, svg = v8n
    assert "<title>" not in svg
    nodes = nodes_of(svg)
    assert [int(g.get("data-index")) for g in nodes] == [n.index for n in graph.layers]
    for g, node in zip(nodes, graph.layers):
        assert g.get("tabindex") == "0" and g.get("role") == "button"
        assert g.get("aria-label").startswith(f"layer {node.index} {node.module}")
        assert g.get("data-module") == node.module
        lines = g.get("data-card").split("\n")  # newlines survive the attribute
        assert lines[0].startswith(f"{node.index} {node.module}") and len(lines) >= 7
        assert any(line.startswith("params: ") for line in lines) and any("GFLOPs: " in line for line in lines)
    sppf = nodes[9].get("data-card").split("\n")
    assert "output: 256×20×20, stride 32" in sppf and "receptive field: 783 px" in sppf


def test_the_detect_card_gives_the_receptive_field_of_each_input(v8n):
    _, svg = v8n
    card = nodes_of(svg)[-1].get("data-card").split("\n")
    assert card[0] == "22 Detect · head" and "reads: 15, 18, 21" in card
    assert "P3 (layer 15): RF 879 px, stride 8, wider than the 640 px image" in card
    assert "P4 (layer 18): RF 959 px, stride 16, wider than the 640 px image" in card
    assert "P5 (layer 21): RF 1,119 px, stride 32, wider than the 640 px image" in card
    # a smaller image: the same fields, measured against it
    _, big = drawn("yolov5-shufflenetv2", 1280)
    assert "P3 (layer 14): RF 447 px, stride 8" in nodes_of(big)[-1].get("data-card").split("\n")


def test_mark_selected_marks_one_node_and_moves_the_selection(v8n):
    _, svg = v8n
    assert selected(svg) == []
    one = mark_selected(svg, 5)
    assert selected(one) == [5] and one.count("selected") == 1 + svg.count("selected")
    moved = mark_selected(one, 12)
    assert selected(moved) == [12]
    assert mark_selected(moved, 12) == moved  # idempotent
    assert selected(mark_selected(moved, None)) == [] and mark_selected(moved, None) == svg
    assert selected(mark_selected(moved, 99)) == []  # no such layer: nothing selected
    assert selected(mark_selected(svg, 1)) == [1]  # 1 is not taken for 10..19
    assert ".node.selected .body{stroke:#d97706;stroke-width:3.5}" in svg  # drawn by the SVG's own style


@pytest.mark.parametrize("name", list(presets()))
def test_every_preset_draws_valid_xml_with_nodes_apart(name):
    graph, svg = drawn(name)
    root = ET.fromstring(svg)
    _, _, width, height = map(float, root.get("viewBox").split())
    boxes = []
    for g in nodes_of(svg):
        body = g.find("s:rect[@class='body']", NS)
        x, y, w, h = (float(body.get(k)) for k in ("x", "y", "width", "height"))
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
        boxes.append((x, y, w, h))
    assert len(boxes) == len(graph.layers)
    for i, (x, y, w, h) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x + w <= x2 or x2 + w2 <= x or y + h <= y2 or y2 + h2 <= y, f"{name}: nodes overlap"
    legend = root.find(".//s:g[@class='legend']", NS)
    for item in legend:
        left = float(re.match(r"translate\(([\d.]+)", item.get("transform")).group(1))
        assert left < width - 60, f"{name}: a legend entry starts past the right edge"
    top_node = min(y for _, y, _, _ in boxes)
    legend_bottom = max(float(re.search(r",([\d.]+)\)", i.get("transform")).group(1)) for i in legend)
    assert legend_bottom < top_node  # the legend sits above the columns


def test_the_largest_preset_stays_readable():
    graph, svg = drawn("yolov5-mobilenetv3-large")
    root = ET.fromstring(svg)
    assert len(graph.layers) >= 31 and root.get("width") == "932"  # three columns at their natural size
    assert float(root.get("height")) < 1000
    # a name fits in its node (about 7 px a character at 12 px bold, the index and repeats beside it)
    for g in nodes_of(svg):
        label = f"{g.get('data-index')} {g.get('data-module')} ×9"
        assert len(label) * 7 < 210 - 16 - 34, label  # badge at the top right


def test_graph_component_is_an_html_with_click_hover_and_zoom_script(v8n):
    _, svg = v8n
    with gr.Blocks():
        comp = graph_component(svg)
        other = graph_component(svg, elem_id="graph-2", visible=False)
    assert isinstance(comp, gr.HTML) and comp.elem_id == "graph" and other.elem_id == "graph-2"
    assert comp.value == svg and comp.js_on_load == JS and comp.html_template == TEMPLATE
    assert "`" not in TEMPLATE  # Gradio evaluates it as a JS template literal
    # the script draws the SVG into the canvas (Gradio's morph of the template never walks its nodes)
    assert "${value}" not in TEMPLATE and "c.innerHTML = props.value" in JS and "watch('value'" in JS
    assert "trigger('click', {index: parseInt(n.dataset.index, 10)})" in JS
    for hook in ("'mouseover'", "'focusin'", "'keydown'", "'wheel'", "watch('value'", "dataset.card"):
        assert hook in JS
    for zoom in ('data-zoom="in"', 'data-zoom="out"', 'data-zoom="fit"', 'class="yld-graph-card"'):
        assert zoom in TEMPLATE


def test_a_measured_design_gets_a_time_bar_per_node_sized_by_its_share(v8n):
    graph, plain = v8n
    assert 'class="time"' not in plain and "measured time" not in plain  # not measured: no time bar
    ms = {node.index: 1.0 for node in graph.layers}
    ms[graph.head.index] = 10.0  # the head took a third of the time
    svg = render_svg(graph, count(graph), ms)
    total = sum(ms.values())
    legend = ET.fromstring(svg).find(".//s:g[@class='legend']", NS)
    assert "share of the measured time" in " ".join(t.text for t in legend.iter(f"{{{NS['s']}}}text"))
    for g in nodes_of(svg):
        index = int(g.get("data-index"))
        bars = [r for r in g.iter(f"{{{NS['s']}}}rect") if r.get("class") == "time"]
        assert len(bars) == 1
        width = float(bars[0].get("width"))
        assert width == pytest.approx(max(1.0, 208 * ms[index] / total), abs=0.06)
        assert f"measured: {ms[index]:.2f} ms ({ms[index] / total:.1%} of the time)" in g.get("data-card")
