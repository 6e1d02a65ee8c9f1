"""Issue 15's "Everywhere" without a browser: the pickers' options (name + short label) and their
source line, the quiet check of Classes / Image size and what a refused size leaves on the page, the
numbers panel's fixed cards, and the graph's colours drawn through theme properties (dark mode) with
its natural width given to the page (the narrow layout's readable minimum)."""
import re
import xml.etree.ElementTree as ET

import pytest

from app import design_tab as d
from app import handlers as h
from app import pickers
from app.styles import CSS
from app.views import summary_html
from graph.catalog import catalog
from graph.counts import count
from graph.render import render_svg
from graph.resolve import resolve
from graph.spec import parse_file
from graph.templates import preset_path

NS = "{http://www.w3.org/2000/svg}"


def skipped(x) -> bool:
    return isinstance(x, dict) and x.get("__type__") == "update" and len(x) == 1


@pytest.fixture
def state():
    _, text = h.preset_yaml("yolov5-mobilenetv3-small")
    first = h.evaluate(text, 640, "yolov5-mobilenetv3-small")
    return {"yaml": text, "counts": first["counts"], "name": first["name"], "nc": 80, "pins": []}


def test_picker_options_are_name_and_label_and_the_source_goes_under_the_picker():
    cat = catalog()
    for kind in ("presets", "backbones", "necks", "heads"):
        options = pickers.choices(cat[kind])
        assert [v for _, v in options] == [r["name"] for r in cat[kind]]
        for (text, name), row in zip(options, cat[kind]):
            assert text == f"{name} — {row['label']}" and len(text) <= 60, text
            assert "seed" not in text and "[" not in text
    assert pickers.about(cat["backbones"], "mobilenetv3-large") == \
        "Source: MobileNetV3 (Howard et al., ICCV 2019), from the YOLOv5 + MobileNetV3 article"
    assert pickers.about(cat["presets"], "yolov5n") == "Source: YOLOv5 v7.0"
    assert pickers.about(cat["presets"], None) == ""


@pytest.mark.parametrize("size, words", [
    (300, ["Image size 300 is not a multiple of 32", "try 320"]),
    (5000, ["Image size 5000 is out of range", "32 to 4096"]),
    (16, ["Image size 16 is out of range"]),
    (None, ["Image size: enter a whole number"]),
])
def test_a_bad_image_size_is_said_with_the_size_the_numbers_stay_at(size, words):
    note = pickers.numbers_note(80, size, {"imgsz": 416, "nc": 80})
    assert 'id="design-numbers-msg"' in note and 'class="yld-field-msg"' in note
    for w in [*words, "The numbers stay at 416 px."]:
        assert w in note


def test_bad_classes_are_said_and_good_numbers_say_nothing():
    note = pickers.numbers_note(0, 640, {"nc": 20})
    assert "Classes 0 is out of range" in note and "The design keeps 20 classes." in note
    assert "Classes 10001" in pickers.numbers_note(10001, 640, {})
    assert pickers.numbers_note(3, 4096, {}) == '<div id="design-numbers-msg" class="yld-field-ok"></div>'


def test_a_refused_size_keeps_the_numbers_and_says_so(state):
    taken = d.on_imgsz(320, state)
    assert "GFLOPs @320" in taken[0] and taken[-1]["imgsz"] == 320
    out = d.on_imgsz(300, taken[-1])
    assert "Numbers at 320 px: image size 300 was not taken" in out[0] and "GFLOPs @320" in out[0]
    assert all(skipped(x) for x in out[1:])  # graph, table, the yaml error line and the state stay
    assert 'id="stat-params" data-value="5235267"' in out[0]
    back = d.on_imgsz(640, taken[-1])
    assert "not taken" not in back[0] and back[-1]["imgsz"] == 640


def test_bad_classes_change_nothing(state):
    for k in (0, -3, 10001, None):
        assert all(skipped(x) for x in d.on_nc(k, 640, state)), k
    assert "3 classes" in d.on_nc(3, 640, state)[1]


def test_the_six_cards_keep_their_places_between_designs():
    def cards(name):
        graph = resolve(parse_file(preset_path(name))[0], 640)
        html = summary_html({"counts": count(graph).as_dict(), "name": name, "nc": 80, "dialect": "x",
                             "strides": graph.strides, "notes": []})
        main = html.split('<div class="yld-stats yld-stats-other">')[0]
        return re.findall(r'id="stat-([a-z-]+)"', main), html

    v8, _ = cards("yolov8n")
    mobile, html = cards("yolov5-mobilenetv3-small")
    assert v8 == mobile == ["params", "gflops", "fused-params", "fused-gflops", "layers", "size"]
    other = html.split('<div class="yld-stats yld-stats-other">')[1]
    assert 'id="stat-gflops-yolo"' in other  # the other convention, in its own row under the six
    assert html.count('<div class="yld-pair">') == 4


def test_the_graph_draws_theme_colours_through_css_properties():
    graph = resolve(parse_file(preset_path("yolov8n-ghostnet"))[0], 640)
    svg = render_svg(graph, count(graph))
    root = ET.fromstring(svg)
    width = root.get("width")
    assert f"--yld-w:{width}px" in root.get("style")  # the page keeps the fit >= 0.9 of it
    style = root.find(f"{NS}style").text
    for prop in ("--yld-text", "--yld-text-2", "--yld-muted", "--yld-edge", "--yld-outline", "--yld-backbone"):
        assert f"var({prop}," in style
    for g in root.iter(f"{NS}g"):
        if "node" in (g.get("class") or "").split():
            texts = list(g.iter(f"{NS}text"))
            assert {t.get("class") for t in texts[:2]} == {"tx", "tx2"}  # the node's two lines
    titles = [t for t in root.iter(f"{NS}text") if (t.get("class") or "").startswith("title-")]
    assert [t.text for t in titles] == ["Backbone", "Neck", "Head"]
    # the page defines those properties for both themes
    assert ".dark .gradio-container {" in CSS and "--yld-text: #f1f5f9" in CSS
    assert "min-width: calc(var(--yld-w, 0px) * 0.9)" in CSS
    assert "@container" not in CSS and ":is(" not in CSS  # Gradio re-scopes rules one selector list at a time
